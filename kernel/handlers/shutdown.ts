/**
 * shutdown_request (control or shell): replies, goes idle, then exits. A restart is the client's
 * job (it starts a new process), so `restart` is echoed and the process exits the same way.
 */
import type { Handler } from '../dispatch.js';

export const shutdown: Handler = async (k, msg) => ({
  content: { status: 'ok', restart: msg.content.restart === true },
  after: () => k.shutdown(),
});
