import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOAT16_MAX, roundToFloat16 } from '../../../lib/quant/float16';

test('roundToFloat16 keeps float16 values and rounds others to the nearest, ties to even', () => {
  for (const v of [1, -0.5, 3.140625, FLOAT16_MAX, -FLOAT16_MAX, 2 ** -14, 2 ** -24, 1024 + 1, 2048 + 2]) assert.equal(roundToFloat16(v), v);
  assert.equal(roundToFloat16(1 + 2 ** -11), 1); // halfway between 1 and 1 + 2^-10: the even one
  assert.equal(roundToFloat16(1 + 3 * 2 ** -11), 1 + 2 ** -9); // halfway, the even neighbour is above
  assert.equal(roundToFloat16(1 + 2 ** -11 + 2 ** -20), 1 + 2 ** -10); // past halfway
  assert.equal(roundToFloat16(2049), 2048); // spacing 2 from 2048 up
  assert.equal(roundToFloat16(2051), 2052);
  assert.equal(roundToFloat16(Math.fround(0.1)), 0.0999755859375);
  assert.equal(roundToFloat16(2 ** 11 - 2 ** -40), 2 ** 11); // just under a power of two
});

test('roundToFloat16 overflows to ±Infinity from 65520 and underflows through subnormals to ±0', () => {
  assert.equal(roundToFloat16(65519.99), FLOAT16_MAX);
  assert.equal(roundToFloat16(65520), Infinity);
  assert.equal(roundToFloat16(-70000), -Infinity);
  assert.equal(roundToFloat16(3 * 2 ** -25), 2 ** -23); // 1.5 subnormal steps: to even
  assert.equal(roundToFloat16(2 ** -25), 0); // half a step: to even, zero
  assert.ok(Object.is(roundToFloat16(-(2 ** -26)), -0));
  assert.ok(Number.isNaN(roundToFloat16(NaN)));
  assert.equal(roundToFloat16(-Infinity), -Infinity);
});

test('roundToFloat16 error is at most half a float16 step (relative 2^-11 for normal values)', () => {
  let seed = 7;
  for (let i = 0; i < 10_000; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const v = Math.fround((seed / 2 ** 32 - 0.5) * 2 ** ((i % 36) - 20));
    const r = roundToFloat16(v);
    assert.ok(Math.abs(r - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -25), `${v} → ${r}`);
  }
});
