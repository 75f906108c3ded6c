"""MEMIT's residual targets: z_i = h_i + delta_i at the last edited layer's output (Meng et al., 2023, eq. 16).

delta_i comes from the shared value optimisation (ROME's ``compute_v`` objective) run on the
decoder block's output instead of the MLP's, so it is a change of the residual stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from prefedit.editing.base import EditRequest
from prefedit.editing.hooks import StopForward, capture
from prefedit.editing.tokens import encode_rows
from prefedit.editing.values import ValueSettings, at_keys_per_request, build_rows, optimize_values


def residual_targets(
    lm: Any, layer: int, requests: Sequence[EditRequest], kl_prompts: Sequence[str], config: Any
) -> tuple[torch.Tensor, dict[str, float]]:
    """z ``[R, d_model]``: the block output at each request's key token that yields its target."""
    module = lm.arch.module("block_out", layer)
    found = optimize_values(lm, module, requests, kl_prompts, ValueSettings.from_config(config), layer=layer)
    return found.v0 + found.delta, found.stats


@torch.no_grad()
def keys_and_outputs(
    lm: Any, key_module: nn.Module, out_module: nn.Module, requests: Sequence[EditRequest], prefixes: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass: ``key_module``'s input ``[R, d_in]`` and ``out_module``'s output ``[R, d_out]``
    at each request's key token (averaged over prefixes); the pass stops after ``out_module``."""
    rows = build_rows(lm.tokenizer, requests, (), prefixes)
    batch = encode_rows(lm.tokenizer, rows.texts, [None] * len(rows.texts), rows.keys).to(lm.device)
    with capture(key_module) as keys, capture(out_module, inputs=False, stop=True) as outs:
        try:
            lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        except StopForward:
            pass
    n = len(requests)
    req = torch.tensor(rows.request, device=batch.key_pos.device)
    return at_keys_per_request(keys[0], batch.key_pos, req, n), at_keys_per_request(outs[0], batch.key_pos, req, n)


def outputs_at(lm: Any, module: nn.Module, requests: Sequence[EditRequest], prefixes: Sequence[str]) -> torch.Tensor:
    """The module's output at each request's key token, averaged over prefixes: ``[R, d_out]``."""
    return keys_and_outputs(lm, module, module, requests, prefixes)[1]
