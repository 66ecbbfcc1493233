import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { AutoModelForCausalLM } from '../../../lib/model/llama';
import { packageRoot } from '../../../lib/package_root';

/**
 * Golden tests in llm.c's style: tiny random Llama checkpoints and the logits, loss and greedy
 * continuations transformers computed for them (scripts/golden/llama/make_refs.py).
 */
const FIXTURES = path.join(packageRoot(), 'test', 'fixtures', 'llama');
const NAMES = ['gqa', 'tied', 'llama3_rope'];

interface Refs {
  forward: { input_ids: number[][]; attention_mask: number[][]; labels: number[][]; logits_shape: number[]; logits: number[]; loss: number };
  forward_nomask: { input_ids: number[][]; logits: number[]; loss: number };
  greedy: { input_ids: number[][]; max_new_tokens: number; eos_token_id: number; pad_token_id: number; output: number[][] };
  greedy_batch_left_pad: { input_ids: number[][]; attention_mask: number[][]; max_new_tokens: number; eos_token_id: number; pad_token_id: number; output: number[][] };
}

function fixtureDir(name: string): string {
  // Built tests run from build/<who>/test/lib/model or dist/test/lib/model; the fixtures stay in the source tree.
  for (const dir of [FIXTURES, path.resolve(__dirname, '../../../../test/fixtures/llama'), path.resolve('test/fixtures/llama')]) {
    if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`fixture ${name} not found`);
}

/** max |a − b| / max |b|: the relative error of a whole tensor. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

for (const name of NAMES) {
  test(`golden ${name}: logits and loss agree with transformers to 1e-4, greedy ids equal, no leaks`, async () => {
    await ensureBackend();
    const dir = fixtureDir(name);
    const refs = JSON.parse(fs.readFileSync(path.join(dir, 'refs.json'), 'utf8')) as Refs;
    const model = await AutoModelForCausalLM.fromPretrained(dir);
    model.eval();
    const before = tf.memory().numTensors;

    const f = refs.forward;
    const out = model.forward({ inputIds: f.input_ids, attentionMask: f.attention_mask, labels: f.labels });
    assert.deepEqual(out.logits.shape, f.logits_shape);
    const logitsErr = relErr(await out.logits.data(), f.logits);
    assert.ok(logitsErr < 1e-4, `logits relative error ${logitsErr}`);
    const loss = (await out.loss!.data())[0];
    assert.ok(Math.abs(loss - f.loss) / f.loss < 1e-4, `loss ${loss} vs ${f.loss}`);
    tf.dispose([out.logits, out.loss!]);

    const g = refs.forward_nomask;
    const idsT = tf.tensor2d(g.input_ids, undefined, 'int32'); // a tensor input works like number[][]
    const out2 = model.forward({ inputIds: idsT, labels: g.input_ids });
    const err2 = relErr(await out2.logits.data(), g.logits);
    assert.ok(err2 < 1e-4, `logits (no mask) relative error ${err2}`);
    assert.ok(Math.abs((await out2.loss!.data())[0] - g.loss) / g.loss < 1e-4);
    tf.dispose([out2.logits, out2.loss!, idsT]);
    assert.equal(tf.memory().numTensors, before);
    if (process.env.QLORA_TS_VERBOSE) console.log(name, { logitsErr, err2, loss, ref: f.loss });

    const gr = refs.greedy;
    const ids = await model.generate({ inputIds: gr.input_ids, maxNewTokens: gr.max_new_tokens, doSample: false, eosTokenId: gr.eos_token_id, padTokenId: gr.pad_token_id });
    assert.deepEqual(ids, gr.output);

    const gb = refs.greedy_batch_left_pad;
    const ids2 = await model.generate({ inputIds: gb.input_ids, attentionMask: gb.attention_mask, maxNewTokens: gb.max_new_tokens, doSample: false, eosTokenId: gb.eos_token_id, padTokenId: gb.pad_token_id });
    assert.deepEqual(ids2, gb.output);
    assert.equal(tf.memory().numTensors, before, 'generate() leaves no tensor behind');
    model.dispose();
  });
}
