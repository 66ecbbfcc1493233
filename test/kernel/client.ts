/**
 * A Jupyter client over real ZeroMQ sockets for the kernel tests: writes a connection file,
 * spawns `kernel/main.js`, talks on shell / control / stdin / iopub / hb, signs what it sends,
 * verifies what it receives, and validates every received message against the spec schemas
 * (violations collect in `violations`; tests assert it stays empty).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { Codec } from '../../kernel/wire/codec.js';
import { Session, type Message } from '../../kernel/wire/message.js';
import { validate, validateDeep } from './schema.js';

export const KERNEL_MAIN = join(__dirname, '..', '..', 'kernel', 'main.js');

export interface StartOptions {
  transport?: 'tcp' | 'ipc';
  key?: string;
  scheme?: string;
  /** Jupyter data dir (history); a fresh temp dir by default. */
  dataDir?: string;
  /** The kernel's working directory (the notebook's folder): the repository by default. */
  cwd?: string;
  /** Another kernel's command line, `{connection_file}` standing for the file (benchmarks). */
  argv?: string[];
  /**
   * Benchmarks: no schema validation and nothing kept after an exchange completes, so the client's
   * own work and garbage stay out of the round trips it times.
   */
  lean?: boolean;
}

export interface Exchange {
  reply: Message;
  /** iopub messages with this request as parent, up to and including status idle. */
  iopub: Message[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

type Channel = 'shell' | 'control' | 'stdin';

export class TestClient {
  readonly session = new Session(randomUUID(), 'test');
  readonly violations: string[] = [];
  readonly received: Message[] = [];
  readonly codec: Codec;
  readonly sockets: { shell: zmq.Dealer; control: zmq.Dealer; stdin: zmq.Dealer; iopub: zmq.Subscriber; hb: zmq.Request };
  private readonly waiters: { match(m: Message, ch: string): boolean; resolve(m: Message): void }[] = [];
  private readonly byParent = new Map<string, Message[]>();
  exited: Promise<number | null>;
  stderr = '';
  /** Milliseconds from spawn to the first status idle seen (the kernel answering kernel_info). */
  startMs = 0;
  private readyAt = 0;

  private constructor(readonly proc: ChildProcess, readonly connection: Record<string, unknown>, readonly dataDir: string,
    private readonly lean: boolean) {
    this.codec = new Codec(String(connection.key), String(connection.signature_scheme));
    this.sockets = {
      // shell and stdin share one routing id, as jupyter_client sets it, so input_request finds us.
      shell: new zmq.Dealer({ linger: 0, routingId: this.session.id }), control: new zmq.Dealer({ linger: 0 }),
      stdin: new zmq.Dealer({ linger: 0, routingId: this.session.id }),
      iopub: new zmq.Subscriber({ linger: 0 }), hb: new zmq.Request({ linger: 0, receiveTimeout: 2000 }),
    };
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.stderr?.on('data', (d) => (this.stderr += d));
  }

  static async start(opts: StartOptions = {}): Promise<TestClient> {
    const dir = mkdtempSync(join(tmpdir(), 'qlora-ts-kernel-'));
    const transport = opts.transport ?? 'tcp';
    const ports = transport === 'tcp' ? await Promise.all([0, 1, 2, 3, 4].map(freePort)) : [1, 2, 3, 4, 5];
    const connection = {
      transport, ip: transport === 'tcp' ? '127.0.0.1' : join(dir, 'kernel'),
      shell_port: ports[0], control_port: ports[1], stdin_port: ports[2], iopub_port: ports[3], hb_port: ports[4],
      key: opts.key ?? randomUUID(), signature_scheme: opts.scheme ?? 'hmac-sha256', kernel_name: 'qlora-ts',
    };
    const file = join(dir, 'kernel.json');
    writeFileSync(file, JSON.stringify(connection));
    const dataDir = opts.dataDir ?? join(dir, 'data');
    const argv = (opts.argv ?? [process.execPath, KERNEL_MAIN, '{connection_file}']).map((a) => a === '{connection_file}' ? file : a);
    const spawnedAt = performance.now();
    const proc = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd ?? process.cwd(), env: { ...process.env, JUPYTER_DATA_DIR: dataDir, JPY_PARENT_PID: String(process.pid) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const client = new TestClient(proc, connection, dataDir, opts.lean ?? false);
    await client.connect();
    client.startMs = client.readyAt - spawnedAt;
    return client;
  }

  endpoint(channel: string): string {
    const c = this.connection;
    const port = c[`${channel}_port`];
    return c.transport === 'tcp' ? `tcp://${c.ip}:${port}` : `ipc://${c.ip}-${port}`;
  }

  private async connect(): Promise<void> {
    const s = this.sockets;
    for (const ch of ['shell', 'control', 'stdin', 'iopub', 'hb'] as const) s[ch].connect(this.endpoint(ch));
    s.iopub.subscribe();
    for (const ch of ['shell', 'control', 'stdin', 'iopub'] as const) void this.receive(ch, s[ch]);
    // Like jupyter_client's wait_for_ready: kernel_info until one is answered with its iopub idle seen.
    // Any idle answers: an earlier kernel_info may be the one answered once iopub is connected.
    const ids = new Set<string>();
    const ready = this.waitFor((m, ch) => ch === 'iopub' && ids.has(String(m.parent_header.msg_id)) &&
      m.header.msg_type === 'status' && m.content.execution_state === 'idle', 60_000).then((m) => {
      this.readyAt = performance.now();
      return m;
    }, () => undefined);
    let done = false;
    void ready.then(() => { done = true; });
    for (let i = 0; i < 3000 && !done && this.proc.exitCode === null; i++) {
      const msg = this.session.make('kernel_info_request', {});
      ids.add(msg.header.msg_id);
      await this.sendRaw('shell', msg);
      await Promise.race([ready, new Promise((r) => setTimeout(r, 20))]);
    }
    if (await ready) return;
    throw new Error(`kernel did not become ready; stderr: ${this.stderr}`);
  }

  private async receive(channel: string, socket: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = this.codec.decode(frames);
        if (!msg) {
          this.violations.push(`${channel}: a message failed signature or parsing`);
          continue;
        }
        if (!this.lean) {
          this.received.push(msg);
          for (const v of [...validate(msg), ...validateDeep(msg)]) this.violations.push(`${channel}: ${v}`);
        }
        const parent = msg.parent_header.msg_id;
        if (channel === 'iopub' && parent) {
          const list = this.byParent.get(parent) ?? [];
          list.push(msg);
          this.byParent.set(parent, list);
        }
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          if (this.waiters[i].match(msg, channel)) this.waiters.splice(i, 1)[0].resolve(msg);
        }
      }
    } catch { /* closed */ }
  }

