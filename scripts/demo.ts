/**
 * The main job: executes notebooks/walkthrough.ipynb through the qlora-ts kernel headlessly
 * (Debian's nbclient drives it), then writes the executed notebook, an HTML report and the
 * figures' PNGs into an output folder, printing progress and each stage's time.
 *
 *   node dist/scripts/demo.js [--short] [--out DIR] [--notebook PATH]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../lib/package_root';

const root = packageRoot();

function parseArgs(argv: string[]): { short: boolean; out: string; notebook: string } {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const opts = { short: false, out: path.join(root, 'out', `demo-${stamp}`), notebook: path.join(root, 'notebooks', 'walkthrough.ipynb') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--short') opts.short = true;
    else if (a === '--out') opts.out = path.resolve(argv[++i] ?? '');
    else if (a === '--notebook') opts.notebook = path.resolve(argv[++i] ?? '');
    else {
      console.error(`demo: unknown argument '${a}'. Use --short, --out DIR or --notebook PATH.`);
      process.exit(2);
    }
  }
  return opts;
}

function run(stage: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = Date.now();
  console.log(`\n== ${stage}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, cwd: root });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(`demo: stage '${stage}' failed (exit ${r.status ?? r.signal}) after ${seconds.toFixed(1)} s`);
    process.exit(1);
  }
  console.log(`== ${stage}: ${seconds.toFixed(1)} s`);
  return seconds;
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  const jupyterPrefix = path.join(opts.out, '.jupyter');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: path.join(jupyterPrefix, 'share', 'jupyter'),
    QLORA_TS_OUTPUT_DIR: opts.out,
    QLORA_TS_SHORT: opts.short ? '1' : (process.env.QLORA_TS_SHORT ?? '0'),
  };
  const times: Array<[string, number]> = [];
  times.push(['install kernelspec', run('install kernelspec', process.execPath,
    [path.join(root, 'dist', 'kernelspec', 'install.js'), 'install', '--prefix', jupyterPrefix, '--name', 'qlora-ts'], env)]);
  const executed = path.join(opts.out, path.basename(opts.notebook));
  times.push(['execute notebook', run('execute notebook', '/usr/bin/python3',
    [path.join(root, 'scripts', 'notebook', 'run_notebook.py'), opts.notebook, executed, '--kernel', 'qlora-ts',
      '--cwd', path.dirname(opts.notebook)], env)]);
  times.push(['HTML report', run('HTML report', '/usr/bin/python3',
    ['-m', 'nbconvert', '--to', 'html', '--output-dir', opts.out, '--output', 'report', executed], env)]);

  const resultsFile = path.join(opts.out, 'results.json');
  if (fs.existsSync(resultsFile)) {
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as { rouge: Record<string, Record<string, number>>; rows: number; maxSteps: number };
    const base = results.rouge['ORIGINAL MODEL'], tuned = results.rouge['PEFT MODEL'];
    console.log(`\nROUGE on the first ${results.rows} test rows after ${results.maxSteps} training steps:`);
    for (const k of Object.keys(base)) {
      console.log(`  ${k.padEnd(10)} base ${base[k].toFixed(4)}  fine-tuned ${tuned[k].toFixed(4)}  ${((tuned[k] - base[k]) * 100 >= 0 ? '+' : '')}${((tuned[k] - base[k]) * 100).toFixed(1)} points`);
    }
  }
  const total = times.reduce((s, [, t]) => s + t, 0);
  console.log('\nstage                 seconds');
  for (const [name, t] of times) console.log(`${name.padEnd(22)}${t.toFixed(1).padStart(7)}`);
  console.log(`${'total'.padEnd(22)}${total.toFixed(1).padStart(7)}`);
  const files = fs.readdirSync(opts.out).filter((f) => !f.startsWith('.'));
  console.log(`\nOutput folder: ${opts.out}\n  ${files.join('\n  ')}`);
}

main();
