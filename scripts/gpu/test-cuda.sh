#!/usr/bin/env bash
# On the GPU machine (after unpack.sh): the library's test suite (dist/test/lib/) with the backend
# set to cuda — every test that calls ensureBackend() runs its tensors on the GPU (tests of the
# wasm kernels select wasm themselves). TF32 off: the golden tests compare with transformers at
# 1e-4, which TF32's 10-bit mantissa does not meet. `bash scripts/gpu/test-cuda.sh [node --test args]`.
#
# Two files drive headless chromium and hold no tensor: viz/render.test.js (figures to PNG/SVG) and
# viz/nbconvert.test.js (exported notebooks drawn in a browser). Where no chromium exists (the lent
# GPU machine has none, reaches no package mirror, and Debian's chromium-headless-shell .deb alone
# is 64 MB, the whole carry limit), those files — the ones that load playwright-core or the
# renderer — are left out and named; everything else runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-} QLORA_TS_BACKEND=${QLORA_TS_BACKEND:-cuda} QLORA_TS_CUDA_TF32=0 QLORA_TS_CUDA_QUIET=1
mapfile -t files < <(find dist/test/lib -name '*.test.js' | sort)
chromium=${QLORA_TS_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  mapfile -t browser < <(grep -lE 'playwright-core|/viz/render"\)' "${files[@]}")
  echo "test-cuda.sh: no chromium at $chromium — leaving out ${browser[*]} (they drive a browser; no tensors)"
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -vxF -f <(printf '%s\n' "${browser[@]}"))
fi
echo "test-cuda.sh: ${#files[@]} test files, backend $QLORA_TS_BACKEND"
"${NODE:-/tmp/node}" --test --test-concurrency="${CONCURRENCY:-4}" "$@" "${files[@]}"
