#!/usr/bin/env node
// Builds the kernel's SIGINT addon (build/Release/qlora_interrupt.node, kernel/native/interrupt.cc)
// with the system C++ compiler against this Node's headers. Without it the kernel still works and
// interrupts through Node's breakOnSigint (slower per cell), so a missing compiler is not an error.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'kernel', 'native', 'interrupt.cc');
const out = path.join(root, 'build', 'Release', 'qlora_interrupt.node');
const cxx = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean)
  .find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
const include = [process.env.NODE_INCLUDE, path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node']
  .filter(Boolean).find((d) => fs.existsSync(path.join(d, 'v8.h')) && fs.existsSync(path.join(d, 'node.h')));
if (!cxx || !include) {
  console.log(`qlora-ts: ${!cxx ? 'no C++ compiler' : 'no Node headers (node.h, v8.h; set NODE_INCLUDE)'}; ` +
    'the kernel interrupts through breakOnSigint instead of its SIGINT addon.');
  process.exit(0);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
const args = ['-O2', '-std=c++17', '-shared', '-fPIC', '-pthread', `-I${include}`, '-DNODE_GYP_MODULE_NAME=qlora_interrupt',
  '-o', tmp, src];
const r = spawnSync(cxx, args, { stdio: 'inherit' });
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  console.error(`qlora-ts: building the kernel's SIGINT addon failed (${cxx} exit ${r.status}); interrupts use breakOnSigint.`);
  process.exit(process.env.QLORA_TS_REQUIRE_ADDON === '1' ? 1 : 0);
}
fs.renameSync(tmp, out);
console.log(`qlora-ts: built ${path.relative(root, out)} (node ${process.version})`);
