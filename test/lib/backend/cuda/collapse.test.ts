import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collapseDims } from '../../../../lib/backend/cuda/kernels';

// The cuda binary kernel indexes each input through (shape, strides) after merging dimensions;
// these are the shapes the Llama step produces most.
test('collapseDims merges same-shape operands to one dimension', () => {
  assert.deepEqual(collapseDims([8, 512, 2048], [1048576, 2048, 1], [1048576, 2048, 1]), { shape: [8388608], sa: [1], sb: [1] });
});

test('collapseDims keeps a bias broadcast as (rows, cols) and a scalar as one dimension', () => {
  assert.deepEqual(collapseDims([8, 512, 2048], [1048576, 2048, 1], [0, 0, 1]), { shape: [4096, 2048], sa: [2048, 1], sb: [0, 1] });
  assert.deepEqual(collapseDims([4, 5, 6], [30, 6, 1], [0, 0, 0]), { shape: [120], sa: [1], sb: [0] });
});

test('collapseDims drops size-1 dimensions and keeps a column broadcast', () => {
  // (B, 1, T, T) mask against (B, H, T, T) scores.
  assert.deepEqual(collapseDims([2, 4, 3, 3], [36, 9, 3, 1], [9, 0, 3, 1]), { shape: [2, 4, 9], sa: [36, 9, 1], sb: [9, 0, 1] });
  assert.deepEqual(collapseDims([1, 1, 7], [7, 7, 1], [0, 0, 1]), { shape: [7], sa: [1], sb: [1] });
  assert.deepEqual(collapseDims([6, 1], [1, 1], [0, 0]), { shape: [6], sa: [1], sb: [0] });
});
