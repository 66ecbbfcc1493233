#!/usr/bin/env python3
"""Golden references for qlora-ts's Llama (llm.c style): tiny random Llama checkpoints written by
transformers' save_pretrained (safetensors, fp32) plus the logits, loss and greedy continuations
that transformers computes for them, in refs.json next to each checkpoint.

Usage: python3 scripts/golden/llama/make_refs.py OUT_DIR   (writes OUT_DIR/llama/<name>/...)
Runs on CPU in float32 (exact IEEE fp32, no TF32), so any machine with torch + transformers works.
"""
import json
import os
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False

COMMON = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              max_position_embeddings=128, initializer_range=0.2, bos_token_id=1, eos_token_id=2,
              pad_token_id=0, hidden_act="silu", attention_bias=False, mlp_bias=False)

MODELS = {
    # grouped-query attention, untied lm_head
    "gqa": dict(num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0,
                tie_word_embeddings=False),
    # multi-head attention, lm_head tied to embed_tokens
    "tied": dict(num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-5, rope_theta=10000.0,
                 tie_word_embeddings=True),
    # Llama 3.1-style rope scaling (short original context so that all three bands occur), 8 heads / 2 kv
    "llama3_rope": dict(num_attention_heads=8, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=500000.0,
                        tie_word_embeddings=False,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=16)),
}


def r(x):
    return float(f"{x:.8g}")


def flat(t):
    return [r(v) for v in t.detach().double().reshape(-1).tolist()]


def build(name, extra, seed):
    kwargs = dict(COMMON, **extra)
    if int(transformers.__version__.split(".")[0]) >= 5:  # v5 folds rope_theta/rope_scaling into rope_parameters
        rp = dict(rope_type="default", rope_theta=kwargs.pop("rope_theta"))
        rp.update(kwargs.pop("rope_scaling", None) or {})
        kwargs["rope_parameters"] = rp
    config = LlamaConfig(**kwargs)
    try:
        config._attn_implementation = "eager"
    except Exception as e:  # older/newer versions: sdpa on CPU fp32 gives the same values
        print("note: eager attention not set:", e)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).float().eval()
    with torch.no_grad():  # non-trivial norm weights so that RMSNorm's scale is exercised
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    return model


def refs_for(model, seed):
    g = torch.Generator().manual_seed(seed)
    V = model.config.vocab_size
    B, T = 2, 10
    input_ids = torch.randint(3, V, (B, T), generator=g)
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, 7:] = 0  # right padding in row 1
    input_ids[1, 7:] = 0
    labels = input_ids.clone()
    labels[attention_mask == 0] = -100
    labels[0, 3] = -100
    out = {}
    with torch.no_grad():
        o = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        out["forward"] = dict(input_ids=input_ids.tolist(), attention_mask=attention_mask.tolist(), labels=labels.tolist(),
                              logits_shape=list(o.logits.shape), logits=flat(o.logits), loss=r(o.loss.item()))
        o2 = model(input_ids=input_ids[:1], labels=input_ids[:1])
        out["forward_nomask"] = dict(input_ids=input_ids[:1].tolist(), logits=flat(o2.logits), loss=r(o2.loss.item()))
        # greedy continuation of one prompt
        prompt = torch.randint(3, V, (1, 6), generator=g)
        gen = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, do_sample=False,
                             eos_token_id=2, pad_token_id=0)
        out["greedy"] = dict(input_ids=prompt.tolist(), max_new_tokens=12, eos_token_id=2, pad_token_id=0, output=gen.tolist())
        # batched greedy with left padding (the shorter prompt padded on the left)
        p2 = torch.randint(3, V, (2, 7), generator=g)
        m2 = torch.ones_like(p2)
        p2[1, :3] = 0
        m2[1, :3] = 0
        gen2 = model.generate(input_ids=p2, attention_mask=m2, max_new_tokens=10, do_sample=False, eos_token_id=2, pad_token_id=0)
        out["greedy_batch_left_pad"] = dict(input_ids=p2.tolist(), attention_mask=m2.tolist(), max_new_tokens=10,
                                            eos_token_id=2, pad_token_id=0, output=gen2.tolist())
        # how safe argmax is: the smallest top-1/top-2 logit gap along the greedy path
        full = model(input_ids=gen).logits[0, prompt.shape[1] - 1:-1]
        top2 = torch.topk(full, 2, dim=-1).values
        out["greedy"]["min_top2_gap"] = r((top2[:, 0] - top2[:, 1]).min().item())
    return out


def main():
    root = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "llama")
    os.makedirs(root, exist_ok=True)
    for i, (name, extra) in enumerate(MODELS.items()):
        try:
            model = build(name, extra, seed=1000 + i)
            d = os.path.join(root, name)
            kw = dict(safe_serialization=True)
            if name == "llama3_rope":
                kw["max_shard_size"] = "150KB"  # sharded: model.safetensors.index.json + shards
            try:
                model.save_pretrained(d, **kw)
            except TypeError:
                kw.pop("safe_serialization")
                model.save_pretrained(d, **kw)
            refs = refs_for(model, seed=2000 + i)
            refs["versions"] = dict(torch=torch.__version__, transformers=transformers.__version__)
            refs["inv_freq"] = flat(model.model.rotary_emb.inv_freq)
            refs["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
            with open(os.path.join(d, "refs.json"), "w") as f:
                json.dump(refs, f)
            print(name, "ok:", sorted(os.listdir(d)), "loss", refs["forward"]["loss"], "gap", refs["greedy"]["min_top2_gap"])
        except Exception as e:
            import traceback
            traceback.print_exc()
            print(name, "FAILED:", e)


if __name__ == "__main__":
    main()
