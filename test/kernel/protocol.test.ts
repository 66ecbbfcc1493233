/**
 * The messaging protocol end to end: one spawned kernel, driven over real ZeroMQ sockets, every
 * received message validated against its schema.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, outputs, type Exchange } from './client.js';

let k: TestClient;
before(async () => { k = await TestClient.start(); });
after(async () => {
  await k.close();
  assert.deepEqual(k.violations, []);
});

const types = (ex: Exchange) => outputs(ex).map((m) => m.header.msg_type);

/** busy first, idle last, every output in between: what nbclient relies on. */
function assertBracketed(ex: Exchange): void {
  const states = ex.iopub.filter((m) => m.header.msg_type === 'status').map((m) => m.content.execution_state);
  assert.deepEqual(states, ['busy', 'idle']);
  assert.equal(ex.iopub[0].content.execution_state, 'busy');
  assert.equal(ex.iopub.at(-1)!.content.execution_state, 'idle');
}

describe('kernel_info', () => {
  it('answers on shell and on control with protocol 5.3 and TypeScript language info', async () => {
    for (const channel of ['shell', 'control'] as const) {
      const ex = await k.request(channel, 'kernel_info_request');
      const c = ex.reply.content;
      assert.equal(ex.reply.header.msg_type, 'kernel_info_reply');
      assert.equal(c.protocol_version, '5.3');
      assert.equal((c.language_info as Record<string, unknown>).name, 'typescript');
      assert.equal((c.language_info as Record<string, unknown>).file_extension, '.ts');
      assert.ok((c.help_links as unknown[]).length > 0);
      assertBracketed(ex);
    }
  });
});

