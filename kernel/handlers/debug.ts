/**
 * debug_request: the kernel has no debugger (kernel_info says `debugger: false`), and says so in a
 * Debug Adapter Protocol error response instead of leaving the client waiting.
 */
import type { Handler } from '../dispatch.js';

export const debug: Handler = async (_k, msg) => {
  const c = msg.content;
  return {
    content: {
      type: 'response',
      request_seq: typeof c.seq === 'number' ? c.seq : 0,
      seq: 0,
      success: false,
      command: typeof c.command === 'string' ? c.command : '',
      message: 'debugging is not supported by the qlora-ts kernel',
      body: {},
    },
  };
};
