#!/usr/bin/env node
// Builds the project's small CPU addons with the system C++ compiler against this Node's headers:
//   node scripts/build-addon.js            every addon below
//   node scripts/build-addon.js blas       one of them by name
// Each addon has a fallback in the code that loads it, so a missing compiler or header is reported
// and skipped, not an error (QLORA_TS_REQUIRE_ADDON=1 makes a failed build fail the install).
// The CUDA addon has its own builder (scripts/build-cuda.js): it needs nvcc and a device stub.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** name → sources, the headers it needs, extra flags, and what the code does without it. */
const addons = {
  interrupt: {
    what: "the kernel's SIGINT addon",
    sources: ['kernel/native/interrupt.cc'],
    headers: ['node.h', 'v8.h'],
    flags: ['-pthread'],
    fallback: 'the kernel interrupts through breakOnSigint instead',
  },
  blas: {
    what: 'the CPU GEMM and fused-kernel addon',
    sources: ['lib/backend/native/blas.cc', 'lib/backend/native/fused.cc'],
    headers: ['node_api.h'],
    // -O3 -fno-trapping-math vectorises fused.cc's loops (exponentials included) for the baseline
    // x86-64 / arm64 target; no -march: users' CPUs differ. Results are IEEE as without the flag.
    flags: ['-O3', '-fno-trapping-math', '-ldl'],
    fallback: 'the wasm backend multiplies with XNNPACK instead of OpenBLAS and keeps the composite attention and SwiGLU',
  },
};

const cxx = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean)
  .find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
const includeDirs = [process.env.NODE_INCLUDE, path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node']
  .filter(Boolean);

/** Builds one addon into build/Release/qlora_<name>.node; returns false when the build failed. */
function build(name) {
  const addon = addons[name];
  const include = includeDirs.find((d) => addon.headers.every((h) => fs.existsSync(path.join(d, h))));
  if (!cxx || !include) {
    const missing = !cxx ? 'no C++ compiler' : `no Node headers (${addon.headers.join(', ')}; set NODE_INCLUDE)`;
    console.log(`qlora-ts: ${missing} for ${addon.what}; ${addon.fallback}.`);
    return true;
  }
  const out = path.join(root, 'build', 'Release', `qlora_${name}.node`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const args = ['-O2', '-std=c++17', '-shared', '-fPIC', `-I${include}`, `-DNODE_GYP_MODULE_NAME=qlora_${name}`,
    '-o', tmp, ...addon.sources.map((s) => path.join(root, s)), ...addon.flags];
  const r = spawnSync(cxx, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    console.error(`qlora-ts: building ${addon.what} failed (${cxx} exit ${r.status}); ${addon.fallback}.`);
    return false;
  }
  fs.renameSync(tmp, out);
  console.log(`qlora-ts: built ${path.relative(root, out)} (node ${process.version})`);
  return true;
}

const asked = process.argv.slice(2);
const unknown = asked.filter((n) => !(n in addons));
if (unknown.length > 0) {
  console.error(`qlora-ts: unknown addon ${unknown.join(', ')}; known: ${Object.keys(addons).join(', ')}.`);
  process.exit(2);
}
const failed = (asked.length > 0 ? asked : Object.keys(addons)).filter((n) => !build(n));
process.exit(failed.length > 0 && process.env.QLORA_TS_REQUIRE_ADDON === '1' ? 1 : 0);
