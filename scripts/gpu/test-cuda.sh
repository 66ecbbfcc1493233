#!/usr/bin/env bash
# On the GPU machine (after unpack.sh): the library's test suite (dist/test/lib/) with the backend
# set to cuda — every test that calls ensureBackend() runs its tensors on the GPU (tests of the
# wasm kernels select wasm themselves). TF32 off: the golden tests compare with transformers at
# 1e-4, which TF32's 10-bit mantissa does not meet. `bash scripts/gpu/test-cuda.sh [node --test args]`.
set -uo pipefail
cd "$(dirname "$0")/../.."
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-} QLORA_TS_BACKEND=cuda QLORA_TS_CUDA_TF32=0 QLORA_TS_CUDA_QUIET=1
"${NODE:-/tmp/node}" --test --test-concurrency="${CONCURRENCY:-4}" "$@" dist/test/lib/
