/**
 * Routes everything written to process.stdout / process.stderr while a cell runs (console.*
 * included: the global console writes through those streams) to the cell's hooks, in order.
 * A write made by a hook itself (a kernel's own logging) goes to the real stream.
 */
type Write = typeof process.stdout.write;

function toText(chunk: unknown, encoding?: unknown): string {
  if (typeof chunk === 'string') return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8');
  return String(chunk);
}

function redirect(stream: NodeJS.WriteStream, original: Write, sink: (text: string) => void): Write {
  let inHook = false;
  return function write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (inHook) return (original as (...a: unknown[]) => boolean).call(stream, chunk, encoding, callback);
    inHook = true;
    try {
      sink(toText(chunk, encoding));
    } finally {
      inHook = false;
    }
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (typeof cb === 'function') process.nextTick(cb as () => void);
    return true;
  } as Write;
}

/** Starts capturing; the returned function restores the streams. */
export function captureOutput(stdout: (text: string) => void, stderr: (text: string) => void): () => void {
  const out = Object.getOwnPropertyDescriptor(process.stdout, 'write');
  const err = Object.getOwnPropertyDescriptor(process.stderr, 'write');
  const outWrite = process.stdout.write;
  const errWrite = process.stderr.write;
  process.stdout.write = redirect(process.stdout, outWrite, stdout);
  process.stderr.write = redirect(process.stderr, errWrite, stderr);
  return () => {
    if (out) Object.defineProperty(process.stdout, 'write', out); else delete (process.stdout as { write?: unknown }).write;
    if (err) Object.defineProperty(process.stderr, 'write', err); else delete (process.stderr as { write?: unknown }).write;
  };
}
