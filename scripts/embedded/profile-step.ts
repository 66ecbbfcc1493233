/**
 * Profiles one training step (forward + backward + Adam) of a small Llama on the selected
 * backend: kernel time by kernel name, top 15, and the step's wall time.
 *
 *   QLORA_TS_BACKEND=cuda node dist/scripts/embedded/profile-step.js h layers inter vocab T B
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend, describeBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';

async function main(): Promise<void> {
  await ensureBackend();
  console.log(describeBackend());
  const [h, L, inter, V, T, B] = process.argv.slice(2).map(Number);
  const model = LlamaForCausalLM.fromConfig({ hiddenSize: h, numHiddenLayers: L, numAttentionHeads: h / 64, numKeyValueHeads: Math.max(1, h / 128), intermediateSize: inter, vocabSize: V, maxPositionEmbeddings: 512 });
  const opt = tf.train.adam(1e-3);
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 17) % V), [B, T], 'int32');
  const vars = model.trainableParameters();
  const step = () => { const l = opt.minimize(() => model.forward({ inputIds: ids, labels: ids }).loss as tf.Scalar, true, vars); l!.dataSync(); l!.dispose(); };
  let t0 = Date.now(); step(); console.log(`first step ${Date.now() - t0} ms`);
  t0 = Date.now(); step(); const wall = Date.now() - t0; console.log(`second step ${wall} ms, ${(B * T / (wall / 1000)).toFixed(0)} tok/s`);
  const info = await tf.profile(() => { step(); });
  const byName = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; e.n++;
    byName.set(k.name, e);
  }
  const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
  for (const [name, e] of rows) console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.n).padStart(5)} calls`);
}
main().catch((e) => { console.error(e); process.exit(1); });
