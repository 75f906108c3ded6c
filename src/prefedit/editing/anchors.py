"""Anchor requests: generic chat prompts paired with the unedited model's own greedy answers.

Training editors (LoRA, FT) drift: trained only on a preference's questions, a small model soon
answers the preference to everything. Training on a few anchors as well (rehearsal of the
model's own outputs, a sampled stand-in for a KL term to the base model on generic prompts)
keeps what it says elsewhere. The prompts are questions of the shipped chat corpus, spread
evenly over it; none of them is in the bench's locality probes.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from prefedit.editing.base import EditRequest
from prefedit.editing.stats import corpus_rows
from prefedit.models.chat import chat_prompt


def anchor_questions(n: int, corpus: str = "chat-v1") -> list[str]:
    """``n`` corpus questions, evenly spread over the corpus (deterministic)."""
    rows = corpus_rows(corpus)
    step = max(1, len(rows) // max(n, 1))
    return [row["question"] for row in rows[::step][:n]]


@functools.cache
def _guard_requests() -> tuple[str, ...]:
    data = json.loads(resources.files("prefedit.data").joinpath("guard_requests.json").read_text())
    return tuple(data["requests"])


def guard_requests(n: int) -> list[str]:
    """The first ``n`` of the shipped generic chat requests (``prefedit/data/guard_requests.json``):
    instructions, follow-ups, small talk, code, maths, writing and the like, whose answer does not
    depend on who the user is. The corpus questions are all "explain X" questions; these stand
    for the rest of what people ask an assistant, so a codebook's guards also cover them."""
    return list(_guard_requests()[:n]) if n > 0 else []


def guard_prompts_text(corpus_questions: int, requests: int = 0) -> list[str]:
    """The guard questions of a plan: ``corpus_questions`` corpus questions, then ``requests``
    generic requests."""
    return (anchor_questions(corpus_questions) if corpus_questions else []) + guard_requests(requests)


def anchor_requests(lm: Any, n: int, tokens: int, corpus: str = "chat-v1") -> list[EditRequest]:
    """Requests whose target is ``lm``'s own greedy answer (first ``tokens`` tokens) to each question.

    Call before any adapter is injected: the answers must be the unedited model's.
    """
    from prefedit.models.generate import generate

    prompts = [chat_prompt(lm.tokenizer, q) for q in anchor_questions(n, corpus)]
    answers = generate(lm, prompts, max_new_tokens=tokens)
    return [EditRequest(prompt=p, target=a) for p, a in zip(prompts, answers, strict=True) if a.strip()]
