import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sinkSymbol, type MimeBundle, type DisplaySink } from '../../../lib/display';
import { TrainerState } from '../../../lib/train/state';
import { TrainingArguments } from '../../../lib/train/training_args';
import { liveLossPlot } from '../../../lib/viz/live';
import { resetPlotlyInline } from '../../../lib/viz/plotly_source';
import { sampleLogHistory } from './samples';
import { ensureBackend } from '../../../lib/backend';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';
import { Trainer } from '../../../lib/train/trainer';
import { mulberry32 } from '../../../lib/random';
import { tempDir } from '../../tmp';

type Call = { bundle: MimeBundle; options?: { displayId?: string; update?: boolean } };

/** Installs a display sink on globalThis, as the kernel does while a cell runs. */
function withSink(run: (calls: Call[]) => Promise<void>): Promise<void> {
  const calls: Call[] = [];
  const sink: DisplaySink = { display: (bundle, options) => void calls.push({ bundle, options }), clear: () => undefined };
  const g = globalThis as Record<symbol, unknown>;
  g[sinkSymbol] = sink;
  return run(calls).finally(() => delete g[sinkSymbol]);
}

/** Drives the callback as the Trainer does: log_history grows, then on_log / on_evaluate. */
async function train(cb: ReturnType<typeof liveLossPlot>, onEach?: () => void): Promise<TrainerState> {
  const args = new TrainingArguments({ outputDir: '/tmp/qlora-ts-live-test' });
  const state = new TrainerState();
  state.maxSteps = 40;
  await cb.onTrainBegin!(args, state);
  for (const entry of sampleLogHistory(40)) {
    state.globalStep = entry.step;
    state.logHistory.push(entry);
    if ('eval_loss' in entry) await cb.onEvaluate!(args, state, entry);
    else await cb.onLog!(args, state, entry);
    onEach?.();
  }
  await cb.onTrainEnd!(args, state);
  return state;
}

test('live loss plot: one display id, shown once then updated, final update holds the whole history', async () => {
  resetPlotlyInline();
  await withSink(async (calls) => {
    const cb = liveLossPlot({ throttleMs: 0 });
    await train(cb);
    assert.ok(calls.length >= 13, `one publish per log (got ${calls.length})`);
    assert.ok(calls.every((c) => c.options?.displayId === cb.displayId));
    assert.equal(calls[0].options?.update, false);
    assert.ok(calls.slice(1).every((c) => c.options?.update === true));
    assert.ok((calls[0].bundle['text/html'] as string).includes('/* plotly.js'), 'first display carries plotly.js');
    assert.ok(calls.slice(1).every((c) => !(c.bundle['text/html'] as string).includes('/* plotly.js')), 'updates do not');
    const last = calls.at(-1)!.bundle['application/vnd.plotly.v1+json'] as { data: { name: string; x: number[] }[]; layout: { title: { text: string } } };
    assert.deepEqual(last.data.map((t) => t.name), ['train loss', 'eval loss']);
    assert.equal(last.data[0].x.length, 8);
    assert.deepEqual(last.data[1].x, [10, 20, 30, 40]);
    assert.match(last.layout.title.text, /step 40 \/ 40/);
  });
});

test('live loss plot: throttled updates still end with the final state', async () => {
  await withSink(async (calls) => {
    let clock = 0;
    const cb = liveLossPlot({ throttleMs: 1000, now: () => clock });
    await train(cb, () => { clock += 300; });
    // 12 log events 300 ms apart with ≥ 1 s between publishes: the begin display, a few updates, the final flush.
    assert.ok(calls.length < 12 && calls.length >= 3, `throttled to ${calls.length}`);
    const last = calls.at(-1)!.bundle['application/vnd.plotly.v1+json'] as { data: { x: number[] }[] };
    assert.equal(last.data[0].x.length, 8);
    assert.equal(cb.updates, calls.length);
  });
});

test('live loss plot on a real Trainer run (tiny LoRA Llama): train and eval points reach the display', async () => {
  await ensureBackend();
  const random = mulberry32(1);
  const rows = (n: number) => Array.from({ length: n }, () => {
    let t = 1 + Math.floor(random() * 60);
    return { input_ids: Array.from({ length: 6 + Math.floor(random() * 6) }, () => (t = 1 + ((t * 7 + 3) % 60))) };
  });
  const base = LlamaForCausalLM.fromConfig({ vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
    numKeyValueHeads: 2, headDim: 8, initializerRange: 0.2, padTokenId: 0 }, { seed: 3 });
  const model = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }), { seed: 5, warn: false });
  await withSink(async (calls) => {
    const plot = liveLossPlot({ throttleMs: 0 });
    const args = new TrainingArguments({ outputDir: tempDir('live'), maxSteps: 6, perDeviceTrainBatchSize: 2,
      learningRate: 1e-2, loggingSteps: 1, evalStrategy: 'steps', evalSteps: 3, perDeviceEvalBatchSize: 2, saveStrategy: 'no', seed: 7, disableTqdm: true });
    const trainer = new Trainer({ model, args, trainDataset: rows(12), evalDataset: rows(4), callbacks: [plot] });
    await trainer.train();
    const mine = calls.filter((c) => c.options?.displayId === plot.displayId);
    assert.ok(mine.length >= 7, `begin + 6 train logs + 2 evals (got ${mine.length})`);
    const last = mine.at(-1)!.bundle['application/vnd.plotly.v1+json'] as { data: { name: string; x: number[]; y: number[] }[] };
    assert.deepEqual(last.data[0].x, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(last.data[1].x, [3, 6]);
    const logged = trainer.state.logHistory.filter((e) => 'loss' in e).map((e) => e.loss);
    assert.deepEqual(last.data[0].y, logged.map((v) => Number(v.toPrecision(6))));
  });

});