"""Batched greedy generation (left padding), the one generation path used by CLI, server and bench."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch


@torch.no_grad()
def generate(
    lm: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    max_new_tokens_each: Sequence[int] | None = None,
    on_batch: Callable[[list[int]], None] | None = None,
) -> list[str]:
    """Greedy answers to ``prompts`` (already formatted), decoded without special tokens.

    Prompts are grouped by length into batches; ``max_new_tokens_each`` gives a per-prompt
    budget (answers are cut to it), otherwise every prompt gets ``max_new_tokens``.
    ``on_batch(indices)`` is called with the prompt indices of each batch before it runs (per-row
    deltas, ``prefedit.deltas.routed``).
    """
    tok, model = lm.tokenizer, lm.model
    budgets = list(max_new_tokens_each) if max_new_tokens_each is not None else [max_new_tokens] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    old_side = tok.padding_side
    tok.padding_side = "left"
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if on_batch is not None:
                on_batch(idx)
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(lm.device) for k, v in enc.items()}
            budget = max(budgets[i] for i in idx)
            out = model.generate(
                **enc,
                max_new_tokens=budget,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
            )
            new = out[:, enc["input_ids"].shape[1] :]
            for row, i in enumerate(idx):
                ids = new[row, : budgets[i]].tolist()
                answers[i] = tok.decode(ids, skip_special_tokens=True).strip()
    finally:
        tok.padding_side = old_side
    return answers
