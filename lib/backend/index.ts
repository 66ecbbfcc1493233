import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // registers tfjs's gradients (tfjs-core's CommonJS build has none)
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendError, show } from '../errors';
import { patchWasmBatchMatMul } from './wasm_matmul';
import { registerWasmKernels } from './wasm_kernels';
import { registerWasmFusedKernels } from './wasm_fused';
import { nativeBlas, nativeBlasReason } from './wasm_blas';
import { initThreadedWasm } from './wasm_threads';

/**
 * Backend selection. Every library entry point that makes tensors awaits `ensureBackend()` first,
 * so a notebook that never picks one gets the default: wasm on CPU (with the transposed
 * BatchMatMul fixed), or the one named by the environment variable QLORA_TS_BACKEND.
 *
 * Names: 'wasm' | 'cpu' | 'tensorflow' (@tensorflow/tfjs-node or -gpu, when the native binding
 * truly loads) | 'webgpu' (@tensorflow/tfjs-backend-webgpu present) | 'cuda' (native addon in
 * lib/backend/cuda, a later issue).
 */
export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'webgpu' | 'cuda';
export const BACKEND_NAMES: BackendName[] = ['wasm', 'cpu', 'tensorflow', 'webgpu', 'cuda'];

/** What `setBackend` picked and why; renders as one line. */
export interface BackendReport {
  name: string;
  requested: string;
  /** Why the requested backend was not used, when a fallback was taken. */
  fallbackReason?: string;
  /** Extra facts: the wasm BatchMatMul fix, SIMD/threads, the package that provided it. */
  details: string[];
}

let ready: Promise<BackendReport> | undefined;
let lastReport: BackendReport | undefined;

function tryRequire(name: string): { ok: true; mod: unknown } | { ok: false; why: string } {
  try {
    return { ok: true, mod: require(name) };
  } catch (e) {
    return { ok: false, why: (e as Error).message.split('\n')[0] };
  }
}

/** Loads the package that registers a backend; throws BackendError saying why it cannot. */
function provide(name: BackendName, details: string[]): void {
  switch (name) {
    case 'wasm':
      if (patchWasmBatchMatMul()) {
        const blas = nativeBlas();
        details.push(blas
          ? `BatchMatMul with transposes re-registered: OpenBLAS sgemm on the wasm heap (${blas.lib}${blas.core ? `, ${blas.core} kernels` : ''}, ${blas.threads || '?'} thread${blas.threads === 1 ? '' : 's'})`
          : `BatchMatMul with transposes re-registered (explicit transpose, ≈12× faster; batches as one dense product per entry; no OpenBLAS: ${nativeBlasReason()})`);
      }
      registerWasmKernels();
      details.push('RMSNorm, RoPE, cross-entropy, row-gather and segment-sum kernels on the wasm heap');
      if (registerWasmFusedKernels()) details.push('native fused kernels (CPU addon): attention with RoPE and head split, SwiGLU, RMSNorm, RoPE, cross-entropy');
      return;
    case 'cpu':
      return;
    case 'tensorflow': {
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        const r = tryRequire(pkg);
        if (!r.ok) continue;
        if (tf.findBackendFactory('tensorflow')) {
          details.push(`native TensorFlow from ${pkg}`);
          return;
        }
        throw new BackendError(`backend 'tensorflow': ${pkg} loads but registers no 'tensorflow' backend (it is a shim of pure-JS @tensorflow/tfjs, not the native binding)`,
          `install the real ${pkg} where its libtensorflow download can run, or use 'wasm'`);
      }
      throw new BackendError(`backend 'tensorflow': neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed`, `npm install @tensorflow/tfjs-node, or use 'wasm'`);
    }
    case 'webgpu': {
      const r = tryRequire('@tensorflow/tfjs-backend-webgpu');
      if (!r.ok) throw new BackendError(`backend 'webgpu': @tensorflow/tfjs-backend-webgpu is not installed (${r.why})`, `npm install @tensorflow/tfjs-backend-webgpu and a WebGPU provider (e.g. the webgpu package), or use 'wasm'`);
      details.push('tfjs webgpu backend (fp32)');
      return;
    }
    case 'cuda': {
      // The native addon lives in lib/backend/cuda (its own work); loaded only when asked for.
      const dir = path.join(__dirname, 'cuda');
      const entry = ['index.js', 'index.ts'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
      if (!entry) throw new BackendError(`backend 'cuda': no CUDA backend in ${dir}`, `use 'wasm' on CPU, or 'webgpu'/'tensorflow' on a GPU`);
      const mod = require(entry) as { registerCudaBackend?: () => { ok: boolean; reason?: string } };
      const r = mod.registerCudaBackend?.() ?? { ok: false, reason: `${entry} exports no registerCudaBackend()` };
      if (!r.ok) throw new BackendError(`backend 'cuda': ${r.reason}`, `use 'wasm' on CPU`);
      details.push('native CUDA addon');
      return;
    }
  }
}

