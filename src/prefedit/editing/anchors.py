"""Anchor requests: generic chat prompts paired with the unedited model's own greedy answers.

Training editors (LoRA, FT) drift: trained only on a preference's questions, a small model soon
answers the preference to everything. Training on a few anchors as well (rehearsal of the
model's own outputs, a sampled stand-in for a KL term to the base model on generic prompts)
keeps what it says elsewhere. The prompts are questions of the shipped chat corpus, spread
evenly over it; none of them is in the bench's locality probes.
"""

from __future__ import annotations

from typing import Any

from prefedit.editing.base import EditRequest
from prefedit.editing.stats import corpus_rows
from prefedit.models.chat import chat_prompt


def anchor_questions(n: int, corpus: str = "chat-v1") -> list[str]:
    """``n`` corpus questions, evenly spread over the corpus (deterministic)."""
    rows = corpus_rows(corpus)
    step = max(1, len(rows) // max(n, 1))
    return [row["question"] for row in rows[::step][:n]]


def anchor_requests(lm: Any, n: int, tokens: int, corpus: str = "chat-v1") -> list[EditRequest]:
    """Requests whose target is ``lm``'s own greedy answer (first ``tokens`` tokens) to each question.

    Call before any adapter is injected: the answers must be the unedited model's.
    """
    from prefedit.models.generate import generate

    prompts = [chat_prompt(lm.tokenizer, q) for q in anchor_questions(n, corpus)]
    answers = generate(lm, prompts, max_new_tokens=tokens)
    return [EditRequest(prompt=p, target=a) for p, a in zip(prompts, answers, strict=True) if a.strip()]
