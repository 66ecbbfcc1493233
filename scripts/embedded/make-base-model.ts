/**
 * Builds the embedded default model, models/dialogue-base/: a small Llama-architecture dialogue
 * model with its own byte-level BPE tokenizer, pretrained from scratch by the project's own
 * Trainer (full fine-tuning mode) on the generated dialogue corpus (data/dialogue-corpus/, text
 * different from the summarization set). It continues dialogues; it was never shown a summary.
 *
 *   node dist/scripts/embedded/make-base-model.js [--minutes M | --steps S] [--out DIR] [--corpus DIR] [--batch B]
 *     [--seq T] [--hidden H] [--layers L] [--heads N] [--kv-heads K] [--intermediate I] [--lr LR]
 *
 * Rows are T tokens of packed documents (default 256; the model's context is 512, and on a GPU
 * --seq 512 teaches positions as far as the walkthrough's prompts and generations go).
 *
 * Deterministic for a given corpus and step count (seeded init, shuffling and dropout-free
 * training); the time budget only decides the step count, which the README records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBackend, describeBackend } from '../../lib/backend';
import { trainByteLevelBpe } from '../../lib/data/tokenizer/trainer';
import { LlamaForCausalLM } from '../../lib/model/llama';
import { Trainer } from '../../lib/train/trainer';
import { TrainingArguments } from '../../lib/train/training_args';
import { DataCollatorForLanguageModeling } from '../../lib/train/collator';
import { EMBEDDED_MODEL_DIR } from '../../lib/embedded';

const root = path.resolve(EMBEDDED_MODEL_DIR, '..', '..');

/** The default shape of the embedded model: ~1.3 M parameters, trains at a few hundred tokens/s on 2 cores. */
export const BASE_CONFIG = {
  hiddenSize: 128,
  intermediateSize: 384,
  numHiddenLayers: 4,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  maxPositionEmbeddings: 512,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tieWordEmbeddings: false,
};
const VOCAB_SIZE = 2048;

function readCorpus(dir: string): string[] {
  const texts: string[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, f);
    if (f.endsWith('.jsonl')) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        const row = JSON.parse(line) as Record<string, string>;
        texts.push(row.text ?? row.dialogue);
      }
    } else if (f.endsWith('.txt')) {
      texts.push(...fs.readFileSync(file, 'utf8').split(/\n\s*\n/).filter((t) => t.trim()));
    }
  }
  if (texts.length === 0) throw new Error(`no .jsonl or .txt dialogues in ${dir}: run the corpus generator first`);
  return texts;
}