/**
 * Picks a backend (default: QLORA_TS_BACKEND, else 'wasm'); if 'wasm' cannot start, falls back to
 * 'cpu' and says why in the report. Any other name that cannot start throws BackendError.
 */
export interface SetBackendOptions {
  /**
   * wasm only: XNNPACK threads (default QLORA_TS_WASM_THREADS, else 1). More than one uses tfjs's
   * threaded wasm build through the workarounds in wasm_threads.ts; it takes effect only when
   * the wasm backend is initialised for the first time in the process.
   */
  threads?: number;
}

let wasmInitialised = false;
let wasmThreadsDetail: string | undefined;

export async function setBackend(name: string = process.env.QLORA_TS_BACKEND || 'wasm', options: SetBackendOptions = {}): Promise<BackendReport> {
  if (!BACKEND_NAMES.includes(name as BackendName)) {
    throw new BackendError(`unknown backend ${show(name)}`, `choose one of ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')}`);
  }
  tf.enableProdMode();
  const details: string[] = [];
  const report: BackendReport = { name, requested: name, details };
  try {
    provide(name as BackendName, details);
    const threads = options.threads ?? Number(process.env.QLORA_TS_WASM_THREADS || 1);
    if (name === 'wasm' && !wasmInitialised && threads > 1) {
      wasmThreadsDetail = `${await initThreadedWasm(threads)} threads (threaded SIMD build)`;
    } else if (!(await tf.setBackend(name))) {
      throw new BackendError(`backend '${name}' was found but could not be initialised`);
    }
    await tf.ready();
    if (name === 'wasm') {
      wasmInitialised = true;
      if (wasmThreadsDetail) details.push(wasmThreadsDetail);
    }
  } catch (e) {
    if (name !== 'wasm') throw e;
    report.fallbackReason = (e as Error).message;
    report.name = 'cpu';
    console.warn(`qlora-ts: the wasm backend could not start (${report.fallbackReason}); using the much slower 'cpu' backend`);
    await tf.setBackend('cpu');
    await tf.ready();
  }
  lastReport = report;
  ready = Promise.resolve(report);
  return report;
}

/** The default backend, set once; later calls return the same report. */
export async function ensureBackend(): Promise<string> {
  ready ??= setBackend();
  return (await ready).name;
}

/** The report of the last selection, as a one-line text (for notebooks and logs). */
export function backendReport(): BackendReport | undefined {
  return lastReport;
}

export function describeBackend(r: BackendReport = lastReport!): string {
  if (!r) return 'no backend selected yet';
  const parts = [`backend '${r.name}'`];
  if (r.fallbackReason) parts.push(`(requested '${r.requested}': ${r.fallbackReason})`);
  if (r.details.length) parts.push(`— ${r.details.join('; ')}`);
  return parts.join(' ');
}
