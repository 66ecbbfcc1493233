"""Golden references for qlora-ts' LoRA (PEFT interop) and NF4/FP4 (bitsandbytes layout).

Run on the GPU machine (torch 2.11, transformers 5.17, peft 0.21; computed on its CPU in fp32,
eager attention) from the repository root:

    python3 scripts/golden/peft/make_refs.py $OUT

Writes under $OUT/peft/:
  peft_adapter/            a LoRA adapter saved by Python PEFT on test/fixtures/llama/gqa (nonzero B)
  refs.json                PEFT's logits with it (adapter on, disabled, merged), its parameter
                           printout, PEFT's logits with OUR adapter (test/fixtures/peft/ours), and
                           NF4/FP4 references.
bitsandbytes is not installed there, so the NF4/FP4 references come from a numpy implementation
of the documented algorithm (blocks of the flattened weight, fp32 absmax, nearest code with ties to
the lower index as torch.argmin, high nibble first, double quantization with create_dynamic_map);
`refs.json["bitsandbytes"]` records whether bitsandbytes was importable.
"""
import contextlib
import io
import json
import os
import sys
import traceback

import numpy as np
import torch

ROOT = os.getcwd()
BASE = os.path.join(ROOT, "test/fixtures/llama/gqa")
OURS = os.path.join(ROOT, "test/fixtures/peft/ours")
IDS = [[81, 90, 29, 60, 96, 101, 60, 16], [41, 17, 29, 105, 89, 32, 118, 7]]

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4 = [v / 12 for v in [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]]


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """bitsandbytes.functional.create_dynamic_map, as published."""
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    assert additional_items == 0
    data.append(0)
    data.append(1.0)
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


def hexf(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32).tolist()


def quantize_blockwise(flat, code, blocksize):
    """Blocks of `blocksize`, fp32 absmax, x * (1/absmax) clamped, argmin |x - code| (first index on ties)."""
    flat = np.asarray(flat, dtype=np.float32)
    n = flat.size
    nb = -(-n // blocksize)
    padded = np.zeros(nb * blocksize, dtype=np.float32)
    padded[:n] = flat
    blocks = padded.reshape(nb, blocksize)
    absmax = np.abs(blocks).max(axis=1).astype(np.float32)
    inv = (np.float32(1) / absmax).astype(np.float32)
    scaled = np.clip(blocks * inv[:, None], np.float32(-1), np.float32(1)).astype(np.float32)
    code = np.asarray(code, dtype=np.float32)
    idx = np.abs(scaled[..., None] - code).argmin(axis=-1).reshape(-1)[:n]
    return idx.astype(np.uint8), absmax


def quantize_4bit(weight, quant_type, blocksize=64, double=False):
    idx, absmax = quantize_blockwise(weight.reshape(-1), NF4 if quant_type == "nf4" else FP4, blocksize)
    if idx.size % 2:
        idx = np.concatenate([idx, np.zeros(1, np.uint8)])
    packed = (idx[0::2] << 4) | idx[1::2]
    out = {"quant_type": quant_type, "blocksize": blocksize, "shape": list(weight.shape), "packed": packed.tolist()}
    if double:
        offset = np.float32(torch.from_numpy(absmax).mean().item())
        qabs, nested_absmax = quantize_blockwise((absmax - offset).astype(np.float32), create_dynamic_map().numpy(), 256)
        out.update({"qabsmax": qabs.tolist(), "nested_absmax_bits": hexf(nested_absmax), "offset_bits": hexf([offset])[0]})
    else:
        out["absmax_bits"] = hexf(absmax)
    return out


def section(refs, name, fn):
    try:
        refs[name] = fn()
        print(f"{name}: ok")
    except Exception:
        refs[name] = {"error": traceback.format_exc()}
        print(f"{name}: FAILED\n{refs[name]['error']}")


def main(out):
    os.makedirs(os.path.join(out, "peft"), exist_ok=True)
    torch.manual_seed(0)
    refs = {"input_ids": IDS}
    try:
        import bitsandbytes  # noqa: F401
        refs["bitsandbytes"] = True
    except Exception:
        refs["bitsandbytes"] = False
    import transformers
    import peft
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM
    refs["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    ids = torch.tensor(IDS)

    def base():
        return AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32, attn_implementation="eager").eval()

    def logits(m):
        with torch.no_grad():
            return m(input_ids=ids).logits.float().reshape(-1).tolist()

    def peft_adapter():
        cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                         bias="none", task_type="CAUSAL_LM")
        m = get_peft_model(base(), cfg)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for n, p in m.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        m.eval()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            m.print_trainable_parameters()
        res = {"config": cfg.to_dict() if hasattr(cfg, "to_dict") else None, "logits": logits(m), "printout": buf.getvalue().strip(),
               "nb_trainable": list(m.get_nb_trainable_parameters())}
        with m.disable_adapter():
            res["logits_disabled"] = logits(m)
        m.save_pretrained(os.path.join(out, "peft", "peft_adapter"))
        res["logits_merged"] = logits(m.merge_and_unload())
        res["config"] = None
        return res

    def ours_in_peft():
        m = PeftModel.from_pretrained(base(), os.path.join(OURS, "adapter")).eval()
        ours = json.load(open(os.path.join(OURS, "logits.json")))
        got = np.array(logits(m), dtype=np.float64)
        want = np.array(ours["logits"], dtype=np.float64)
        with m.disable_adapter():
            plain = np.array(logits(m), dtype=np.float64)
        return {"max_abs_diff": float(np.abs(got - want).max()), "rel_l2": float(np.linalg.norm(got - want) / np.linalg.norm(want)),
                "adapter_effect_l2": float(np.linalg.norm(want - plain) / np.linalg.norm(want)), "logits": got.tolist(),
                "config": json.load(open(os.path.join(OURS, "adapter", "adapter_config.json")))}

    def quant():
        from safetensors.torch import load_file
        w = load_file(os.path.join(BASE, "model.safetensors"))["model.layers.0.mlp.down_proj.weight"].float().numpy()
        g = torch.Generator().manual_seed(3)
        r = (torch.randn(100, 70, generator=g) * 0.05).numpy()  # 7000 elements: a short last block
        return {
            "dynamic_map_bits": hexf(create_dynamic_map().numpy()),
            "down_proj_nf4": quantize_4bit(w, "nf4"),
            "down_proj_fp4": quantize_4bit(w, "fp4"),
            "down_proj_nf4_double": quantize_4bit(w, "nf4", double=True),
            "randn": {"values_bits": hexf(r.reshape(-1)), "shape": [100, 70]},
            "randn_nf4_128_double": quantize_4bit(r, "nf4", blocksize=128, double=True),
            "randn_fp4_32": quantize_4bit(r, "fp4", blocksize=32),
        }

    section(refs, "peft_adapter", peft_adapter)
    section(refs, "ours_in_peft", ours_in_peft)
    section(refs, "quant", quant)
    with open(os.path.join(out, "peft", "refs.json"), "w") as f:
        json.dump(refs, f)
    oi = refs.get("ours_in_peft", {})
    print("ours_in_peft max_abs_diff", oi.get("max_abs_diff"), "rel", oi.get("rel_l2"), "effect", oi.get("adapter_effect_l2"))


if __name__ == "__main__":
    main(sys.argv[1])
