"""Write the chat corpus used for key statistics: the default model's own answers to our questions.

Run once (already done; the output is committed): ``python scripts/make_corpus.py``.
Writes src/prefedit/data/corpus_chat_v1.jsonl, one {"question", "answer"} object per line.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefedit.models import chat_prompt, generate, load_model

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    questions = [q.strip() for q in (ROOT / "scripts" / "corpus_questions.txt").read_text().splitlines() if q.strip()]
    lm = load_model()
    answers = generate(lm, [chat_prompt(lm.tokenizer, q) for q in questions], max_new_tokens=128, batch_size=32)
    out = ROOT / "src" / "prefedit" / "data" / "corpus_chat_v1.jsonl"
    with out.open("w") as f:
        for q, a in zip(questions, answers, strict=True):
            f.write(json.dumps({"question": q, "answer": a}) + "\n")
    print(f"wrote {len(questions)} rows to {out}")


if __name__ == "__main__":
    main()
