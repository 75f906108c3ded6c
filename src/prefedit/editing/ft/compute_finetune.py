"""Fine-tuning one weight matrix through an additive offset, with FT-M and FT-L objectives.

The matrix W is never written: a forward hook adds ``x Dᵀ`` to the module's output and only D
(float32, zero at the start) is trained. Adam on D from 0 takes exactly the steps Adam on W
from W₀ would (its update depends on gradients alone, and ∂L/∂D = ∂L/∂W), so the result equals
the reference's W - W₀ while the model stays untouched even if training fails, and a bf16
model gets an fp32 weight change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from prefedit.editing.base import EditRequest
from prefedit.editing.loss import token_nll
from prefedit.editing.tokens import Batch, encode_rows, key_index
from prefedit.editing.values import logits_at


@contextlib.contextmanager
def weight_offset(module: nn.Module, weight: torch.Tensor, conv1d: bool) -> Iterator[torch.Tensor]:
    """Yield a trainable zero D shaped like ``weight``; while open, the module computes with W + D."""
    offset = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device, requires_grad=True)

    def post(_m: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
        x = args[0].to(offset.dtype)
        extra = x @ offset if conv1d else F.linear(x, offset)  # Conv1D stores W as [in, out]
        return out + extra.to(out.dtype)

    handle = module.register_forward_hook(post)
    try:
        yield offset
    finally:
        handle.remove()


def encode_requests(tokenizer: Any, requests: Sequence[EditRequest]) -> Batch:
    """prompt + target rows; ``key_pos`` is each prompt's last token."""
    keys = [key_index(tokenizer, r.prompt, "last") for r in requests]
    return encode_rows(tokenizer, [r.prompt for r in requests], [r.target for r in requests], keys)


def _row_means(values: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Mean of ``values`` per row, then over rows (the reference's per-example averaging)."""
    sums = torch.zeros(n_rows, device=values.device).index_add(0, rows, values)
    return (sums / torch.bincount(rows, minlength=n_rows)).mean()


def target_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """FT-M: mean NLL of the target tokens of prompt + target (prompt tokens masked)."""
    where = batch.labels != -100
    rows = torch.arange(where.shape[0], device=where.device).unsqueeze(1).expand_as(where)[where]
    logits = logits_at(model, batch.input_ids, batch.attention_mask, where)
    nll = token_nll(logits, batch.labels[where])
    return _row_means(nll, rows, where.shape[0])


def prompt_last_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """FT-L: every target token scored by the distribution at the prompt's last token."""
    n = batch.input_ids.shape[0]
    at_key = torch.zeros_like(batch.labels, dtype=torch.bool)
    at_key[torch.arange(n), batch.key_pos] = True
    logp = torch.log_softmax(logits_at(model, batch.input_ids, batch.attention_mask, at_key).float(), -1)  # [n, V]
    where = batch.labels != -100
    rows = torch.arange(n, device=where.device).unsqueeze(1).expand_as(where)[where]
    return _row_means(-logp[rows, batch.labels[where]], rows, n)


LOSSES = {"ft-m": target_loss, "ft-l": prompt_last_loss}


def finetune_offset(lm: Any, requests: Sequence[EditRequest], layer: int, config: Any, objective: str) -> tuple[torch.Tensor, dict[str, float]]:
    """Train D for the MLP output projection of ``layer``; returns (D in the param's layout, stats)."""
    loss_fn = LOSSES[objective]
    batch = encode_requests(lm.tokenizer, requests).to(lm.device)
    module, weight = lm.arch.module("mlp_out", layer), lm.arch.weight("mlp_out", layer)
    chunks = [slice(i, i + config.batch_size) for i in range(0, len(requests), config.batch_size)]
    mean, steps = float("inf"), 0
    with weight_offset(module, weight, lm.arch.spec.conv1d) as offset:
        opt = torch.optim.Adam([offset], lr=config.lr, weight_decay=config.weight_decay)
        for steps in range(1, config.steps + 1):
            losses = [_step(lm.model, batch, sl, loss_fn, opt, offset, config) for sl in chunks]
            mean = sum(losses) / len(losses)
            if mean < config.early_stop_loss:
                break
    return offset.detach(), {"loss": mean, "steps": float(steps)}


def _step(model: nn.Module, batch: Batch, sl: slice, loss_fn: Any, opt: torch.optim.Optimizer, offset: torch.Tensor, config: Any) -> float:
    part = Batch(batch.input_ids[sl], batch.attention_mask[sl], batch.labels[sl], batch.key_pos[sl])
    width = int(part.attention_mask.sum(1).max())  # drop padding columns this chunk does not need
    part = Batch(part.input_ids[:, :width], part.attention_mask[:, :width], part.labels[:, :width], part.key_pos)
    opt.zero_grad()
    loss = loss_fn(model, part)
    if float(loss.detach()) >= config.early_stop_loss:  # as the reference: no step on an already-learnt chunk
        loss.backward()
        opt.step()
    if config.norm_constraint is not None:
        with torch.no_grad():
            offset.clamp_(-config.norm_constraint, config.norm_constraint)
    return float(loss.detach())
