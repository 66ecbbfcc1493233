import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../lib/errors';
import { TrainingArguments } from '../../../lib/train/training_args';

const bad = (kwargs: unknown, message: RegExp) => assert.throws(
  () => new TrainingArguments({ outputDir: 'x', gradientCheckpointingKwargs: kwargs as never }),
  (e: Error) => e instanceof ConfigError && message.test(e.message),
);

test('gradient_checkpointing_kwargs: a bad value is one clear error that shows the value passed', () => {
  bad({ reentrant: false }, /`gradient_checkpointing_kwargs` should be null or \{ layers: n \}.* the value passed is \{ reentrant: false \}/);
  bad({ layers: 'two' }, /`gradient_checkpointing_kwargs\.layers` should be an integer ≥ 0 .*the value passed is "two"/);
  bad({ layers: -1 }, /`gradient_checkpointing_kwargs\.layers` should be an integer ≥ 0 .*the value passed is -1/);
  bad({ layers: 1.5 }, /the value passed is 1\.5/);
  for (const ok of [null, {}, { layers: 0 }, { layers: 2 }, { use_reentrant: false }]) {
    const args = new TrainingArguments({ outputDir: 'x', gradientCheckpointingKwargs: ok });
    assert.deepEqual(TrainingArguments.fromJSON(args.toJSON()).gradientCheckpointingKwargs, ok);
  }
  assert.throws(() => TrainingArguments.fromJSON({ ...new TrainingArguments({ outputDir: 'x' }).toJSON(), gradient_checkpointing_kwargs: { layers: 'all' } }), /gradient_checkpointing_kwargs\.layers/);
});
