#!/usr/bin/env node
// Builds the CPU GEMM addon (build/Release/qlora_blas.node, lib/backend/native/blas.cc) with the
// system C++ compiler against this Node's headers. It opens OpenBLAS at run time; without the
// addon (or OpenBLAS) the wasm backend multiplies with XNNPACK, so a missing compiler is not an error.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'lib', 'backend', 'native', 'blas.cc');
const out = path.join(root, 'build', 'Release', 'qlora_blas.node');
const cxx = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean)
  .find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
const include = [process.env.NODE_INCLUDE, path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node']
  .filter(Boolean).find((d) => fs.existsSync(path.join(d, 'node_api.h')));
if (!cxx || !include) {
  console.log(`qlora-ts: ${!cxx ? 'no C++ compiler' : 'no Node headers (node_api.h; set NODE_INCLUDE)'}; ` +
    'the wasm backend multiplies with XNNPACK instead of OpenBLAS.');
  process.exit(0);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
const args = ['-O2', '-std=c++17', '-shared', '-fPIC', `-I${include}`, '-DNODE_GYP_MODULE_NAME=qlora_blas', '-o', tmp, src, '-ldl'];
const r = spawnSync(cxx, args, { stdio: 'inherit' });
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  console.error(`qlora-ts: building the CPU GEMM addon failed (${cxx} exit ${r.status}); the wasm backend uses XNNPACK.`);
  process.exit(process.env.QLORA_TS_REQUIRE_ADDON === '1' ? 1 : 0);
}
fs.renameSync(tmp, out);
console.log(`qlora-ts: built ${path.relative(root, out)} (node ${process.version})`);