describe('execute', () => {
  it('publishes execute_input, streams in order and the result before idle', async () => {
    const ex = await k.execute("console.log('one'); console.error('two'); console.log('three'); 6 * 7");
    assert.equal(ex.reply.content.status, 'ok');
    const count = ex.reply.content.execution_count as number;
    assert.deepEqual(types(ex), ['execute_input', 'stream', 'stream', 'stream', 'execute_result']);
    assert.equal(outputs(ex)[0].content.execution_count, count);
    assert.deepEqual(outputs(ex).slice(1, 4).map((m) => [m.content.name, m.content.text]),
      [['stdout', 'one\n'], ['stderr', 'two\n'], ['stdout', 'three\n']]);
    const result = outputs(ex)[4].content;
    assert.equal(result.execution_count, count);
    assert.equal((result.data as Record<string, string>)['text/plain'], '42');
    assertBracketed(ex);
  });

  it('counts executions only when storing history; silent publishes nothing', async () => {
    const first = (await k.execute('1')).reply.content.execution_count as number;
    const noHistory = await k.execute('2', { store_history: false });
    assert.equal(noHistory.reply.content.execution_count, first);
    assert.deepEqual(types(noHistory), ['execute_input', 'execute_result']);
    const silent = await k.execute("console.log('hidden'); 3", { silent: true });
    assert.equal(silent.reply.content.status, 'ok');
    assert.equal(silent.reply.content.execution_count, first);
    assert.deepEqual(types(silent), []);
    assertBracketed(silent);
    assert.equal((await k.execute('4')).reply.content.execution_count, first + 1);
  });

  it('evaluates user_expressions after the cell', async () => {
    const ex = await k.execute('var ux = 20', { user_expressions: { a: 'ux + 1', b: 'nope.nope' } });
    const ue = ex.reply.content.user_expressions as Record<string, Record<string, unknown>>;
    assert.equal(ue.a.status, 'ok');
    assert.equal((ue.a.data as Record<string, string>)['text/plain'], '21');
    assert.equal(ue.b.status, 'error');
    assert.equal(ue.b.ename, 'ReferenceError');
  });

  it('reports errors on iopub and in the reply', async () => {
    const ex = await k.execute("throw new TypeError('bad value')");
    assert.equal(ex.reply.content.status, 'error');
    assert.equal(ex.reply.content.ename, 'TypeError');
    assert.equal(ex.reply.content.evalue, 'bad value');
    const err = outputs(ex).find((m) => m.header.msg_type === 'error')!;
    assert.equal(err.content.ename, 'TypeError');
    assertBracketed(ex);
  });

  it('aborts requests queued behind an error (stop_on_error), and not without it', async () => {
    const send = (code: string, stop = true) => {
      const msg = k.session.make('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: stop });
      const pending = k.expect(msg, 'shell');
      return { send: () => k.sendRaw('shell', msg), pending };
    };
    const a = send("throw new Error('stop')"), b = send('(globalThis as any).ranB = true'), c = send('1');
    await a.send(); await b.send(); await c.send();
    const [ra, rb, rc] = await Promise.all([a.pending, b.pending, c.pending]);
    assert.equal(ra.reply.content.status, 'error');
    assert.deepEqual([rb.reply.content.status, rc.reply.content.status], ['aborted', 'aborted']);
    assertBracketed(rb);
    const check = await k.execute('typeof (globalThis as any).ranB');
    assert.deepEqual(outputs(check)[1].content.data, { 'text/plain': "'undefined'" });

    const d = send("throw new Error('go on')", false), e = send('5');
    await d.send(); await e.send();
    const [rd, re] = await Promise.all([d.pending, e.pending]);
    assert.equal(rd.reply.content.status, 'error');
    assert.equal(re.reply.content.status, 'ok');
  });

  it('publishes displays, display updates and clears from the display sink, in order with streams', async () => {
    const ex = await k.execute([
      "const sink = (globalThis as any)[Symbol.for('Jupyter.displaySink')];",
      "console.log('before');",
      "sink.display({ 'text/plain': 'v1', 'text/html': '<b>v1</b>' }, { displayId: 'd1' });",
      "sink.display({ 'text/plain': 'v2' }, { displayId: 'd1', update: true });",
      'sink.clear(true);',
      "console.log('after', sink.signal instanceof AbortSignal);",
    ].join('\n'));
    assert.equal(ex.reply.content.status, 'ok');
    assert.deepEqual(types(ex), ['execute_input', 'stream', 'display_data', 'update_display_data', 'clear_output', 'stream']);
    const [, , shown, updated, cleared, last] = outputs(ex);
    assert.deepEqual(shown.content.transient, { display_id: 'd1' });
    assert.equal((shown.content.data as Record<string, string>)['text/html'], '<b>v1</b>');
    assert.deepEqual(updated.content, { data: { 'text/plain': 'v2' }, metadata: {}, transient: { display_id: 'd1' } });
    assert.deepEqual(cleared.content, { wait: true });
    assert.equal(last.content.text, 'after true\n');
    // user_expressions run after the cell, when the sink is gone again.
    const gone = await k.execute('1', { user_expressions: { sink: "typeof globalThis[Symbol.for('Jupyter.displaySink')]" } });
    assert.deepEqual(gone.reply.content.user_expressions, { sink: { status: 'ok', data: { 'text/plain': "'undefined'" }, metadata: {} } });
  });
});

describe('stdin', () => {
  it('asks the frontend with input_request and returns its input_reply (password too)', async () => {
    for (const password of [false, true]) {
      const msg = k.session.make('execute_request', {
        code: `await ${password ? 'password' : 'input'}('name? ')`, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true,
      });
      const request = k.waitFor((m, ch) => ch === 'stdin' && m.header.msg_type === 'input_request');
      const pending = k.expect(msg, 'shell');
      await k.sendRaw('shell', msg);
      const req = await request;
      assert.deepEqual(req.content, { prompt: 'name? ', password });
      assert.equal(req.parent_header.msg_id, msg.header.msg_id);
      await k.sendRaw('stdin', k.session.make('input_reply', { value: 'Ada' }, req, []));
      const ex = await pending;
      assert.equal((outputs(ex).find((m) => m.header.msg_type === 'execute_result')!.content.data as Record<string, string>)['text/plain'], "'Ada'");
    }
  });

  it('fails input() when the frontend does not allow stdin', async () => {
    const ex = await k.execute("await input('x')", { allow_stdin: false });
    assert.equal(ex.reply.content.status, 'error');
    assert.equal(ex.reply.content.ename, 'StdinNotImplementedError');
  });
});

describe('introspection', () => {
  it('completes, inspects and judges completeness through the executor', async () => {
    await k.execute('const myLongVariable = 1');
    const comp = await k.request('shell', 'complete_request', { code: 'myLongVa', cursor_pos: 8 });
    assert.ok((comp.reply.content.matches as string[]).includes('myLongVariable'));
    assert.equal(comp.reply.content.cursor_start, 0);
    assert.equal(comp.reply.content.cursor_end, 8);
    const insp = await k.request('shell', 'inspect_request', { code: 'myLongVariable', cursor_pos: 14, detail_level: 0 });
    assert.equal(insp.reply.content.found, true);
    assert.match(String((insp.reply.content.data as Record<string, unknown>)['text/plain']), /myLongVariable/);
    const nothing = await k.request('shell', 'inspect_request', { code: '', cursor_pos: 0, detail_level: 0 });
    assert.deepEqual([nothing.reply.content.found, nothing.reply.content.data], [false, {}]);
    assert.equal((await k.request('shell', 'is_complete_request', { code: 'if (x) {' })).reply.content.status, 'incomplete');
    assert.equal((await k.request('shell', 'is_complete_request', { code: 'x = 1' })).reply.content.status, 'complete');
    assert.equal((await k.request('shell', 'is_complete_request', { code: 'x = 1)' })).reply.content.status, 'invalid');
  });
});

describe('comms', () => {
  it('closes a comm_open for an unknown target on iopub', async () => {
    const iopub = await k.notify('comm_open', { comm_id: 'c-unknown', target_name: 'no.such.target', data: {} });
    const close = iopub.find((m) => m.header.msg_type === 'comm_close')!;
    assert.deepEqual(close.content, { comm_id: 'c-unknown', data: {} });
  });

  it('opens, messages and closes a comm on a target registered by a cell', async () => {
    await k.execute([
      "(globalThis as any)[Symbol.for('Jupyter.comms')].registerTarget('echo', (comm: any, data: unknown) => {",
      '  comm.onMsg = (d: unknown) => comm.send({ echo: d });',
      '  comm.send({ opened: data });',
      '});',
    ].join('\n'));
    const open = await k.notify('comm_open', { comm_id: 'c1', target_name: 'echo', data: { hello: 1 } });
    assert.deepEqual(open.filter((m) => m.header.msg_type === 'comm_msg').map((m) => m.content), [{ comm_id: 'c1', data: { opened: { hello: 1 } } }]);
    const info = await k.request('shell', 'comm_info_request', { target_name: 'echo' });
    assert.deepEqual(info.reply.content.comms, { c1: { target_name: 'echo' } });
    const msg = await k.notify('comm_msg', { comm_id: 'c1', data: { x: 2 } });
    assert.deepEqual(msg.filter((m) => m.header.msg_type === 'comm_msg').map((m) => m.content), [{ comm_id: 'c1', data: { echo: { x: 2 } } }]);
    await k.notify('comm_close', { comm_id: 'c1', data: {} });
    assert.deepEqual((await k.request('shell', 'comm_info_request', {})).reply.content.comms, {});
  });
});

describe('debug and heartbeat', () => {
  it('answers debug_request with a response saying debugging is not supported', async () => {
    const ex = await k.request('control', 'debug_request', { type: 'request', seq: 7, command: 'initialize', arguments: {} });
    assert.equal(ex.reply.header.msg_type, 'debug_reply');
    assert.equal(ex.reply.content.success, false);
    assert.equal(ex.reply.content.request_seq, 7);
    assert.equal(ex.reply.content.command, 'initialize');
    assert.match(String(ex.reply.content.message), /not supported/);
  });

  it('echoes heartbeats', async () => {
    assert.equal(await k.ping('beat-1'), 'beat-1');
    assert.equal(await k.ping('beat-2'), 'beat-2');
  });
});

describe('unknown requests', () => {
  it('ignores an unknown msg_type with busy/idle and keeps serving', async () => {
    const msg = k.session.make('no_such_request', {});
    await k.sendRaw('shell', msg);
    await k.idle(msg.header.msg_id);
    assert.equal((await k.execute('1 + 1')).reply.content.status, 'ok');
  });
});
