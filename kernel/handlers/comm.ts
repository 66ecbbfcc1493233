/** comm_info_request and the comm_open / comm_msg / comm_close messages (no replies for those). */
import type { Handler } from '../dispatch.js';
import type { CommData } from '../comms.js';

const data = (c: Record<string, unknown>): CommData =>
  typeof c.data === 'object' && c.data !== null ? c.data as CommData : {};

export const commInfo: Handler = async (k, msg) => {
  const target = typeof msg.content.target_name === 'string' ? msg.content.target_name : undefined;
  return { content: { status: 'ok', comms: k.comms.info(target) } };
};

export const commOpen: Handler = async (k, msg) => {
  const id = String(msg.content.comm_id ?? '');
  if (!k.comms.opened(id, String(msg.content.target_name ?? ''), data(msg.content))) {
    await k.publish(msg, 'comm_close', { comm_id: id, data: {} });
  }
  return undefined;
};

export const commMsg: Handler = async (k, msg) => {
  k.comms.message(String(msg.content.comm_id ?? ''), data(msg.content));
  return undefined;
};

export const commClose: Handler = async (k, msg) => {
  k.comms.closed(String(msg.content.comm_id ?? ''), data(msg.content));
  return undefined;
};
