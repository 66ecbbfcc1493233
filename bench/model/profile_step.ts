import * as tf from '@tensorflow/tfjs-core';
import { setBackend, describeBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';

/**
 * Where one forward + backward step of bench/model/train_step.ts's tiny config spends its time on
 * a backend: tf.profile's kernels grouped by name (count, total ms), plus the wall time of the
 * forward alone and of the whole step. Usage: node profile_step.js [backend] (default wasm).
 */
const cfg = { hidden: 256, heads: 4, kvHeads: 4, layers: 2, vocab: 1024, intermediate: 688, batch: 4, seq: 128 };

async function main() {
  await setBackend(process.argv[2] ?? 'wasm');
  const model = LlamaForCausalLM.fromConfig({
    vocabSize: cfg.vocab, hiddenSize: cfg.hidden, intermediateSize: cfg.intermediate, numHiddenLayers: cfg.layers,
    numAttentionHeads: cfg.heads, numKeyValueHeads: cfg.kvHeads, maxPositionEmbeddings: cfg.seq,
  }, { seed: 0 });
  const ids = Array.from({ length: cfg.batch }, (_, b) => Array.from({ length: cfg.seq }, (_, t) => (b * 131 + t * 17) % cfg.vocab));
  const step = () => {
    const { value, grads } = tf.variableGrads(() => model.forward({ inputIds: ids, labels: ids }).loss!);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const forward = () => tf.tidy(() => model.forward({ inputIds: ids, labels: ids }).loss!.dataSync());
  for (let i = 0; i < 3; i++) step();
  // Wall time and process CPU time (all threads), medians: on a shared machine CPU time moves less.
  const time = (f: () => void, n: number) => {
    const ms: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < n; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      f();
      ms.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(n / 2)];
    return { wall: med(ms), cpu: med(cpu) };
  };
  const s = time(step, 7);
  const fw = time(forward, 7);
  const info = await tf.profile(step);
  const byName = new Map<string, { n: number; ms: number }>();
  let total = 0;
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += k.kernelTimeMs as number;
    total += k.kernelTimeMs as number;
    byName.set(k.name, e);
  }
  console.log(describeBackend());
  console.log(`step ${s.wall.toFixed(1)} ms wall, ${s.cpu.toFixed(1)} ms cpu (medians of 7); forward ${fw.wall.toFixed(1)} ms wall, ${fw.cpu.toFixed(1)} ms cpu; profiled step: ${info.kernels.length} kernels, ${total.toFixed(1)} ms inside kernels`);
  for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms)) console.log(`${name.padEnd(24)} ${String(e.n).padStart(5)} ${e.ms.toFixed(1).padStart(8)} ms`);
  if (process.env.PROFILE_SLOW) {
    for (const k of info.kernels) if ((k.kernelTimeMs as number) > Number(process.env.PROFILE_SLOW) && k.name !== 'BatchMatMul') console.log(k.name, JSON.stringify(k.inputShapes), (k.kernelTimeMs as number).toFixed(2));
  }
  if (process.env.PROFILE_DETAIL) {
    for (const k of info.kernels.filter((k) => k.name === process.env.PROFILE_DETAIL)) console.log(k.name, JSON.stringify(k.inputShapes), (k.kernelTimeMs as number).toFixed(2));
  }
}

main();
