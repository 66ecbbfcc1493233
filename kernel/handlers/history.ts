/** history_request: tail, range and search (with unique), from the store that survives restarts. */
import type { Handler } from '../dispatch.js';

export const history: Handler = async (k, msg) => {
  const c = msg.content;
  const output = c.output === true;
  const n = typeof c.n === 'number' ? c.n : undefined;
  let items;
  switch (c.hist_access_type) {
    case 'tail':
      items = k.history.tail(n ?? 10, output);
      break;
    case 'range':
      items = k.history.range(Number(c.session ?? 0), Number(c.start ?? 0), Number(c.stop ?? 0), output);
      break;
    case 'search':
      items = k.history.search(String(c.pattern ?? '*'), n, c.unique === true, output);
      break;
    default:
      return { content: { status: 'error', ename: 'ValueError', evalue: `hist_access_type ${JSON.stringify(c.hist_access_type)} is not one of tail, range, search`, traceback: [], history: [] } };
  }
  return { content: { status: 'ok', history: items } };
};
