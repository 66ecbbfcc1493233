"""Writes test/fixtures/tokenizer/train.txt: a deterministic dialogue-like text (≈150 KB) that the
tokenizer tests train a small byte-level BPE on. Run: python3 scripts/golden/tokenizer/make_train_text.py"""
import json
import random
from pathlib import Path

root = Path(__file__).resolve().parents[3]
rng = random.Random(42)
names = ["Anna", "Ben", "Mr. Smith", "Dr. Hawkins", "Lily", "Tom", "Ms. Brown", "Jack"]
subjects = ["I", "We", "You", "They", "She", "He"]
verbs = ["need", "want", "found", "bought", "lost", "booked", "finished", "can't find", "don't like", "haven't seen"]
objects = ["a ticket", "the report", "my keys", "a new apartment", "the train to Boston", "dinner for two",
           "the meeting at 3:30", "a check-up", "some coffee", "the blue jacket", "2 rooms", "$150 dollars"]
tails = ["today.", "tomorrow?", "last week!", "right now.", "before Friday.", "in 15 minutes.", "again...", "yet?"]
replies = ["Sure, I'll help you.", "Oh no! What happened?", "That's great news.", "Are you sure?", "I'm not sure.",
           "Let's do it.", "Why not?", "It costs about 20 dollars.", "OK, see you then.", "Thank you very much."]
lines = []
for d in range(700):
    turns = []
    for t in range(rng.randint(3, 8)):
        who = "#Person1#" if t % 2 == 0 else "#Person2#"
        if rng.random() < 0.5:
            text = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(tails)}"
        else:
            text = f"{rng.choice(replies)} {rng.choice(names)}, {rng.choice(subjects).lower()} {rng.choice(verbs)} {rng.choice(objects)}."
        turns.append(f"{who}: {text}")
    lines.append("\n".join(turns))
corpus = json.loads((root / "test/fixtures/tokenizer/corpus.json").read_text(encoding="utf-8"))
text = "\n\n".join(lines) + "\n\n" + "\n".join(corpus) + "\n"
(root / "test/fixtures/tokenizer/train.txt").write_text(text, encoding="utf-8")
print(len(text.encode("utf-8")), "bytes")
