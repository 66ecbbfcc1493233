"""PyTorch + PEFT peer of bench/cuda/train.ts, run in the same device call.

Same shapes, LoRA ranks, targets, batch and sequence; random weights made on the GPU in bf16
(no bitsandbytes on the GPU machine, so the base stays bf16, unquantized); AdamW; one warm-up
step then the mean of the timed steps; peak = torch.cuda.max_memory_allocated over those steps.
Generation: transformers' generate(), greedy, batch 1, a `seq`-token prompt, `gen` new tokens.

    python3 bench/cuda/torch_peer.py --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all [--ckpt] [--gen 128] [--json FILE]
"""
import argparse
import json
import sys
import time

try:
    import torch
    import transformers
    import peft
except ImportError as e:  # the peer is optional: say why it did not run
    print(json.dumps({"peer": "torch", "skipped": f"import failed: {e}"}))
    sys.exit(0)

SHAPES = {
    "1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
               intermediate_size=8192, vocab_size=128256, tie_word_embeddings=True),
    "8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
               intermediate_size=14336, vocab_size=128256, tie_word_embeddings=False),
}
TARGETS = {"all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
           "qkv": ["q_proj", "k_proj", "v_proj"]}

p = argparse.ArgumentParser()
p.add_argument("--shape", default="1b")
p.add_argument("--batch", type=int, default=8)
p.add_argument("--seq", type=int, default=512)
p.add_argument("--r", type=int, default=16)
p.add_argument("--alpha", type=int, default=32)
p.add_argument("--targets", default="all")
p.add_argument("--ckpt", action="store_true")
p.add_argument("--steps", type=int, default=3)
p.add_argument("--gen", type=int, default=0)
p.add_argument("--json")
a = p.parse_args()

cfg = transformers.LlamaConfig(**SHAPES[a.shape], rope_theta=500000.0, max_position_embeddings=8192,
                               attn_implementation="sdpa")
t0 = time.time()
torch.manual_seed(0)
with torch.device("cuda"):
    torch.set_default_dtype(torch.bfloat16)
    model = transformers.LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
if a.ckpt:
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
model = peft.get_peft_model(model, peft.LoraConfig(r=a.r, lora_alpha=a.alpha, target_modules=TARGETS[a.targets],
                                                   lora_dropout=0.0, task_type="CAUSAL_LM"))
for n, prm in model.named_parameters():  # LoRA weights and optimizer state in fp32, as qlora-ts keeps them
    if prm.requires_grad:
        prm.data = prm.data.float()
model.train()
params = [q for q in model.parameters() if q.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4)
ids = (torch.arange(a.batch, device="cuda")[:, None] * 7919 + torch.arange(a.seq, device="cuda")[None] * 104729 + 17) % cfg.vocab_size
build_s = time.time() - t0


def step():
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


step()
torch.cuda.synchronize()
torch.cuda.reset_peak_memory_stats()
times = []
for _ in range(a.steps):
    t0 = time.time()
    step()
    torch.cuda.synchronize()
    times.append(time.time() - t0)
step_s = sum(times) / len(times)
res = dict(peer=f"torch {torch.__version__} transformers {transformers.__version__} peft {peft.__version__}",
           shape=a.shape, batch=a.batch, seq=a.seq, r=a.r, targets=a.targets, ckpt=a.ckpt, buildS=round(build_s, 2),
           stepS=[round(t, 3) for t in times], tokensPerS=round(a.batch * a.seq / step_s),
           peakGiB=round(torch.cuda.max_memory_allocated() / 2**30, 2))
if a.gen:
    del opt
    model.eval()
    prompt = ids[:1]
    with torch.no_grad():
        model.generate(input_ids=prompt[:, :16], max_new_tokens=2, do_sample=False)
        torch.cuda.synchronize()
        t0 = time.time()
        out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=a.gen,
                             min_new_tokens=a.gen, do_sample=False)
        torch.cuda.synchronize()
        g = time.time() - t0
    res["generate"] = dict(newTokens=out.shape[1] - a.seq, seconds=round(g, 2), tokensPerS=round((out.shape[1] - a.seq) / g, 1))
line = json.dumps(res)
print(line)
if a.json:
    with open(a.json, "a") as f:
        f.write(line + "\n")
