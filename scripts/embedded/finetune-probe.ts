/**
 * A quick probe of how much LoRA fine-tuning helps the embedded model: trains r=32 LoRA on q/k/v
 * of the 4-bit base on the walkthrough's training text for N steps, then greedy-ish summaries of
 * the first test rows from base and fine-tuned model, scored with a plain unigram F1.
 *
 *   node dist/scripts/embedded/finetune-probe.js [steps] [lr] [rows]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBackend } from '../../lib/backend';
import { AutoTokenizer } from '../../lib/data/tokenizer/auto';
import { AutoModelForCausalLM } from '../../lib/model/llama';
import { BitsAndBytesConfig } from '../../lib/quant/bnb_config';
import { LoraConfig } from '../../lib/lora/config';
import { getPeftModel } from '../../lib/lora/peft_model';
import { prepareModelForKbitTraining } from '../../lib/quant/prepare';
import { Trainer, TrainingArguments, DataCollatorForLanguageModeling } from '../../lib/train';
import { EMBEDDED_MODEL_DIR as DEFAULT_MODEL_DIR, EMBEDDED_DATA_DIR } from '../../lib/embedded';

const EMBEDDED_MODEL_DIR = process.env.QLORA_TS_MODEL ?? DEFAULT_MODEL_DIR;

const tokens = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim().split(' ').filter(Boolean);
function f1(pred: string, ref: string): number {
  const p = tokens(pred), r = tokens(ref);
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let overlap = 0;
  for (const t of p) { const c = counts.get(t) ?? 0; if (c > 0) { overlap++; counts.set(t, c - 1); } }
  if (!p.length || !r.length || !overlap) return 0;
  const prec = overlap / p.length, rec = overlap / r.length;
  return (2 * prec * rec) / (prec + rec);
}

const trainText = (d: string, s: string) => `\nBelow is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruct: Summarize the below conversation.\n\n${d}\n\n### Output:\n${s}\n\n### End`;
const zeroShot = (d: string) => `Instruct: Summarize the following conversation.\n${d}\nOutput:\n`;

async function main(): Promise<void> {
  const [steps = 100, lr = 1e-3, rows = 10] = process.argv.slice(2).map(Number);
  await ensureBackend();
  const read = (split: string) => fs.readFileSync(path.join(EMBEDDED_DATA_DIR, `${split}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { dialogue: string; summary: string });
  const train = read('train'), test = read('test').slice(0, rows);
  const tokenizer = await AutoTokenizer.fromPretrained(EMBEDDED_MODEL_DIR, { paddingSide: 'left' });
  tokenizer.padToken = tokenizer.eosToken;
  const model = await AutoModelForCausalLM.fromPretrained(EMBEDDED_MODEL_DIR, { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16' }) });
  const gen = async (prompt: string) => {
    const enc = tokenizer.call([prompt], { padding: true });
    const out = await model.generate({ inputIds: enc.inputIds, attentionMask: enc.attentionMask, maxNewTokens: 60, doSample: true, temperature: 0.1, topP: 0.95, seed: 42, eosTokenId: tokenizer.eosTokenId!, padTokenId: tokenizer.padTokenId! });
    return tokenizer.decode(out[0].slice(enc.inputIds[0].length), { skipSpecialTokens: true });
  };
  const score = async (label: string, promptOf: (d: string) => string, m: { generate: typeof model.generate }) => {
    let sum = 0;
    for (const [i, r] of test.entries()) {
      const raw = await gen.call(m, promptOf(r.dialogue));
      const text = raw.split('### End')[0].split('\n\n')[0].trim();
      sum += f1(text, r.summary);
      if (i < 2) console.log(`${label} [${i}] ${JSON.stringify(text.slice(0, 160))}`);
    }
    console.log(`${label}: unigram F1 ${(sum / test.length).toFixed(3)}`);
  };
  let t0 = Date.now();
  await score('base zero-shot', zeroShot, model);
  console.log(`base eval ${(Date.now() - t0) / 1000} s`);

  const ex = train.map((r) => ({ input_ids: [...tokenizer.encode(trainText(r.dialogue, r.summary), { addSpecialTokens: true }), tokenizer.eosTokenId!] }));
  const peft = getPeftModel(prepareModelForKbitTraining(model), new LoraConfig({ r: 32, loraAlpha: 32, targetModules: (process.env.PROBE_TARGETS ?? 'q_proj,k_proj,v_proj').split(','), loraDropout: 0.05, taskType: 'CAUSAL_LM' }));
  t0 = Date.now();
  const trainer = new Trainer({ model: peft, trainDataset: ex, dataCollator: DataCollatorForLanguageModeling({ tokenizer, mlm: false }),
    args: new TrainingArguments({ outputDir: '/tmp/ft-probe', maxSteps: steps, perDeviceTrainBatchSize: 1, gradientAccumulationSteps: 4, learningRate: lr, warmupSteps: 1, loggingSteps: 25, saveStrategy: 'no', groupByLength: true, seed: 42, reportTo: 'none', overwriteOutputDir: true }) });
  await trainer.train();
  console.log(`train ${(Date.now() - t0) / 1000} s`);
  const trainPrompt = (d: string) => trainText(d, '').replace(/\n\n### End$/, '');
  await score('peft zero-shot prompt', zeroShot, peft as never);
  await score('peft training prompt', trainPrompt, peft as never);
}
main().catch((e) => { console.error(e); process.exit(1); });
