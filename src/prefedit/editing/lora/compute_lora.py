"""Training a LoRA adapter with peft on the edit prompts, and reading it back as low-rank factors.

peft injects its LoRA layers into the model in place; they are always unloaded again (restoring
the original modules) before this returns, and parameter grad flags are restored by the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from prefedit.deltas import LowRankUpdate
from prefedit.editing.anchors import anchor_requests
from prefedit.editing.base import EditRequest
from prefedit.editing.ft.compute_finetune import encode_requests, target_loss
from prefedit.editing.tokens import Batch

ADAPTER = "prefedit"


def target_paths(lm: Any, config: Any) -> list[str]:
    """Module paths of the adapted components at the configured layers."""
    return [lm.arch.path(c, layer) for layer in config.layer_indices(lm) for c in config.components]


@contextlib.contextmanager
def injected(lm: Any, config: Any) -> Iterator[dict[str, Any]]:
    """Inject LoRA layers (peft) into ``lm.model``; yield {module path: LoRA layer}; unload on exit."""
    from peft import LoraConfig
    from peft.tuners.lora import LoraLayer, LoraModel

    peft_config = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=target_paths(lm, config),
        fan_in_fan_out=lm.arch.spec.conv1d,
        bias="none",
    )
    tuner = LoraModel(lm.model, peft_config, ADAPTER)
    try:
        yield {name: m for name, m in lm.model.named_modules() if isinstance(m, LoraLayer)}
    finally:
        tuner.unload()


def factors(lm: Any, layers: dict[str, Any]) -> list[LowRankUpdate]:
    """ΔW = scaling · B A for each LoRA layer, as ``param += up @ down`` in the param's layout."""
    out = []
    for path, layer in layers.items():
        a = layer.lora_A[ADAPTER].weight.detach().float()  # [r, in]
        b = layer.lora_B[ADAPTER].weight.detach().float()  # [out, r]
        s = float(layer.scaling[ADAPTER])
        if lm.arch.spec.conv1d:  # W is [in, out]: ΔW = s (B A)ᵀ = (s Aᵀ) Bᵀ
            up, down = (s * a.T), b.T
        else:  # the scaling is folded into up, so exporting needs alpha = r
            up, down = s * b, a
        out.append(LowRankUpdate(f"{path}.weight", up.cpu().contiguous(), down.cpu().contiguous()))
    return out


def train_lora(lm: Any, requests: Sequence[EditRequest], config: Any) -> tuple[list[LowRankUpdate], dict[str, float]]:
    """Train the adapter with Adam on the target tokens (prompt tokens masked); return its factors.

    With ``config.anchors``, every step also trains on one anchor (the model's own answer to a
    generic prompt, in rotation), weighted by ``config.anchor_weight``: see ``editing.anchors``.
    """
    anchors = anchor_requests(lm, config.anchors, config.anchor_tokens) if getattr(config, "anchors", 0) else []
    batch = encode_requests(lm.tokenizer, requests).to(lm.device)
    anchor_batch = encode_requests(lm.tokenizer, anchors).to(lm.device) if anchors else None
    chunks = [slice(i, i + config.batch_size) for i in range(0, len(requests), config.batch_size)]
    mean, steps, turn = float("inf"), 0, 0
    with injected(lm, config) as layers:
        params = [p for m in layers.values() for p in (m.lora_A[ADAPTER].weight, m.lora_B[ADAPTER].weight)]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        for steps in range(1, config.steps + 1):
            losses = []
            for sl in chunks:
                anchor = None
                if anchor_batch is not None:
                    anchor = (_rows(anchor_batch, slice(turn % len(anchors), turn % len(anchors) + 1)), config.anchor_weight)
                    turn += 1
                losses.append(_step(lm.model, _rows(batch, sl), opt, config.early_stop_loss, anchor))
            mean = sum(losses) / len(losses)
            if mean < config.early_stop_loss:
                break
        updates = factors(lm, layers)
    return updates, {"loss": mean, "steps": float(steps)}


def _rows(batch: Batch, sl: slice) -> Batch:
    width = int(batch.attention_mask[sl].sum(1).max())
    return Batch(batch.input_ids[sl, :width], batch.attention_mask[sl, :width], batch.labels[sl, :width], batch.key_pos[sl])


def _step(model: Any, batch: Batch, opt: torch.optim.Optimizer, stop: float, anchor: tuple[Batch, float] | None = None) -> float:
    """One Adam step on ``batch`` (skipped once its loss is below ``stop``); returns that loss."""
    opt.zero_grad()
    loss = target_loss(model, batch)
    if float(loss.detach()) >= stop:
        total = loss + anchor[1] * target_loss(model, anchor[0]) if anchor is not None else loss
        total.backward()
        opt.step()
    return float(loss.detach())
