/**
 * One reference schema per message type (the model: ipykernel's tests/test_message_spec.py).
 * `validate` returns the list of violations of a received message: header fields, parent header,
 * and the content fields of its msg_type (replies by status: ok, error or aborted).
 */
type Kind = 'str' | 'int' | 'bool' | 'dict' | 'list' | 'any' | 'str|null';
type Field = Kind | readonly string[] | { optional: Kind | readonly string[] };
type Schema = Record<string, Field>;

const HEADER: Schema = { msg_id: 'str', session: 'str', username: 'str', date: 'str', msg_type: 'str', version: 'str' };

const ERROR: Schema = { status: ['error'], ename: 'str', evalue: 'str', traceback: 'list' };

/** Content schemas of successful replies and of iopub messages. */
export const CONTENT: Record<string, Schema> = {
  // shell / control replies
  kernel_info_reply: {
    status: ['ok'], protocol_version: 'str', implementation: 'str', implementation_version: 'str',
    language_info: 'dict', banner: 'str', help_links: 'list', debugger: { optional: 'bool' },
  },
  execute_reply: { status: ['ok'], execution_count: 'int', user_expressions: 'dict', payload: 'list' },
  complete_reply: { status: ['ok'], matches: 'list', cursor_start: 'int', cursor_end: 'int', metadata: 'dict' },
  inspect_reply: { status: ['ok'], found: 'bool', data: 'dict', metadata: 'dict' },
  is_complete_reply: { status: ['complete', 'incomplete', 'invalid', 'unknown'], indent: { optional: 'str' } },
  history_reply: { status: ['ok'], history: 'list' },
  comm_info_reply: { status: ['ok'], comms: 'dict' },
  shutdown_reply: { status: ['ok'], restart: 'bool' },
  interrupt_reply: { status: ['ok'] },
  debug_reply: { type: ['response'], request_seq: 'int', seq: 'int', success: 'bool', command: 'str', message: { optional: 'str' }, body: { optional: 'dict' } },
  // stdin
  input_request: { prompt: 'str', password: 'bool' },
  // iopub
  status: { execution_state: ['busy', 'idle', 'starting'] },
  execute_input: { code: 'str', execution_count: 'int' },
  stream: { name: ['stdout', 'stderr'], text: 'str' },
  display_data: { data: 'dict', metadata: 'dict', transient: { optional: 'dict' } },
  update_display_data: { data: 'dict', metadata: 'dict', transient: 'dict' },
  execute_result: { execution_count: 'int', data: 'dict', metadata: 'dict' },
  error: { ename: 'str', evalue: 'str', traceback: 'list' },
  clear_output: { wait: 'bool' },
  comm_open: { comm_id: 'str', target_name: 'str', data: 'dict' },
  comm_msg: { comm_id: 'str', data: 'dict' },
  comm_close: { comm_id: 'str', data: 'dict' },
};

function check(kind: Field, v: unknown): boolean {
  if (Array.isArray(kind)) return kind.includes(v as string);
  switch (kind) {
    case 'str': return typeof v === 'string';
    case 'str|null': return typeof v === 'string' || v === null;
    case 'int': return Number.isInteger(v);
    case 'bool': return typeof v === 'boolean';
    case 'dict': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'list': return Array.isArray(v);
    default: return true;
  }
}

function checkObject(where: string, schema: Schema, obj: Record<string, unknown>, strict: boolean): string[] {
  const out: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    const optional = typeof field === 'object' && !Array.isArray(field);
    const kind = optional ? (field as { optional: Field }).optional : field;
    if (!(key in obj)) {
      if (!optional) out.push(`${where}.${key} is missing`);
    } else if (!check(kind, obj[key])) {
      out.push(`${where}.${key} = ${JSON.stringify(obj[key])} is not ${JSON.stringify(kind)}`);
    }
  }
  if (strict) for (const key of Object.keys(obj)) if (!(key in schema)) out.push(`${where}.${key} is not in the spec`);
  return out;
}

export interface Received {
  header: Record<string, unknown>;
  parent_header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** Violations of the message spec in `msg` (empty when it conforms). */
export function validate(msg: Received): string[] {
  const type = String(msg.header.msg_type);
  const out = checkObject(`${type}.header`, HEADER, msg.header, false);
  if (msg.header.version !== '5.3') out.push(`${type}.header.version is ${JSON.stringify(msg.header.version)}`);
  if (Number.isNaN(Date.parse(String(msg.header.date)))) out.push(`${type}.header.date is not ISO 8601`);
  if (Object.keys(msg.parent_header).length) out.push(...checkObject(`${type}.parent_header`, HEADER, msg.parent_header, false));
  else if (type !== 'status' && type !== 'comm_open' && type !== 'comm_msg' && type !== 'comm_close') out.push(`${type} has no parent_header`);
  if (typeof msg.metadata !== 'object' || msg.metadata === null) out.push(`${type}.metadata is not a dict`);
  const c = msg.content;
  if (type.endsWith('_reply') && type !== 'debug_reply' && c.status === 'error') return [...out, ...checkObject(`${type}.content`, ERROR, c, false)];
  if (type.endsWith('_reply') && c.status === 'aborted') return [...out, ...checkObject(`${type}.content`, { status: ['aborted'] }, c, true)];
  const schema = CONTENT[type];
  if (!schema) return [...out, `${type} has no schema`];
  return [...out, ...checkObject(`${type}.content`, schema, c, type !== 'kernel_info_reply')];
}

/** Extra checks of nested content: language_info, help_links and MIME bundles. */
export function validateDeep(msg: Received): string[] {
  const type = String(msg.header.msg_type);
  const c = msg.content;
  const out: string[] = [];
  if (type === 'kernel_info_reply') {
    out.push(...checkObject('language_info', { name: 'str', version: 'str', mimetype: 'str', file_extension: 'str' },
      c.language_info as Record<string, unknown>, false));
    for (const link of c.help_links as Record<string, unknown>[]) out.push(...checkObject('help_links[]', { text: 'str', url: 'str' }, link, true));
  }
  if (['display_data', 'update_display_data', 'execute_result'].includes(type)) {
    if (typeof (c.data as Record<string, unknown>)['text/plain'] !== 'string') out.push(`${type}.data has no text/plain`);
  }
  if (type === 'update_display_data' && typeof (c.transient as Record<string, unknown>).display_id !== 'string') {
    out.push('update_display_data.transient.display_id is missing');
  }
  return out;
}
