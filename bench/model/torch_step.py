"""PyTorch peer for bench/model/train_step.ts: the same tiny Llama, forward + backward (loss.backward),
tokens/s. Written without transformers (Debian's python3-torch has none): same math as HF's Llama
(RMSNorm, rotate-half RoPE, GQA, SwiGLU, untied head, shifted cross-entropy)."""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
h, nH, nKv, L, V, m = cfg["hidden"], cfg["heads"], cfg["kvHeads"], cfg["layers"], cfg["vocab"], cfg["intermediate"]
B, T, steps, warmup = cfg["batch"], cfg["seq"], cfg["steps"], cfg["warmup"]
d = h // nH
torch.manual_seed(0)


def lin(o, i):
    return torch.nn.Parameter(torch.randn(o, i) * 0.02)


params = {"embed": torch.nn.Parameter(torch.randn(V, h) * 0.02), "norm": torch.nn.Parameter(torch.ones(h)), "head": lin(V, h)}
layers = []
for _ in range(L):
    layers.append(dict(q=lin(nH * d, h), k=lin(nKv * d, h), v=lin(nKv * d, h), o=lin(h, nH * d), g=lin(m, h), u=lin(m, h),
                       dn=lin(h, m), n1=torch.nn.Parameter(torch.ones(h)), n2=torch.nn.Parameter(torch.ones(h))))
inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
ang = torch.arange(T).float()[:, None] * inv[None]
emb = torch.cat([ang, ang], -1)
cos, sin = emb.cos(), emb.sin()
mask = torch.full((T, T), float("-inf")).triu(1)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def rot(x):
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([-x2, x1], -1)


def forward(ids):
    x = params["embed"][ids]
    for p in layers:
        y = rms(x, p["n1"])
        q = (y @ p["q"].T).view(B, T, nH, d).transpose(1, 2)
        k = (y @ p["k"].T).view(B, T, nKv, d).transpose(1, 2)
        v = (y @ p["v"].T).view(B, T, nKv, d).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(nH // nKv, 1), v.repeat_interleave(nH // nKv, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + mask, -1) @ v
        x = x + a.transpose(1, 2).reshape(B, T, h) @ p["o"].T
        y = rms(x, p["n2"])
        x = x + (F.silu(y @ p["g"].T) * (y @ p["u"].T)) @ p["dn"].T
    logits = rms(x, params["norm"]) @ params["head"].T
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


ids = torch.randint(0, V, (B, T))
allp = list(params.values()) + [t for p in layers for t in p.values()]
for i in range(warmup + steps):
    if i == warmup:
        t0 = time.perf_counter()
    for p in allp:
        p.grad = None
    loss = forward(ids)
    loss.backward()
dt = (time.perf_counter() - t0) / steps
print(json.dumps({"ms_per_step": dt * 1000, "tokens_per_s": B * T / dt, "threads": torch.get_num_threads(), "torch": torch.__version__}))
