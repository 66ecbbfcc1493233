import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { addonPath, loadAddon } from '../../../../lib/backend/cuda/addon';
import { registerCudaBackend } from '../../../../lib/backend/cuda';

const hasNvcc = spawnSync('/usr/local/cuda/bin/nvcc', ['--version']).status === 0 || spawnSync('nvcc', ['--version']).status === 0;
const hasGpu = spawnSync('nvidia-smi', ['-L']).status === 0;

test('the install step built the CUDA addon wherever nvcc exists, and it loads without a GPU', { skip: !hasNvcc && 'nvcc is not installed here' }, () => {
  const file = addonPath();
  assert.ok(fs.existsSync(file), `${file} should have been built by scripts/build-cuda.js`);
  const addon = require(file) as { info(): { ok: boolean; reason?: string } };
  const info = addon.info();
  assert.equal(typeof info.ok, 'boolean');
  if (!hasGpu) {
    assert.equal(info.ok, false);
    assert.match(info.reason ?? '', /CUDA|GPU|driver/);
  }
});

test('selecting cuda where no GPU answers gives one reason naming the addon', { skip: hasGpu && 'a GPU is present' }, () => {
  const r = registerCudaBackend();
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.reason, /qlora_cuda\.node/);
    assert.match(r.reason, /driver|GPU|not built|nvcc/);
  }
  assert.equal(loadAddon().addon, undefined);
});
