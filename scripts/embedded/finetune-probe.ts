/**
 * A quick probe of how much LoRA fine-tuning helps the embedded model, with the walkthrough's
 * protocol in a few minutes: r=32 LoRA (α 32, dropout 0.05) on the 4-bit NF4 base, trained on the
 * walkthrough's training text (batch 1 × accumulation 4, 8-bit AdamW, group by length), then the
 * first test rows summarized by the base (adapter disabled) and the fine-tuned model from the same
 * training-format prompt (sampling at temperature 0.1, top_p 0.95, seed 42), scored with ROUGE-1
 * as the demo does (stemmer on; mean over rows). It also says whether the fine-tuned model reads
 * the dialogue: the loss of each reference summary after its own dialogue against after another
 * row's dialogue (equal losses mean the summary does not depend on the dialogue).
 *
 *   node dist/scripts/embedded/finetune-probe.js [steps] [lr] [rows]   (defaults 700, 2e-3, 10)
 *
 * Environment: QLORA_TS_MODEL (model folder, default the embedded one), PROBE_TARGETS (LoRA target
 * modules, default q_proj,k_proj,v_proj), PROBE_COMPLETION_ONLY=1 (loss on the summary only, TRL's
 * completion-only collator with "### Output:" as the response template), QLORA_TS_BACKEND.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend, describeBackend } from '../../lib/backend';
import { AutoTokenizer } from '../../lib/data/tokenizer/auto';
import { AutoModelForCausalLM } from '../../lib/model/llama';
import { BitsAndBytesConfig } from '../../lib/quant/bnb_config';
import { LoraConfig } from '../../lib/lora/config';
import { getPeftModel } from '../../lib/lora/peft_model';
import { prepareModelForKbitTraining } from '../../lib/quant/prepare';
import { Trainer, TrainingArguments, DataCollatorForLanguageModeling, DataCollatorForCompletionOnlyLM } from '../../lib/train';
import { createPromptFormats, trainingPromptPrefix } from '../../lib/data/prompts';
import { rouge } from '../../lib/eval/rouge';
import { EMBEDDED_MODEL_DIR as DEFAULT_MODEL_DIR, EMBEDDED_DATA_DIR } from '../../lib/embedded';

const MODEL_DIR = process.env.QLORA_TS_MODEL ?? DEFAULT_MODEL_DIR;

/** The summary after "### Output:", up to the "### End" the fine-tuned model learned to write (as the walkthrough). */
const summaryOf = (text: string) => (text.split('### Output:\n')[1] ?? '').split('###')[0].trim();

async function main(): Promise<void> {
  const [steps = 700, lr = 2e-3, rows = 10] = process.argv.slice(2).map(Number);
  await ensureBackend();
  console.log(`${describeBackend()}; model ${MODEL_DIR}; ${steps} steps at lr ${lr}`);
  const read = (split: string) => fs.readFileSync(path.join(EMBEDDED_DATA_DIR, `${split}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { dialogue: string; summary: string });
  const train = read('train'), test = read('test').slice(0, rows);
  const tokenizer = await AutoTokenizer.fromPretrained(MODEL_DIR, { paddingSide: 'left' });
  tokenizer.padToken = tokenizer.eosToken;
  const model = await AutoModelForCausalLM.fromPretrained(MODEL_DIR, { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16' }) });
  const gen = async (m: { generate: typeof model.generate }, prompt: string) => {
    const enc = tokenizer.call([prompt], { padding: true });
    const out = await m.generate({ inputIds: enc.inputIds, attentionMask: enc.attentionMask, maxNewTokens: 100, doSample: true, temperature: 0.1, topP: 0.95, seed: 42, eosTokenId: tokenizer.eosTokenId!, padTokenId: tokenizer.padTokenId! });
    return summaryOf(tokenizer.decode(out[0], { skipSpecialTokens: true }));
  };
  const score = (label: string, predictions: string[]) => {
    const r1 = rouge.compute({ predictions, references: test.map((r) => r.summary), rougeTypes: ['rouge1'], useStemmer: true, aggregator: 'mean' }).rouge1;
    predictions.slice(0, 3).forEach((p, i) => console.log(`${label} [${i}] ${JSON.stringify(p.slice(0, 150))}`));
    console.log(`${label}: ROUGE-1 ${r1.toFixed(3)}`);
    return r1;
  };

  const ex = train.map((r) => ({ input_ids: tokenizer.encode(createPromptFormats({ ...r }).text, { addSpecialTokens: true }) }));
  const peft = getPeftModel(prepareModelForKbitTraining(model), new LoraConfig({ r: 32, loraAlpha: 32, targetModules: (process.env.PROBE_TARGETS ?? 'q_proj,k_proj,v_proj').split(','), loraDropout: 0.05, taskType: 'CAUSAL_LM' }));
  let t0 = Date.now();
  const collator = process.env.PROBE_COMPLETION_ONLY === '1'
    ? DataCollatorForCompletionOnlyLM({ tokenizer, mlm: false, responseTemplate: tokenizer.encode('### Output:\n', { addSpecialTokens: false }) })
    : DataCollatorForLanguageModeling({ tokenizer, mlm: false });
  const trainer = new Trainer({ model: peft, trainDataset: ex, dataCollator: collator,
    args: new TrainingArguments({ outputDir: '/tmp/ft-probe', maxSteps: steps, perDeviceTrainBatchSize: 1, gradientAccumulationSteps: 4, learningRate: lr, warmupSteps: 1, optim: 'paged_adamw_8bit', loggingSteps: 100, saveStrategy: 'no', groupByLength: true, gradientCheckpointing: true, seed: 42, reportTo: 'none', overwriteOutputDir: true }) });
  await trainer.train();
  console.log(`train ${(Date.now() - t0) / 1000} s`);

  // Does the summary depend on the dialogue? Loss of the summary tokens only.
  const summaryLoss = async (dialogue: string, summary: string) => {
    const prefix = tokenizer.encode(trainingPromptPrefix(dialogue), { addSpecialTokens: true });
    const ids = tokenizer.encode(createPromptFormats({ dialogue, summary }).text, { addSpecialTokens: true });
    const labels = ids.map((id, i) => (i < prefix.length ? -100 : id));
    const out = peft.forward({ inputIds: [ids], labels: [labels] });
    const v = (await out.loss!.data())[0];
    tf.dispose([out.loss!, out.logits]);
    return v;
  };
  peft.eval();
  let own = 0, other = 0;
  for (const [i, r] of test.entries()) {
    own += await summaryLoss(r.dialogue, r.summary);
    other += await summaryLoss(test[(i + 1) % test.length].dialogue, r.summary);
  }
  console.log(`summary loss after its own dialogue ${(own / test.length).toFixed(3)}, after another row's ${(other / test.length).toFixed(3)}`);

  t0 = Date.now();
  const base: string[] = [], tuned: string[] = [];
  for (const r of test) {
    const prompt = trainingPromptPrefix(r.dialogue);
    base.push(await peft.withAdapterDisabled(() => gen(peft as never, prompt)));
    tuned.push(await gen(peft as never, prompt));
  }
  const b = score('base', base), t = score('peft', tuned);
  console.log(`RESULT rouge1 base ${b.toFixed(3)} peft ${t.toFixed(3)} gain ${((t - b) * 100).toFixed(1)} points (eval ${(Date.now() - t0) / 1000} s)`);
}
main().catch((e) => { console.error(e); process.exit(1); });
