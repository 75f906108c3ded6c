"""Fine-tuning baselines: full fine-tuning (``sft-full``) and LoRA fine-tuning (``sft-lora``, peft)
on a user's preference question-answer pairs, a few epochs, returned as a Delta.

The QA pairs are the explicit question, "What is my <subject>?" and the cluster questions given
in the data, each answered with the target (cluster targets in turn), rendered with the chat
template and the fixed system prompt; the loss is on the answer tokens only. The model is left
exactly as it was: full fine-tuning restores the saved weights, LoRA is unloaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from prefedit.deltas import Delta, DeltaInfo, DenseUpdate
from prefedit.editing.base import EditRequest
from prefedit.models.chat import chat_prompt
from prefedit.preferences.types import Preference


@dataclass(frozen=True, kw_only=True)
class SftConfig:
    """A few epochs of Adam on the QA pairs (one batch per epoch)."""

    epochs: int = field(default=8, metadata={"help": "passes over the QA pairs"})
    lr_full: float = field(default=2e-5, metadata={"help": "Adam learning rate of full fine-tuning"})
    lr_lora: float = field(default=2e-3, metadata={"help": "Adam learning rate of the LoRA factors"})
    rank: int = field(default=8, metadata={"help": "LoRA rank"})
    alpha: float = field(default=16.0, metadata={"help": "LoRA alpha"})
    max_pairs: int = field(default=12, metadata={"help": "cap on QA pairs per preference"})
    seed: int = field(default=0, metadata={"help": "torch seed"})


def qa_requests(lm: Any, pref: Preference, max_pairs: int = 12) -> list[EditRequest]:
    """The preference's QA pairs as chat-formatted (prompt, answer) requests."""
    questions = list(dict.fromkeys([pref.explicit_question, f"What is my {pref.subject}?", *pref.given_questions]))[:max_pairs]
    answers = [pref.target, *pref.given_targets]
    return [
        EditRequest(prompt=chat_prompt(lm.tokenizer, q), target=answers[i % len(answers)], preference_id=pref.id)
        for i, q in enumerate(questions)
    ]


def _info(lm: Any, pref: Preference, name: str, config: SftConfig, seconds: float, loss: float) -> DeltaInfo:
    from prefedit.config import config_to_dict

    return DeltaInfo(editor=name, fingerprint=lm.fingerprint, config=config_to_dict(config), preference_ids=[pref.id],
                     dtype=str(lm.dtype).removeprefix("torch."), extra={"method": name, "seconds": seconds, "loss": loss})


def _grad_flags(model: Any) -> dict[str, bool]:
    return {n: p.requires_grad for n, p in model.named_parameters()}


def _restore_flags(model: Any, flags: dict[str, bool]) -> None:
    for n, p in model.named_parameters():
        p.requires_grad_(flags.get(n, False))


def full_delta(lm: Any, pref: Preference, config: SftConfig | None = None) -> Delta:
    """Adam on every parameter; the delta is the dense weight change."""
    from prefedit.editing.ft.compute_finetune import encode_requests, target_loss

    config = config or SftConfig()
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    model = lm.model
    params = dict(model.named_parameters())
    saved = {n: p.detach().clone() for n, p in params.items()}
    flags = _grad_flags(model)
    batch = encode_requests(lm.tokenizer, qa_requests(lm, pref, config.max_pairs)).to(lm.device)
    loss = float("nan")
    try:
        for p in params.values():
            p.requires_grad_(True)
        opt = torch.optim.Adam(params.values(), lr=config.lr_full)
        for _ in range(config.epochs):
            opt.zero_grad()
            out = target_loss(model, batch)
            out.backward()
            opt.step()
            loss = float(out.detach())
        del opt
        updates = [DenseUpdate(n, (p.detach().float() - saved[n].float()).cpu()) for n, p in params.items()]
    finally:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(saved[n])
                p.grad = None
        _restore_flags(model, flags)
    updates = [u for u in updates if bool(u.diff.any())]
    return Delta(info=_info(lm, pref, "sft-full", config, time.perf_counter() - start, loss), updates=updates)  # type: ignore[arg-type]


def lora_delta(lm: Any, pref: Preference, config: SftConfig | None = None) -> Delta:
    """A LoRA adapter (peft) on every layer's attention output and MLP projections."""
    from prefedit.editing.lora.compute_lora import train_lora
    from prefedit.editing.lora.config import LoraEditConfig

    config = config or SftConfig()
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    lora = LoraEditConfig(layers=None, components=("mlp_in", "mlp_out", "attn_out"), rank=config.rank, alpha=config.alpha,
                          steps=config.epochs, lr=config.lr_lora, batch_size=config.max_pairs, early_stop_loss=0.0, seed=config.seed)
    flags = _grad_flags(lm.model)
    try:
        updates, stats = train_lora(lm, qa_requests(lm, pref, config.max_pairs), lora)
    finally:
        _restore_flags(lm.model, flags)
    return Delta(info=_info(lm, pref, "sft-lora", config, time.perf_counter() - start, stats["loss"]), updates=list(updates))