/** Packs BOS + dialogue + EOS streams into fixed-length rows, as HF's group_texts does. */
function pack(ids: number[][], seqLen: number): Array<{ input_ids: number[] }> {
  const flat = ids.flat();
  const rows: Array<{ input_ids: number[] }> = [];
  for (let i = 0; i + seqLen <= flat.length; i += seqLen) rows.push({ input_ids: flat.slice(i, i + seqLen) });
  return rows;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const minutes = Number(args[args.indexOf('--minutes') + 1] ?? 0) || 30;
  const flag = (name: string, fallback: number) => {
    if (!args.includes(name)) return fallback;
    const v = Number(args[args.indexOf(name) + 1]);
    if (!(v > 0)) throw new Error(`${name} needs a positive number, got ${JSON.stringify(args[args.indexOf(name) + 1])}`);
    return v;
  };
  const SEQ_LEN = flag('--seq', 256);
  const lr = flag('--lr', 3e-3);
  const shape = {
    ...BASE_CONFIG,
    hiddenSize: flag('--hidden', BASE_CONFIG.hiddenSize), numHiddenLayers: flag('--layers', BASE_CONFIG.numHiddenLayers),
    numAttentionHeads: flag('--heads', BASE_CONFIG.numAttentionHeads), numKeyValueHeads: flag('--kv-heads', BASE_CONFIG.numKeyValueHeads),
    intermediateSize: flag('--intermediate', BASE_CONFIG.intermediateSize),
  };
  const shapeFlags = (Object.entries({ '--seq': [SEQ_LEN, 256], '--lr': [lr, 3e-3], '--hidden': [shape.hiddenSize, BASE_CONFIG.hiddenSize], '--layers': [shape.numHiddenLayers, BASE_CONFIG.numHiddenLayers],
    '--heads': [shape.numAttentionHeads, BASE_CONFIG.numAttentionHeads], '--kv-heads': [shape.numKeyValueHeads, BASE_CONFIG.numKeyValueHeads], '--intermediate': [shape.intermediateSize, BASE_CONFIG.intermediateSize] }) as Array<[string, number[]]>)
    .filter(([, [v, d]]) => v !== d).map(([k, [v]]) => ` ${k} ${v}`).join('');
  const out = args.includes('--out') ? path.resolve(args[args.indexOf('--out') + 1]) : path.join(root, 'models', 'dialogue-base');
  const t0 = Date.now();
  await ensureBackend();
  console.log(describeBackend());

  const corpusDir = args.includes('--corpus') ? path.resolve(args[args.indexOf('--corpus') + 1]) : path.join(root, 'data', 'dialogue-corpus');
  const corpus = readCorpus(corpusDir);
  // The tokenizer also sees the summarization set's training split (text only, as any tokenizer
  // corpus would), so summary words are not split into bytes; the model never sees summaries.
  const dialogsumTrain = fs.readFileSync(path.join(root, 'data', 'dialogsum', 'train.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => { const r = JSON.parse(l); return `${r.dialogue}\n${r.summary}`; });
  const tokenizer = trainByteLevelBpe([...corpus, ...dialogsumTrain], { vocabSize: VOCAB_SIZE, minFrequency: 2, chatTemplate: true, modelMaxLength: BASE_CONFIG.maxPositionEmbeddings });
  console.log(`tokenizer: ${tokenizer.length} tokens (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const bos = tokenizer.bosTokenId!, eos = tokenizer.eosTokenId!;
  const ids = corpus.map((t) => [...tokenizer.encode(t, { addSpecialTokens: true }), eos]);
  const rows = pack(ids, SEQ_LEN);
  console.log(`corpus: ${corpus.length} dialogues, ${ids.reduce((s, r) => s + r.length, 0)} tokens, ${rows.length} rows of ${SEQ_LEN}`);

  const model = LlamaForCausalLM.fromConfig({ ...shape, vocabSize: tokenizer.length /* len(tokenizer): BPE ids + specials; tokenizer.vocabSize excludes specials, as HF */, bosTokenId: bos, eosTokenId: eos }, { seed: 0 });
  const batch = args.includes('--batch') ? Number(args[args.indexOf('--batch') + 1]) : 4;
  const probe = Date.now();
  // Step count from the time budget: measure two steps first.
  const trainerArgs = (maxSteps: number) => new TrainingArguments({
    outputDir: path.join(root, 'out', 'pretrain'), maxSteps, perDeviceTrainBatchSize: batch, learningRate: lr,
    lrSchedulerType: 'cosine', warmupSteps: Math.min(50, Math.floor(maxSteps / 10)), weightDecay: 0.01, maxGradNorm: 1.0,
    loggingSteps: 10, saveStrategy: 'no', seed: 42, reportTo: 'none', overwriteOutputDir: true,
  });
  // Packed rows are all SEQ_LEN long, so the pad token only satisfies the collator's contract.
  tokenizer.padToken = tokenizer.eosToken;
  const collator = DataCollatorForLanguageModeling({ tokenizer, mlm: false });
  await new Trainer({ model: LlamaForCausalLM.fromConfig({ ...shape, vocabSize: tokenizer.length }, { seed: 1 }), args: trainerArgs(2), trainDataset: rows.slice(0, 2 * batch), dataCollator: collator }).train();
  const stepSeconds = (Date.now() - probe) / 2000;
  const maxSteps = args.includes('--steps') ? flag('--steps', 0) : Math.max(10, Math.floor((minutes * 60) / stepSeconds));
  console.log(`≈ ${stepSeconds.toFixed(2)} s/step → ${maxSteps} steps (${((maxSteps * batch) / rows.length).toFixed(2)} epochs)`);

  const trainer = new Trainer({
    model, args: trainerArgs(maxSteps), trainDataset: rows, dataCollator: collator,
    callbacks: [{ onLog: (_a: unknown, state: { globalStep: number }, logs: Record<string, number>) => {
      if (logs.loss !== undefined) console.log(`step ${state.globalStep}/${maxSteps} loss ${logs.loss.toFixed(3)} lr ${logs.learning_rate?.toExponential(2)} ${((Date.now() - t0) / 60000).toFixed(1)} min`);
    } }],
  });
  const result = await trainer.train();
  const history = trainer.state.logHistory.filter((h: Record<string, number>) => h.loss !== undefined);
  const finalLoss = history[history.length - 1]?.loss;

  fs.mkdirSync(out, { recursive: true });
  model.generationConfig = { ...model.generationConfig, bosTokenId: bos, eosTokenId: eos, padTokenId: eos };
  await model.savePretrained(out, { dtype: 'BF16' });
  tokenizer.padToken = null; // like Llama 3: no pad token; the walkthrough sets pad = eos
  await tokenizer.savePretrained(out);
  const minutesTaken = (Date.now() - t0) / 60000;
  fs.writeFileSync(path.join(out, 'README.md'), [
    '# dialogue-base: the embedded default model of qlora-ts',
    '',
    'A small Llama-architecture causal LM (config.json) with its own byte-level BPE tokenizer, pretrained',
    'from scratch by qlora-ts\'s Trainer (full fine-tuning) on data/dialogue-corpus/ — generated',
    'dialogues and short narratives, never a dialogue beside its summary, no instructions. It continues',
    'a dialogue and writes narrative sentences; it cannot summarize until fine-tuned.',
    '',
    `- parameters: ${model.numParameters().toLocaleString('en-US')}; vocabulary ${tokenizer.length}; context ${BASE_CONFIG.maxPositionEmbeddings}`,
    `- training: ${maxSteps} steps × ${batch} rows × ${SEQ_LEN} tokens, AdamW lr ${lr} cosine, final loss ${finalLoss?.toFixed(3)}`,
    `- made by: \`npm run build && ${process.env.QLORA_TS_BACKEND ? `QLORA_TS_BACKEND=${process.env.QLORA_TS_BACKEND} ` : ''}node dist/scripts/embedded/make-base-model.js ${args.includes('--steps') ? `--steps ${maxSteps}` : `--minutes ${minutes}`} --batch ${batch}${shapeFlags}\` in ${minutesTaken.toFixed(1)} minutes (${describeBackend()}${process.env.QLORA_TS_BACKEND === 'cuda' ? ', on the GPU machine' : ', on a 2-core machine'})`,
    '',
  ].join('\n'));
  console.log(`saved ${out} in ${minutesTaken.toFixed(1)} min`, result ?? '');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
