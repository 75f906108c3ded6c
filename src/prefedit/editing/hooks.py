"""Forward hooks used by editors: capture a module's input/output, add a vector at positions, stop early.

Every hook is installed in a context manager and removed in ``finally``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn


class StopForward(Exception):
    """Raised by a hook to end a forward pass once the needed activations are captured."""


@contextlib.contextmanager
def capture(module: nn.Module, *, inputs: bool = True, stop: bool = False) -> Iterator[list[torch.Tensor]]:
    """Collect the module's first input (or its output) on every forward; optionally stop the pass."""
    store: list[torch.Tensor] = []

    def pre(_m: nn.Module, args: tuple[Any, ...]) -> None:
        store.append(args[0].detach())
        if stop:
            raise StopForward

    def post(_m: nn.Module, _args: tuple[Any, ...], out: Any) -> None:
        store.append((out[0] if isinstance(out, tuple) else out).detach())
        if stop:
            raise StopForward

    handle = module.register_forward_pre_hook(pre) if inputs else module.register_forward_hook(post)
    try:
        yield store
    finally:
        handle.remove()


@torch.no_grad()
def module_inputs(lm: Any, module: nn.Module, text: str) -> torch.Tensor:
    """``module``'s first input at every token of ``text`` (``[tokens, d_in]``); the forward
    stops at the module."""
    ids = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids.to(lm.device)
    with capture(module, stop=True) as seen, contextlib.suppress(StopForward):
        lm.model(input_ids=ids, use_cache=False)
    return seen[0][0]


@contextlib.contextmanager
def add_at_positions(module: nn.Module, vector: torch.Tensor, positions: torch.Tensor) -> Iterator[None]:
    """Add ``vector`` ([d] or [B, d]) to the module's output at ``positions`` ([B]) of each row."""

    def post(_m: nn.Module, _args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(out.shape[0], device=out.device)
        add = torch.zeros_like(out)
        add[rows, positions.to(out.device)] = vector.to(out.dtype)
        return out + add

    handle = module.register_forward_hook(post)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Turn off requires_grad on every parameter, restoring the previous flags afterwards."""
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        yield
    finally:
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])
