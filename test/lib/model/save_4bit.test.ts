import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { AutoModelForCausalLM } from '../../../lib/model/llama';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { Linear4bit } from '../../../lib/quant/linear4bit';
import { SafetensorsFile } from '../../../lib/model/safetensors';

const fixture = [path.resolve(__dirname, '../../../../test/fixtures/llama/gqa'), path.resolve(__dirname, '../../../../../test/fixtures/llama/gqa')]
  .find((d) => fs.existsSync(d))!;

test('a 4-bit model saves in bitsandbytes layout and reloads in 4-bit from its own config.json', async () => {
  await ensureBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-ts-save4-'));
  try {
    const qc = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' });
    const model = await AutoModelForCausalLM.fromPretrained(fixture, { quantizationConfig: qc });
    const ids = [[1, 5, 9, 3]];
    const before = model.forward({ inputIds: ids });
    await model.savePretrained(dir, { dtype: 'F32' }); // F32 so the unquantized tensors round-trip exactly

    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.quantization_config.bnb_4bit_quant_type, 'nf4');
    const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
    const names = st.keys();
    assert.ok(names.includes('model.layers.0.self_attn.q_proj.weight.absmax'), names.join(', '));
    assert.equal(st.info('model.layers.0.self_attn.q_proj.weight').dtype, 'U8');
    st.close();

    const reloaded = await AutoModelForCausalLM.fromPretrained(dir); // no config passed: read from config.json
    assert.ok(reloaded.getSubmodule('model.layers.0.self_attn.q_proj') instanceof Linear4bit);
    const after = reloaded.forward({ inputIds: ids });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(before.logits, after.logits))).dataSync()[0]);
    assert.ok(diff < 1e-5, `logits moved by ${diff} after a 4-bit round trip`);
    for (const t of [before.logits, after.logits]) t.dispose();
    model.dispose();
    reloaded.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
