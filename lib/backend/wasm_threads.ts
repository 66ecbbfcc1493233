import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

// The module object itself (not an import namespace, whose members are read-only): its cpus() is patched.
const os = require('node:os') as typeof import('node:os');

/**
 * Multi-threaded wasm in Node (opt-in). tfjs-backend-wasm ships a threaded SIMD build but turns
 * it off in Node (tfjs issue 3830) for three reasons, each worked around here for the duration of
 * the backend's initialisation only:
 * 1. Emscripten's pthread workers are created from blob: URLs, which Node's worker_threads cannot
 *    load: Blob and URL.createObjectURL are wrapped so that the worker script and the module
 *    factory are written to files (the factory gets the four `require`s its bundled source expects).
 * 2. The C++ side uses emscripten_num_logical_cores() / 2 threads at most (it assumes
 *    hyper-threading), i.e. one thread on a 2-core machine: os.cpus() is widened meanwhile.
 * 3. Pool workers keep Node's event loop alive: they are unref'd.
 * Returns the thread count XNNPACK reports. Must run before the wasm backend is first initialised.
 */
export async function initThreadedWasm(threads: number): Promise<number> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void; getThreadsCount(): number };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-ts-wasm-threads-'));
  const factoryFile = path.join(dir, 'factory.js');
  const texts = new WeakMap<Blob, string>();
  const OrigBlob = globalThis.Blob;
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  class RecordingBlob extends OrigBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const parts = args[0] as unknown[] | undefined;
      if (!parts || !parts.every((p) => typeof p === 'string')) return;
      const text = (parts as string[]).join('');
      texts.set(this, text);
      if (text.startsWith('var WasmBackendModuleThreadedSimd')) {
        const prelude = "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os'), commonjsGlobal = globalThis;\n";
        fs.writeFileSync(factoryFile, prelude + text);
      }
    }
  }
  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (blob: Blob) => {
    const text = texts.get(blob);
    if (text === undefined) return origCreate(blob);
    const file = path.join(dir, 'worker.js');
    const importFactory = 'var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)';
    fs.writeFileSync(file, text.replace(importFactory, `importScripts(${JSON.stringify(factoryFile)})`));
    return file;
  };
  os.cpus = () => Array.from({ length: 2 * Math.max(threads, 1) }, () => origCpus()[0]);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('threaded wasm did not initialise');
    await tf.ready();
  } finally {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = origCpus;
  }
  const pthread = (tf.backend() as unknown as { wasm: { PThread?: { unusedWorkers: Array<{ unref(): void }>; runningWorkers: Array<{ unref(): void }> } } }).wasm.PThread;
  if (pthread) for (const w of [...pthread.unusedWorkers, ...pthread.runningWorkers]) w.unref();
  return wasm.getThreadsCount();
}
