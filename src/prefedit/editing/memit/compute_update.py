"""MEMIT's layer update and its spreading over layers (Meng et al., 2023, eqs. 14 and 20).

For keys K ``[d_in, n]`` (MLP output projection inputs at the key tokens), residuals R
``[d_out, n]`` still missing at this layer and the key second moment C, the update

    Δ = R Kᵀ (K Kᵀ + λ C)⁻¹

minimises ||Δ K - R||² + λ tr(Δ C Δᵀ): the new associations are written while keys typical of
ordinary text (C) are disturbed little. Its rank is at most n, so it is kept as factors
``up = R`` and ``down = ((K Kᵀ + λ C)⁻¹ K)ᵀ``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from prefedit.deltas import Delta, DeltaInfo, LowRankUpdate, apply_delta, revert_delta
from prefedit.editing.base import EditRequest
from prefedit.editing.memit.compute_targets import keys_and_outputs

# (layer, K [n, d_in], R [n, d_out]) -> (up [d_out, r], down [r, d_in]) in [out, in] layout
LayerSolver = Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def least_squares_update(keys: torch.Tensor, resid: torch.Tensor, cov: torch.Tensor | None, weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors of Δ = R Kᵀ (K Kᵀ + λC)⁻¹ for keys ``[n, d_in]`` and residuals ``[n, d_out]``.

    Returns (up ``[d_out, n]``, down ``[n, d_in]``), float32. ``cov=None`` means C = I.
    """
    k = keys.double().T  # [d_in, n]
    c = torch.eye(k.shape[0], dtype=k.dtype, device=k.device) if cov is None else cov.to(k.device, torch.float64)
    down = torch.linalg.solve(k @ k.T + weight * c, k).T  # [n, d_in]
    return resid.T.float().contiguous(), down.float().contiguous()


def to_param_layout(lm: Any, up: torch.Tensor, down: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[out, in] factors in the parameter's own layout (Conv1D stores W as [in, out])."""
    if lm.arch.spec.conv1d:
        return down.T.contiguous(), up.T.contiguous()
    return up, down


def layer_delta(lm: Any, layer: int, up: torch.Tensor, down: torch.Tensor, editor: str) -> Delta:
    """A one-update Delta on the MLP output projection of ``layer`` from [out, in] factors."""
    up, down = to_param_layout(lm, up, down)
    info = DeltaInfo(editor=editor, fingerprint=lm.fingerprint, dtype=str(lm.dtype).removeprefix("torch."))
    update = LowRankUpdate(lm.arch.weight_name("mlp_out", layer), up.detach().cpu(), down.detach().cpu())
    return Delta(info=info, updates=[update])


def spread_over_layers(
    lm: Any,
    requests: Sequence[EditRequest],
    layers: Sequence[int],
    z: torch.Tensor,
    prefixes: Sequence[str],
    solve: LayerSolver,
    editor: str,
    after: Callable[[], None] | None = None,
) -> list[Delta]:
    """MEMIT's loop: layer by layer, write 1/(layers left) of what the residual still misses.

    Each layer's keys and the current last-layer output are read with the earlier layers'
    updates applied (as in the paper's Algorithm 1). ``after`` runs with every update applied,
    just before they are reverted; ``lm`` is left unchanged.
    """
    last = lm.arch.module("block_out", layers[-1])
    parts: list[Delta] = []
    try:
        for i, layer in enumerate(layers):
            keys, current = keys_and_outputs(lm, lm.arch.module("mlp_out", layer), last, requests, prefixes)
            resid = (z - current) / (len(layers) - i)
            up, down = solve(layer, keys, resid)
            part = layer_delta(lm, layer, up, down, editor)
            apply_delta(lm, part)
            parts.append(part)
        if after is not None:
            after()
    finally:
        for part in reversed(parts):
            revert_delta(lm, part)
    return parts
