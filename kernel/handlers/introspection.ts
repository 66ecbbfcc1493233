/** complete_request, inspect_request and is_complete_request: the executor's language service. */
import type { Handler } from '../dispatch.js';

export const complete: Handler = async (k, msg) => {
  const code = String(msg.content.code ?? '');
  const cursor = typeof msg.content.cursor_pos === 'number' ? msg.content.cursor_pos : code.length;
  const r = await k.executor().complete(code, cursor);
  return {
    content: { status: 'ok', matches: r.matches, cursor_start: r.cursorStart, cursor_end: r.cursorEnd, metadata: r.metadata },
  };
};

export const inspect: Handler = async (k, msg) => {
  const code = String(msg.content.code ?? '');
  const cursor = typeof msg.content.cursor_pos === 'number' ? msg.content.cursor_pos : code.length;
  const level = msg.content.detail_level === 1 ? 1 : 0;
  const r = await k.executor().inspect(code, cursor, level);
  return { content: { status: 'ok', found: r.found, data: r.found ? r.data : {}, metadata: {} } };
};

export const isComplete: Handler = async (k, msg) => {
  const r = k.executor().isComplete(String(msg.content.code ?? ''));
  return { content: r.status === 'incomplete' ? { status: r.status, indent: r.indent ?? '' } : { status: r.status } };
};