  /** Resolves with the first message (from now on) that matches; rejects after `timeoutMs`. */
  waitFor(match: (m: Message, channel: string) => boolean, timeoutMs = 30_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: Message) => { clearTimeout(timer); resolve(m); },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error('timed out waiting for a message'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  sendRaw(channel: Channel, msg: Message<unknown>): Promise<void> {
    return this.sockets[channel].send(this.codec.encode(msg));
  }

  /** Sends a request; resolves with its reply and the iopub messages up to its idle. */
  async request(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Exchange> {
    const msg = this.session.make(msgType, content);
    const pending = this.expect(msg, channel, timeoutMs);
    await this.sendRaw(channel, msg);
    return pending;
  }

  /** Sends a message that gets no reply (comm_*); resolves with its iopub messages up to idle. */
  async notify(msgType: string, content: Record<string, unknown>): Promise<Message[]> {
    const msg = this.session.make(msgType, content);
    const idle = this.idle(msg.header.msg_id);
    await this.sendRaw('shell', msg);
    await idle;
    return this.byParent.get(msg.header.msg_id) ?? [];
  }

  /** The reply and idle of a request already sent (or about to be sent) as `msg`. */
  async expect(msg: Message<unknown>, channel: 'shell' | 'control', timeoutMs = 30_000): Promise<Exchange> {
    const id = msg.header.msg_id;
    const [reply] = await Promise.all([
      this.waitFor((m, ch) => ch === channel && m.parent_header.msg_id === id, timeoutMs),
      this.idle(id, timeoutMs),
    ]);
    const iopub = this.byParent.get(id) ?? [];
    if (this.lean) this.byParent.delete(id);
    return { reply, iopub };
  }

  idle(parentId: string, timeoutMs = 30_000): Promise<Message> {
    const seen = (this.byParent.get(parentId) ?? []).find((m) => m.header.msg_type === 'status' && m.content.execution_state === 'idle');
    if (seen) return Promise.resolve(seen);
    return this.waitFor((m, ch) => ch === 'iopub' && m.parent_header.msg_id === parentId &&
      m.header.msg_type === 'status' && m.content.execution_state === 'idle', timeoutMs);
  }

  execute(code: string, extra: Record<string, unknown> = {}, timeoutMs?: number): Promise<Exchange> {
    return this.request('shell', 'execute_request',
      { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra }, timeoutMs);
  }

  /** One heartbeat ping: resolves with the echoed bytes. */
  async ping(payload = 'ping'): Promise<string> {
    await this.sockets.hb.send(payload);
    const [echo] = await this.sockets.hb.receive();
    return echo.toString();
  }

  async close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const msg = this.session.make('shutdown_request', { restart: false });
      await this.sendRaw('control', msg).catch(() => {});
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(timer);
    }
    for (const s of Object.values(this.sockets)) s.close();
  }
}

/** Outputs of an exchange by msg_type, without status messages. */
export function outputs(ex: Exchange): Message[] {
  return ex.iopub.filter((m) => m.header.msg_type !== 'status');
}

export function streamText(ex: Exchange, name = 'stdout'): string {
  return ex.iopub.filter((m) => m.header.msg_type === 'stream' && m.content.name === name).map((m) => String(m.content.text)).join('');
}
