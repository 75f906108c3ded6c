"""Grouped-query attention that shares each key/value head instead of copying it.

transformers' eager attention (which the compute twin runs: the fused CPU kernel's backward is
slow in bfloat16) repeats every key/value head once per query head it serves (``repeat_kv``),
a copy of the whole cache at every layer, and its backward sums the copies' gradients back,
the cached prompt's included, though nothing needs them. In the value search each step runs a
few answer tokens against a cached prompt of about 55 tokens, so on SmolLM2 (9 query heads
on 3 key/value heads) those copies were most of a step's attention work.

``grouped_attention`` folds each group's query heads into rows (``[batch, kv_heads, group *
q_len, dim]``) and multiplies them with the group's single key/value head: the same scores,
softmax and outputs as the eager function, without the copies (``benchmarks/grouped_attention_speed.py``).
It is registered with transformers' attention and mask interfaces as ``GROUPED`` (the mask is
the eager one) and used only for the families in ``GROUPED_FAMILIES``, whose eager attention
it reproduces (tests/unit/test_attention.py checks outputs and gradients against it).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

GROUPED = "prefedit_grouped"
GROUPED_FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "olmo2")
"""Model types whose eager attention is softmax(q·kᵀ·scaling + mask)·v over repeated kv heads."""


def grouped_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **_: Any,
) -> tuple[torch.Tensor, None]:
    """``query`` ``[b, heads, q, d]``, ``key``/``value`` ``[b, kv_heads, k, d]`` (heads a multiple
    of kv_heads, query head h served by kv head h // (heads / kv_heads), as ``repeat_kv``
    orders them) -> output ``[b, q, heads, d]`` and no attention weights."""
    b, heads, q, d = query.shape
    kv_heads, k = key.shape[1], key.shape[2]
    group = heads // kv_heads
    scores = torch.matmul(query.reshape(b, kv_heads, group * q, d), key.transpose(2, 3)) * scaling
    if attention_mask is not None:  # [b, 1, q, >= k]: the same for every head
        scores = (scores.view(b, kv_heads, group, q, k) + attention_mask[:, :, None, :, :k]).view(b, kv_heads, group * q, k)
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    out = torch.matmul(weights, value).view(b, heads, q, d)
    return out.transpose(1, 2).contiguous(), None


@functools.cache
def register() -> str:
    """Make ``GROUPED`` a valid ``attn_implementation`` (once per process); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(GROUPED, grouped_attention)
    AttentionMaskInterface.register(GROUPED, eager_mask)
    return GROUPED


def supports_grouped(model: nn.Module) -> bool:
    """Whether ``model`` is of a family ``grouped_attention`` reproduces."""
    return getattr(getattr(model, "config", None), "model_type", None) in GROUPED_FAMILIES
