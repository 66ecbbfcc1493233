import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';

async function main() {
  await ensureBackend();
  const [h, L, inter, V, T, B] = process.argv.slice(2).map(Number);
  const model = LlamaForCausalLM.fromConfig({ hiddenSize: h, numHiddenLayers: L, numAttentionHeads: h / 64, numKeyValueHeads: Math.max(1, h / 128), intermediateSize: inter, vocabSize: V, maxPositionEmbeddings: 512, tieWordEmbeddings: false });
  const opt = tf.train.adam(1e-3);
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 131 + t * 17) % V));
  const idsT = tf.tensor2d(ids, [B, T], 'int32');
  const vars = model.trainableParameters();
  let n = 0; for (const v of vars) n += v.size;
  for (let i = 0; i < 4; i++) {
    const t0 = Date.now();
    const loss = opt.minimize(() => model.forward({ inputIds: idsT, labels: idsT }).loss as tf.Scalar, true, vars);
    const l = (await loss!.data())[0]; loss!.dispose();
    console.log(`params ${(n/1e6).toFixed(2)}M step ${i} loss ${l.toFixed(3)} ${Date.now() - t0} ms  ${(B*T/((Date.now()-t0)/1000)).toFixed(0)} tok/s numTensors ${tf.memory().numTensors}`);
  }
}
main();
