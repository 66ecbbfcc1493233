import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrainingArguments } from '../../../lib/train/training_args';
import { lrLambda, LRScheduler } from '../../../lib/train/schedule';

test('TrainingArguments: transformers defaults, eval_steps from logging_steps, snake_case JSON round trip', () => {
  const a = new TrainingArguments({ outputDir: '/tmp/x', loggingSteps: 25, evalStrategy: 'steps', optim: 'paged_adamw_8bit', warmupSteps: 1 });
  assert.equal(a.learningRate, 5e-5);
  assert.equal(a.lrSchedulerType, 'linear');
  assert.equal(a.maxGradNorm, 1);
  assert.equal(a.seed, 42);
  assert.equal(a.evalSteps, 25);
  assert.equal(a.doEval, true);
  const json = a.toJSON();
  assert.equal(json.output_dir, '/tmp/x');
  assert.equal(json.per_device_train_batch_size, 8);
  assert.equal(json.adam_beta1, 0.9);
  assert.equal(json.gradient_accumulation_steps, 1);
  assert.deepEqual(TrainingArguments.fromJSON(JSON.parse(JSON.stringify(json))).toJSON(), json);
  assert.equal(new TrainingArguments({ outputDir: 'o', evaluationStrategy: 'epoch' }).evalStrategy, 'epoch');
});

test('TrainingArguments: validation errors name the snake_case field and the value', () => {
  const bad = (o: object, re: RegExp) => assert.throws(() => new TrainingArguments({ outputDir: 'o', ...o }), re);
  bad({ perDeviceTrainBatchSize: 0 }, /`per_device_train_batch_size` should be an integer ≥ 1 but the value passed is 0/);
  bad({ lrSchedulerType: 'polynomial' }, /`lr_scheduler_type` should be one of 'constant', 'constant_with_warmup', 'linear', 'cosine' but the value passed is "polynomial"/);
  bad({ optim: 'sgd' }, /`optim` should be one of 'adamw_torch', 'adamw_torch_fused', 'paged_adamw_32bit', 'adamw_8bit', 'adamw_bnb_8bit', 'paged_adamw_8bit' but the value passed is "sgd"/);
  bad({ adamBeta2: 1 }, /`adam_beta2` should be in \[0, 1\) but the value passed is 1/);
  bad({ learningRate: Number.NaN }, /`learning_rate` .* NaN/);
  bad({ warmupSteps: 2.5 }, /`warmup_steps` .* 2.5/);
  bad({ saveStrategy: 'best' }, /`save_strategy` .* "best"/);
  bad({ reportTo: 'wandb' }, /`report_to` .* "wandb"/);
  bad({ perDeviceBatchSize: 4 }, /unknown argument `perDeviceBatchSize`/);
  assert.throws(() => new TrainingArguments({ outputDir: '' }), /`output_dir` should be a directory path/);
});

test('schedules are transformers\' lambdas: optimizer step k runs at lr · lambda(k)', () => {
  const close = (a: number[], b: number[]) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-12, `${i}: ${x} vs ${b[i]}`));
  const run = (type: 'linear' | 'cosine' | 'constant' | 'constant_with_warmup') => Array.from({ length: 6 }, (_, k) => lrLambda(type, 2, 6)(k));
  close(run('linear'), [0, 0.5, 1, 0.75, 0.5, 0.25]);
  close(run('constant_with_warmup'), [0, 0.5, 1, 1, 1, 1]);
  close(run('constant'), [1, 1, 1, 1, 1, 1]);
  close(run('cosine'), [0, 0.5, 1, 0.5 * (1 + Math.cos(Math.PI / 4)), 0.5, 0.5 * (1 + Math.cos(3 * Math.PI / 4))]);
  const s = new LRScheduler(2e-4, 'linear', 1, 4);
  const lrs = [];
  for (let k = 0; k < 4; k++) { lrs.push(s.lr); s.step(); }
  close(lrs, [0, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3]);
  const t = new LRScheduler(2e-4, 'linear', 1, 4);
  t.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
  assert.equal(t.lr, s.lr);
  assert.equal(new TrainingArguments({ outputDir: 'o', warmupRatio: 0.1 }).warmupStepsFor(25), 3);
  assert.equal(new TrainingArguments({ outputDir: 'o', warmupSteps: 0.1 }).warmupStepsFor(25), 3);
  assert.equal(new TrainingArguments({ outputDir: 'o', warmupSteps: 1 }).warmupStepsFor(25), 1);
});
