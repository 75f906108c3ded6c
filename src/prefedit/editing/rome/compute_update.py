"""ROME's rank-one update (Meng et al., 2022, eq. 2).

With key k* (the MLP output projection's input at the key token), the projection's output
change delta = v* - W k*, and key covariance C:

    W' = W + delta (C⁻¹ k*)ᵀ / (k*ᵀ C⁻¹ k*),   so that W' k* = v*.

C = I gives the reference work's setting (no covariance).
"""

from __future__ import annotations

import torch


def inverse_times(c: torch.Tensor | None, k: torch.Tensor, ridge: float) -> torch.Tensor:
    """(C + ridge·mean(diag C)·I)⁻¹ k for ``k`` of shape ``[d]`` (C = None means identity)."""
    if c is None:
        return k
    c = c.to(k.device, torch.float64)
    reg = c + ridge * c.diagonal().mean() * torch.eye(c.shape[0], dtype=c.dtype, device=c.device)
    return torch.linalg.solve(reg, k.double()).to(k.dtype)


def rank_one_update(k_star: torch.Tensor, delta: torch.Tensor, c: torch.Tensor | None, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors (up ``[d_out, 1]``, down ``[1, d_in]``) of the update in ``[out, in]`` layout."""
    u = inverse_times(c, k_star, ridge)
    down = (u / torch.dot(u, k_star)).unsqueeze(0)
    return delta.unsqueeze(1), down
