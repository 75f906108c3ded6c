"""Batched greedy generation, the one generation path used by CLI, server and bench.

Short prompts are grouped by length and left-padded. Long prompts that share a token prefix
(a multi-turn conversation asked several questions, or at several lengths) reuse one prefill
of that prefix: its keys and values are computed once, copied into a preallocated
``transformers.StaticCache`` for every row of a batch, and each row feeds only the tokens
after the part it shares; the attention mask hides the cached positions a row does not own,
and the position ids follow from the mask, so every row sees exactly its own prompt. A
``DynamicCache`` grows by concatenation at every decoding step, which on a long context costs
more than the model itself on the CPU; the preallocated cache does not.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

SHARE_MIN_TOKENS = 256  # prompts at least this long go through the shared-prefix path
MAX_BATCH_TOKENS = 32_768  # rows x cache length of one shared-prefix batch (bounds cache memory)


@torch.no_grad()
def generate(
    lm: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    max_new_tokens_each: Sequence[int] | None = None,
    on_batch: Callable[[list[int]], None] | None = None,
    share_keys: Sequence[Hashable] | None = None,
    share_min_tokens: int = SHARE_MIN_TOKENS,
) -> list[str]:
    """Greedy answers to ``prompts`` (already formatted), decoded without special tokens.

    ``max_new_tokens_each`` gives a per-prompt budget (answers are cut to it), otherwise every
    prompt gets ``max_new_tokens``. ``on_batch(indices)`` is called with the prompt indices of
    each forward batch before it runs (per-row deltas, ``prefedit.deltas.routed``); prompts
    share a prefix's cache only when their ``share_keys`` are equal (give the route there).
    Prompts of at least ``share_min_tokens`` tokens share prefixes (0 turns sharing off).
    """
    tok = lm.tokenizer
    budgets = list(max_new_tokens_each) if max_new_tokens_each is not None else [max_new_tokens] * len(prompts)
    answers: list[str] = [""] * len(prompts)
    ids = [list(tok(p, add_special_tokens=False).input_ids) for p in prompts]
    long = [i for i in range(len(prompts)) if share_min_tokens > 0 and len(ids[i]) >= share_min_tokens] if _can_share(lm.model) else []
    if long:
        keys = list(share_keys) if share_keys is not None else [None] * len(prompts)
        for group in _plan_groups(ids, long, keys, budgets):
            for i, text in zip(group.rows, _generate_shared(lm, ids, group, budgets, on_batch), strict=True):
                answers[i] = text
    taken = set(long)
    short = [i for i in range(len(prompts)) if i not in taken]
    _generate_padded(lm, prompts, short, budgets, batch_size, on_batch, answers)
    return answers


def _generate_padded(lm: Any, prompts: Sequence[str], todo: list[int], budgets: list[int], batch_size: int,
                     on_batch: Callable[[list[int]], None] | None, answers: list[str]) -> None:
    tok, model = lm.tokenizer, lm.model
    order = sorted(todo, key=lambda i: len(prompts[i]))
    old_side = tok.padding_side
    tok.padding_side = "left"
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if on_batch is not None:
                on_batch(idx)
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(lm.device) for k, v in enc.items()}
            out = model.generate(**enc, max_new_tokens=max(budgets[i] for i in idx), do_sample=False,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            new = out[:, enc["input_ids"].shape[1] :]
            for row, i in enumerate(idx):
                answers[i] = tok.decode(new[row, : budgets[i]].tolist(), skip_special_tokens=True).strip()
    finally:
        tok.padding_side = old_side


def _can_share(model: Any) -> bool:
    """Full-attention decoders only: a sliding-window layer keeps a truncated cache."""
    cfg = model.config.get_text_config(decoder=True)
    layer_types = getattr(cfg, "layer_types", None) or []
    return not getattr(cfg, "sliding_window", None) and all("sliding" not in str(t) for t in layer_types)


@dataclass
class _Group:
    """Rows that reuse the first ``shared`` tokens of ``prefix``; row ``i`` owns ``keep[i]`` of them."""

    key: Hashable
    prefix: list[int]
    rows: list[int] = field(default_factory=list)
    keep: list[int] = field(default_factory=list)

    @property
    def shared(self) -> int:
        return max(self.keep)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _plan_groups(ids: list[list[int]], todo: list[int], keys: list[Hashable], budgets: list[int]) -> list[_Group]:
    """Longest prompts first; a prompt joins the group whose prefix it shares most, when it
    shares at least half of its tokens, else it starts one. Groups are then split so that rows
    x cache length stays within MAX_BATCH_TOKENS."""
    groups: list[_Group] = []
    for i in sorted(todo, key=lambda i: -len(ids[i])):
        best, lcp = None, 0
        for g in groups:
            if g.key == keys[i]:
                n = common_prefix(g.prefix, ids[i])
                if n > lcp:
                    best, lcp = g, n
        if best is None or 2 * lcp < len(ids[i]):
            best, lcp = _Group(keys[i], ids[i]), len(ids[i])
            groups.append(best)
        best.rows.append(i)
        best.keep.append(min(lcp, len(ids[i]) - 1))  # at least one token is fed to get logits
    out = []
    for g in groups:
        length = len(g.prefix) + max(budgets[i] for i in g.rows)
        per = max(1, MAX_BATCH_TOKENS // length)
        order = sorted(range(len(g.rows)), key=lambda r: -g.keep[r])
        for s in range(0, len(order), per):
            part = order[s : s + per]
            out.append(_Group(g.key, g.prefix, [g.rows[r] for r in part], [g.keep[r] for r in part]))
    return out


def _generate_shared(lm: Any, ids: list[list[int]], group: _Group, budgets: list[int],
                     on_batch: Callable[[list[int]], None] | None) -> list[str]:
    from transformers import StaticCache

    tok, model, dev = lm.tokenizer, lm.model, lm.device
    shared = group.shared
    if on_batch is not None:
        on_batch(group.rows[:1])
    base = model(input_ids=torch.tensor([group.prefix[:shared]], device=dev), use_cache=True, logits_to_keep=1).past_key_values
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    suffixes = [ids[i][k:] for i, k in zip(group.rows, group.keep, strict=True)]
    width = max(map(len, suffixes))
    budget = max(budgets[i] for i in group.rows)
    rows, masks = [], []
    for k, suf in zip(group.keep, suffixes, strict=True):
        gap = width - len(suf)
        rows.append(group.prefix[:shared] + [pad] * gap + suf)
        masks.append([1] * k + [0] * (shared - k + gap) + [1] * len(suf))
    n = len(rows)
    cache = StaticCache(config=model.config, max_cache_len=shared + width + budget)
    for index, layer in enumerate(base.layers):
        cache.layers[index].update(layer.keys.expand(n, -1, -1, -1).contiguous(), layer.values.expand(n, -1, -1, -1).contiguous())
    del base
    if on_batch is not None:
        on_batch(group.rows)
    x = torch.tensor(rows, device=dev)
    out = model.generate(input_ids=x, attention_mask=torch.tensor(masks, device=dev), past_key_values=cache,
                         max_new_tokens=budget, do_sample=False, pad_token_id=pad, eos_token_id=tok.eos_token_id)
    new = out[:, x.shape[1] :]
    return [tok.decode(new[r, : budgets[i]].tolist(), skip_special_tokens=True).strip() for r, i in enumerate(group.rows)]
