"""Tokenising edit requests: prompt + target batches with key positions and target labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from prefedit.errors import EditError


def key_index(tokenizer: Any, prompt: str, key: str = "last", subject: str | None = None) -> int:
    """Index (in ``tokenizer(prompt)`` without special tokens) of the key token.

    ``key="last"``: the prompt's last token. ``key="subject"``: the token holding the last
    character of the last occurrence of ``subject`` in the prompt (ROME's subject-last token).
    """
    enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=key == "subject")
    n = len(enc["input_ids"])
    if n == 0:
        raise EditError("prompt tokenizes to nothing")
    if key == "last":
        return n - 1
    if not subject or subject not in prompt:
        raise EditError(f"subject {subject!r} not found in prompt {prompt[-80:]!r}")
    end = prompt.rindex(subject) + len(subject)
    for i, (a, b) in enumerate(enc["offset_mapping"]):
        if a < end <= b:
            return i
    # Tokenizers that fold the character into a neighbour: last token starting before ``end``.
    return max(i for i, (a, _b) in enumerate(enc["offset_mapping"]) if a < end)


@dataclass
class Batch:
    """Right-padded rows of ``prompt + target[:-1]``.

    input_ids, attention_mask, labels: ``[B, T]`` (labels -100 except target positions);
    key_pos: ``[B]`` index of each row's key token.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    key_pos: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.labels, self.key_pos)))


def encode_rows(
    tokenizer: Any,
    prompts: Sequence[str],
    targets: Sequence[str | None],
    key_positions: Sequence[int],
) -> Batch:
    """Build a Batch; a ``None`` target makes a prompt-only row (no labels, e.g. KL prompts)."""
    rows: list[list[int]] = []
    labels: list[list[int]] = []
    for prompt, target in zip(prompts, targets, strict=True):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        t = tokenizer(target, add_special_tokens=False)["input_ids"] if target else []
        if target and not t:
            raise EditError(f"target {target!r} tokenizes to nothing")
        ids = p + t[:-1] if t else p
        lab = [-100] * len(ids)
        for j, tok_id in enumerate(t):
            lab[len(p) - 1 + j] = tok_id  # logits at position i predict token i+1
        rows.append(ids)
        labels.append(lab)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids_t = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    lab_t = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels, strict=True)):
        ids_t[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
        lab_t[i, : len(lab)] = torch.tensor(lab)
    return Batch(ids_t, mask, lab_t, torch.tensor(list(key_positions), dtype=torch.long))


def target_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the mean NLL of each row's target tokens; rows without labels are skipped."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    mask = labels != -100
    tok_logp = torch.gather(logp, 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    has = mask.sum(1) > 0
    per_row = -tok_logp.sum(1)[has] / mask.sum(1)[has]
    return per_row.mean()
