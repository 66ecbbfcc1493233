/**
 * The kernel under Debian's real Jupyter tools: the kernelspec installed into a temp prefix is
 * listed by jupyter_client's kernelspec app; nbclient executes a TypeScript notebook; a
 * BlockingKernelClient executes, completes and interrupts; `jupyter console` runs cells typed on
 * its stdin; a Jupyter Server starts the kernel over REST and executes over its websocket.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const PYTHON = '/usr/bin/python3';
const INSTALL = join(__dirname, '..', '..', 'kernelspec', 'install.js');
const SRC = join(process.cwd(), 'test', 'kernel', 'clients');
const NAME = 'qlora-ts-test';
const prefix = mkdtempSync(join(tmpdir(), 'qlora-ts-prefix-'));
const env = {
  ...process.env, JUPYTER_PATH: join(prefix, 'share', 'jupyter'), JUPYTER_DATA_DIR: join(prefix, 'data'),
  JUPYTER_CONFIG_DIR: join(prefix, 'config'), JUPYTER_RUNTIME_DIR: join(prefix, 'runtime'), PYDEVD_DISABLE_FILE_VALIDATION: '1',
};

const install = (...args: string[]) => execFileSync(process.execPath, [INSTALL, ...args], { env, encoding: 'utf8' });
const kernelspecs = () => JSON.parse(execFileSync(PYTHON, ['-Xfrozen_modules=off', '-m', 'jupyter_client.kernelspecapp', 'list', '--json'],
  { env, encoding: 'utf8' })).kernelspecs as Record<string, { resource_dir: string; spec: Record<string, unknown> }>;

before(() => { install('install', '--prefix', prefix, '--name', NAME); });
after(() => { install('uninstall', '--prefix', prefix, '--name', NAME); });

describe('Debian Jupyter clients', () => {
  it('jupyter_client lists the kernelspec; re-install replaces it; logos are real PNGs', () => {
    let spec = kernelspecs()[NAME];
    assert.ok(spec, 'kernelspec not listed');
    assert.equal(spec.spec.display_name, 'TypeScript (qlora-ts)');
    assert.equal(spec.spec.language, 'typescript');
    assert.equal(spec.spec.interrupt_mode, 'message');
    const argv = spec.spec.argv as string[];
    assert.deepEqual([argv[0], argv[2]], [process.execPath, '{connection_file}']);
    assert.ok(existsSync(argv[1]) && argv[1].endsWith(join('kernel', 'main.js')));
    for (const size of [32, 64]) {
      const png = readFileSync(join(spec.resource_dir, `logo-${size}x${size}.png`));
      assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [size, size]);
    }
    install('install', '--prefix', prefix, '--name', NAME, '--display-name', 'TS renamed');
    spec = kernelspecs()[NAME];
    assert.equal(spec.spec.display_name, 'TS renamed');
    install('uninstall', '--prefix', prefix, '--name', NAME);
    assert.equal(kernelspecs()[NAME], undefined);
    install('install', '--prefix', prefix, '--name', NAME);
  });

  it('nbclient executes a TypeScript notebook: streams, awaited results and displays land in their cells', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qlora-ts-nb-'));
    const cell = (source: string) => ({ cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source });
    const nb = {
      nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: NAME, display_name: 'TS', language: 'typescript' } },
      cells: [
        cell('interface Point { x: number; y: number }\nconst p: Point = { x: 3, y: 4 };\nconsole.log("norm", Math.hypot(p.x, p.y));'),
        cell('await new Promise((r) => setTimeout(r, 10));\np.x * p.y'),
        cell("html('<b>bold</b>');\n'done'"),
      ].map((c, i) => ({ ...c, id: `c${i}` })),
    };
    writeFileSync(join(dir, 'in.ipynb'), JSON.stringify(nb));
    execFileSync(PYTHON, [join(SRC, 'run_notebook.py'), join(dir, 'in.ipynb'), join(dir, 'out.ipynb'), NAME], { env, encoding: 'utf8', timeout: 150_000 });
    const out = JSON.parse(readFileSync(join(dir, 'out.ipynb'), 'utf8')) as { cells: { execution_count: number; outputs: Record<string, unknown>[] }[] };
    const [c0, c1, c2] = out.cells;
    const text = (t: unknown) => Array.isArray(t) ? t.join('') : t; // nbformat stores multi-line text as a list
    assert.deepEqual(c0.outputs.map((o) => [o.output_type, o.name, text(o.text)]), [['stream', 'stdout', 'norm 5\n']]);
    assert.equal(c1.outputs[0].output_type, 'execute_result');
    assert.equal(text((c1.outputs[0].data as Record<string, unknown>)['text/plain']), '12');
    assert.equal(c2.outputs[0].output_type, 'display_data');
    assert.equal(text((c2.outputs[0].data as Record<string, unknown>)['text/html']), '<b>bold</b>');
    assert.deepEqual([c0.execution_count, c1.execution_count, c2.execution_count], [1, 2, 3]);
  });

  it('BlockingKernelClient executes, completes and interrupts by message', () => {
    const flag = join(mkdtempSync(join(tmpdir(), 'qlora-ts-flag-')), 'running');
    const raw = execFileSync(PYTHON, [join(SRC, 'drive.py'), NAME, flag], { env, encoding: 'utf8', timeout: 200_000 });
    const r = JSON.parse(raw.trim().split('\n').at(-1)!);
    assert.deepEqual(r.execute, { status: 'ok', stdout: 'hello from TS\n' });
    assert.ok((r.complete as string[]).includes('answer'));
    assert.deepEqual(r.interrupted, { status: 'error', ename: 'KeyboardInterrupt' });
    assert.equal(r.after.status, 'ok');
    assert.deepEqual(r.after.data, [{ 'text/plain': '41' }]);
    assert.equal(r.interrupt_mode, 'message');
  });

  it('jupyter console runs cells typed on stdin: streams, Out[n] values and type errors', () => {
    // --simple-prompt reads one line per cell (no multi-line input in that mode).
    const cells = [
      'const greeting: string = "hi from console";',
      'console.log(greeting.toUpperCase());',
      'function square(x: number): number { return x * x; }',
      'square(7)',
      'const wrong: number = "text";',
    ];
    const r = spawnSync(PYTHON, ['-Xfrozen_modules=off', '-m', 'jupyter_console', '--kernel', NAME, '--simple-prompt'],
      { env, input: cells.join('\n') + '\n', encoding: 'utf8', timeout: 150_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^In \[2\]: HI FROM CONSOLE$/m);
    assert.match(r.stdout, /^In \[4\]: Out\[4\]: 49$/m);
    assert.match(r.stdout, /Shutting down kernel/);
    // Error outputs go to the console's stderr.
    assert.match(r.stderr, /^In\[5\]:1:7 - error TS2322: Type 'string' is not assignable to type 'number'\.$/m);
  });

  it('a Jupyter Server starts the kernel over REST and executes a cell over its websocket', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const token = randomUUID();
    const root = mkdtempSync(join(tmpdir(), 'qlora-ts-server-'));
    const server = spawn(PYTHON, ['-Xfrozen_modules=off', '-m', 'jupyter_server', '--no-browser', '--ServerApp.allow_root=True',
      '--ServerApp.ip=127.0.0.1', `--ServerApp.port=${port}`, '--ServerApp.port_retries=0', `--ServerApp.token=${token}`,
      `--ServerApp.root_dir=${root}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    server.stderr.on('data', (d) => (log += d));
    const base = `http://127.0.0.1:${port}`;
    const api = async (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' } });
    try {
      for (let i = 0; ; i++) {
        const up = await api('/api/status').then((r) => r.ok, () => false);
        if (up) break;
        assert.ok(i < 300 && server.exitCode === null, `jupyter_server did not come up: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const specs = await (await api('/api/kernelspecs')).json() as { kernelspecs: Record<string, { spec: { language: string } }> };
      assert.equal(specs.kernelspecs[NAME]?.spec.language, 'typescript');
      const created = await api('/api/kernels', { method: 'POST', body: JSON.stringify({ name: NAME }) });
      assert.equal(created.status, 201);
      const { id } = await created.json() as { id: string };
      const code = "const items: number[] = [1, 2, 3];\nconsole.log('sum', items.reduce((a, b) => a + b, 0));\nitems.length * 10";
      const { stdout } = await promisify(execFile)(PYTHON, [join(SRC, 'server_ws.py'), base, token, id, code], { env, timeout: 150_000 });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
      assert.equal(r.status, 'ok');
      assert.equal(r.stdout, 'sum 6\n');
      assert.deepEqual(r.result, { 'text/plain': '30' });
      assert.deepEqual(r.iopub, ['status', 'execute_input', 'stream', 'execute_result', 'status']);
      assert.equal((await api(`/api/kernels/${id}`, { method: 'DELETE' })).status, 204);
      assert.deepEqual(await (await api('/api/kernels')).json(), []);
    } finally {
      server.kill();
    }
  });
});
