"""A low-precision copy of a loaded model for editors' inner loops.

Optimising an edit's value vectors runs the model's upper layers forward and backward tens of
times on a few tokens each; on a CPU with bfloat16 instructions (AVX512-BF16, AMX) or on a
GPU those matrix products are about four times as fast in bfloat16 as in float32. The model
itself stays as loaded (answers are generated in its own dtype); an editor that asks for a
twin runs its search on a cached copy whose weights are the model's, cast.

The copy is taken only of a clean model: while a delta is applied (``apply_delta``) or any
forward hook sits on the model (a serving router, a capture), the twin would not see it, so
the model itself is returned and the editor computes in its own dtype, exactly as before.
"""

from __future__ import annotations

import copy
import functools
import logging
from pathlib import Path
from typing import Any

import torch

from prefedit.errors import ConfigError
from prefedit.models.load import DTYPES

log = logging.getLogger(__name__)

COMPUTE_DTYPES = ("model", "auto", *DTYPES)
"""Choices of an editor's ``compute_dtype``: the model's own, ``auto`` (bfloat16 where the
device computes it fast, else the model's own), or a named dtype."""


def check_compute_dtype(value: str) -> None:
    if value not in COMPUTE_DTYPES:
        raise ConfigError(f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {value!r}")


@functools.cache
def _cpu_has_fast_bf16() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (Linux /proc/cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_compute_dtype(value: str, device: torch.device, model_dtype: torch.dtype) -> torch.dtype:
    """The torch dtype ``value`` (one of ``COMPUTE_DTYPES``) names on ``device``."""
    check_compute_dtype(value)
    if value == "model":
        return model_dtype
    if value == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and _cpu_has_fast_bf16():
            return torch.bfloat16
        return model_dtype
    return DTYPES[value]


def _has_hooks(model: torch.nn.Module) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def _stamp(model: torch.nn.Module) -> tuple[tuple[int, int], ...]:
    """Changes whenever a parameter is replaced or written in place."""
    return tuple((id(p), p._version) for p in model.parameters())


def compute_twin(lm: Any, dtype: torch.dtype) -> Any:
    """``lm`` computing in ``dtype``: ``lm`` itself when it already does, carries an applied
    delta or has forward hooks; else a copy (same tokenizer and fingerprint, eager attention:
    the fused CPU attention's backward is slow in bfloat16; for grouped-query families the
    eager computation without its per-head key/value copies, ``prefedit.models.attention``)
    cached on ``lm`` until its weights change. The copy holds the weights once, in ``dtype``."""
    from prefedit.deltas.delta import applied_deltas
    from prefedit.models.arch import ArchAdapter
    from prefedit.models.load import LoadedModel

    model = lm.model
    if lm.dtype == dtype or applied_deltas(lm) or _has_hooks(model):
        return lm
    stamp = _stamp(model)
    cached = getattr(lm, "_compute_twin", None)
    if cached is not None and cached[0] == dtype and cached[1] == stamp:
        return cached[2]
    lm._compute_twin = None  # drop the old copy before building the new one
    # Each parameter is cast straight into the copy (tied weights stay tied: one memo entry).
    memo = {id(p): torch.nn.Parameter(p.detach().to(dtype), requires_grad=False) for p in model.parameters()}
    twin = copy.deepcopy(model, memo).to(dtype).eval()
    if hasattr(twin, "set_attn_implementation"):
        from prefedit.models.attention import register, supports_grouped

        name = register() if supports_grouped(twin) else "eager"
        try:
            twin.set_attn_implementation(name)
        except (ValueError, ImportError) as exc:  # keep the copy's own attention
            log.debug("%s attention unavailable for the compute twin: %s", name, exc)
    twin_lm = LoadedModel(model=twin, tokenizer=lm.tokenizer, name=lm.name, fingerprint=lm.fingerprint, arch=ArchAdapter(twin))
    lm._compute_twin = (dtype, stamp, twin_lm)
    return twin_lm
