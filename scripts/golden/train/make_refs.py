#!/usr/bin/env python3
"""Golden references for qlora-ts's Trainer: LoRA training of the tiny `gqa` Llama with the same
initial adapter, rows, batch order and hyper-parameters as test/fixtures/train/plan.json (written by
scripts/golden/train/make_fixture.ts), computed by transformers + PEFT + torch.optim.AdamW in fp32.

Reference 1 (`plain`, the one the test checks): a plain training loop in transformers' semantics:
per optimizer step, the micro-batches' losses are weighted by their share of the step's label
tokens (transformers' num_items_in_batch normalisation), clip_grad_norm_(max_grad_norm),
torch AdamW (foreach=False), get_linear_schedule_with_warmup. The batch order is the plan's (our
seeded shuffle), since torch's RandomSampler cannot be reproduced in JavaScript.
Reference 2 (`hf_trainer`, informative): transformers' Trainer itself fed the same micro-batches
in the same order; its log_history as it logged it (loss rounded to 4 digits). Skipped with the
error recorded if the Trainer cannot be driven this way.

Usage: python3 scripts/golden/train/make_refs.py OUT_DIR   (writes OUT_DIR/train/{refs.json,final_adapter/})
Runs on CPU in float32.
"""
import json
import os
import sys
import traceback

import torch
import transformers
import peft
from transformers import LlamaForCausalLM, get_linear_schedule_with_warmup
from peft import PeftModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BASE = os.path.join(ROOT, "test/fixtures/llama/gqa")
FIX = os.path.join(ROOT, "test/fixtures/train")


def collate(rows, pad):
    T = max(len(r) for r in rows)
    ids = [r + [pad] * (T - len(r)) for r in rows]
    mask = [[1] * len(r) + [0] * (T - len(r)) for r in rows]
    labels = [[x if m else -100 for x, m in zip(i, mk)] for i, mk in zip(ids, mask)]
    return dict(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), labels=torch.tensor(labels))


def load_model():
    base = LlamaForCausalLM.from_pretrained(BASE, dtype=torch.float32, attn_implementation="eager")
    model = PeftModel.from_pretrained(base, os.path.join(FIX, "init_adapter"), is_trainable=True)
    model.train()
    return model


def plain(plan, out_dir):
    a = plan["args"]
    torch.manual_seed(a["seed"])
    model = load_model()
    params = [p for _, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a["learningRate"], betas=(a["adamBeta1"], a["adamBeta2"]), eps=a["adamEpsilon"],
                            weight_decay=a["weightDecay"], foreach=False)
    sched = get_linear_schedule_with_warmup(opt, a["warmupSteps"], a["maxSteps"])
    rows, pad = plan["rows"], plan["pad_token_id"]
    log = []
    for k, step in enumerate(plan["steps"]):
        mbs = [collate([rows[i] for i in mb], pad) for mb in step]
        counts = [int((b["labels"][:, 1:] != -100).sum()) for b in mbs]
        total = sum(counts)
        opt.zero_grad()
        step_loss = 0.0
        for b, c in zip(mbs, counts):
            loss = model(**b).loss * (c / total)
            loss.backward()
            step_loss += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(params, a["maxGradNorm"])
        opt.step()
        sched.step()
        log.append(dict(step=k + 1, loss=step_loss, grad_norm=float(norm), learning_rate=sched.get_last_lr()[0]))
    model.save_pretrained(os.path.join(out_dir, "final_adapter"))
    return log


def hf_trainer(plan, out_dir):
    from torch.utils.data import DataLoader, Dataset, Sampler
    from transformers import Trainer, TrainingArguments
    a = plan["args"]
    rows, pad = plan["rows"], plan["pad_token_id"]
    micro = [collate([rows[i] for i in mb], pad) for step in plan["steps"] for mb in step]
    per_epoch = -(-a["numRows"] // a["perDeviceTrainBatchSize"])

    class Micro(Dataset):
        def __len__(self):
            return per_epoch

        def __getitem__(self, i):
            return micro[i]

    class InOrder(Sampler):
        epoch = 0

        def __len__(self):
            return per_epoch

        def __iter__(self):
            start = InOrder.epoch * per_epoch
            InOrder.epoch += 1
            return iter(range(start, min(start + per_epoch, len(micro))))

    class PlanTrainer(Trainer):
        def get_train_dataloader(self):
            return DataLoader(Micro(), batch_size=None, sampler=InOrder())

    model = load_model()
    args = TrainingArguments(output_dir=os.path.join(out_dir, "hf_run"), max_steps=a["maxSteps"],
                             per_device_train_batch_size=a["perDeviceTrainBatchSize"],
                             gradient_accumulation_steps=a["gradientAccumulationSteps"], learning_rate=a["learningRate"],
                             lr_scheduler_type="linear", warmup_steps=a["warmupSteps"], weight_decay=a["weightDecay"],
                             max_grad_norm=a["maxGradNorm"], adam_beta1=a["adamBeta1"], adam_beta2=a["adamBeta2"],
                             adam_epsilon=a["adamEpsilon"], optim="adamw_torch", logging_steps=1, save_strategy="no",
                             report_to="none", use_cpu=True, seed=a["seed"], remove_unused_columns=False,
                             dataloader_num_workers=0)
    trainer = PlanTrainer(model=model, args=args)
    trainer.train()
    return trainer.state.log_history


def main():
    out = os.path.join(sys.argv[1], "train")
    os.makedirs(out, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    with open(os.path.join(FIX, "plan.json")) as f:
        plan = json.load(f)
    refs = dict(versions=dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__),
                plain=plain(plan, out))
    try:
        refs["hf_trainer"] = hf_trainer(plan, out)
    except Exception:  # informative only
        refs["hf_trainer_error"] = traceback.format_exc()[-3000:]
    with open(os.path.join(out, "refs.json"), "w") as f:
        json.dump(refs, f, indent=1)
    for e in refs["plain"][:3] + refs["plain"][-2:]:
        print(e)
    print("hf_trainer:", "error" if "hf_trainer_error" in refs else [round(e.get("loss", float("nan")), 4) for e in refs["hf_trainer"][:5]])


if __name__ == "__main__":
    main()
