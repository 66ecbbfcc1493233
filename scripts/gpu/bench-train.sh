#!/usr/bin/env bash
# On the GPU machine (after unpack.sh): the issue's training/generation benchmarks for qlora-ts's
# cuda backend and the PyTorch peer, one process per configuration, results appended as JSON lines
# to ${OUT:-.}/train.jsonl and logs beside it. `bash scripts/gpu/bench-train.sh [all|ours|peer]`;
# ONLY=8b (or 1b) keeps the rows of that shape; CKPT_LAYERS_1B=n adds a 1B row that
# recomputes only its first n layers (gradient_checkpointing_kwargs.layers).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-.}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-} QLORA_TS_BACKEND=cuda QLORA_TS_CUDA_QUIET=1
node=${NODE:-/tmp/node}
skip() { [ -n "${ONLY:-}" ] && [[ " $* " != *" --shape $ONLY "* ]]; }
ours() { skip "$@" && return; echo "== qlora-ts $*"; timeout "${LIMIT:-120}" "$node" --max-old-space-size=16384 dist/bench/cuda/train.js "$@" --json "$out/train.jsonl" 2>&1 | tail -4; }
peer() { skip "$@" && return; echo "== torch $*"; timeout "${LIMIT:-120}" python3 bench/cuda/torch_peer.py "$@" --json "$out/train.jsonl" 2>&1 | tail -4; }
mode=${1:-all}
if [ "$mode" = all ] || [ "$mode" = ours ]; then
  QLORA_TS_CUDA_MATMUL=${QLORA_TS_CUDA_MATMUL:-bf16} ours --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all --profile
  QLORA_TS_CUDA_MATMUL=${QLORA_TS_CUDA_MATMUL:-bf16} ours --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all --ckpt --gen 64
  [ -n "${CKPT_LAYERS_1B:-}" ] && QLORA_TS_CUDA_MATMUL=${QLORA_TS_CUDA_MATMUL:-bf16} ours --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all --ckpt-layers "$CKPT_LAYERS_1B"
  QLORA_TS_CUDA_MATMUL=${QLORA_TS_CUDA_MATMUL:-bf16} ours --shape 8b --batch 1 --seq 512 --r 32 --alpha 32 --targets qkv --ckpt --gen 64
  QLORA_TS_CUDA_MATMUL=${QLORA_TS_CUDA_MATMUL:-bf16} ours --shape 8b --batch 4 --seq 512 --r 32 --alpha 32 --targets qkv --ckpt --profile
  # The walkthrough's settings: bnb_4bit_compute_dtype=float16, paged 8-bit AdamW, lora_dropout=0.05.
  QLORA_TS_CUDA_MATMUL=${QLORA_TS_CUDA_MATMUL:-bf16} ours --shape 8b --batch 4 --seq 512 --r 32 --alpha 32 --targets qkv --ckpt --compute-dtype float16 --optim adamw_8bit --lora-dropout 0.05
fi
if [ "$mode" = all ] || [ "$mode" = peer ]; then
  peer --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all --gen 64
  peer --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all --ckpt
  peer --shape 8b --batch 1 --seq 512 --r 32 --alpha 32 --targets qkv --ckpt --gen 64
  peer --shape 8b --batch 4 --seq 512 --r 32 --alpha 32 --targets qkv --ckpt
fi
echo "== results"; cat "$out/train.jsonl" 2>/dev/null
