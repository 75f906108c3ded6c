"""A fingerprint of a model's base weights, so an edit made for one model is never applied to another."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

_SAMPLES_PER_TENSOR = 4096


def fingerprint_model(model: nn.Module) -> str:
    """sha256 over every parameter's name, shape, dtype and a fixed strided sample of its values.

    Sampling keeps this fast on multi-GB models while any real difference of checkpoints
    (architecture, size, or training) changes it. Call it on the *base* weights.
    """
    h = hashlib.sha256()
    for name, p in model.state_dict().items():
        flat = p.detach().reshape(-1)
        step = max(1, flat.numel() // _SAMPLES_PER_TENSOR)
        sample = flat[::step][:_SAMPLES_PER_TENSOR].to(torch.float32).cpu().contiguous()
        h.update(f"{name}|{tuple(p.shape)}|{p.dtype}|".encode())
        h.update(sample.numpy().tobytes())
    return h.hexdigest()[:16]
