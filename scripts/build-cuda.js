#!/usr/bin/env node
// Builds the CUDA addon (build/Release/qlora_cuda.node) when nvcc is present; otherwise says so
// and exits 0, so the package installs everywhere and selecting `cuda` explains what is missing.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'lib', 'backend', 'cuda', 'native', 'addon.cu');
const out = path.join(root, 'build', 'Release', 'qlora_cuda.node');
// NVCC, when set, is the only compiler tried: the one the user named.
const candidates = process.env.NVCC ? [process.env.NVCC]
  : [process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc', 'nvcc'].filter(Boolean);
const nvcc = candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
if (!nvcc) {
  console.log(`qlora-ts: ${process.env.NVCC ? `NVCC=${process.env.NVCC} does not run` : 'nvcc not found'}; the cuda backend is not built (wasm/cpu backends work as usual).`);
  process.exit(0);
}
const nodeInclude = [process.env.NODE_INCLUDE, path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node']
  .filter(Boolean).find((d) => fs.existsSync(path.join(d, 'node_api.h')));
if (!nodeInclude) {
  console.log('qlora-ts: node_api.h not found (set NODE_INCLUDE); the cuda backend is not built.');
  process.exit(0);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
const args = ['-O3', '-std=c++17', '-shared', '-Xcompiler', '-fPIC', `-I${nodeInclude}`, '-DNODE_GYP_MODULE_NAME=qlora_cuda',
  '-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90',
  '-cudart', 'static', '-o', tmp, src, '-ldl'];
const t0 = Date.now();
const r = spawnSync(nvcc, args, { stdio: 'inherit' });
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  console.error(`qlora-ts: building the cuda addon failed (${nvcc} exit ${r.status}).`);
  process.exit(process.env.QLORA_TS_REQUIRE_CUDA === '1' ? 1 : 0);
}
fs.renameSync(tmp, out);
console.log(`qlora-ts: built ${path.relative(root, out)} with ${nvcc} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
