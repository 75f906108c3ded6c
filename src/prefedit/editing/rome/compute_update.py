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


def update_direction(k_star: torch.Tensor, c: torch.Tensor | None, ridge: float) -> torch.Tensor:
    """The update's input-side factor ``[1, d_in]``: C⁻¹k* / (k*ᵀC⁻¹k*), so that down · k* = 1."""
    u = inverse_times(c, k_star, ridge)
    return (u / torch.dot(u, k_star)).unsqueeze(0)


def rank_one_update(k_star: torch.Tensor, delta: torch.Tensor, c: torch.Tensor | None, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors (up ``[d_out, 1]``, down ``[1, d_in]``) of the update in ``[out, in]`` layout."""
    return delta.unsqueeze(1), update_direction(k_star, c, ridge)


def metric(c: torch.Tensor | None, preserved: torch.Tensor | None, weight: float, ridge: float, dim: int) -> torch.Tensor:
    """M = C + weight · K0ᵀK0 / n + ridge · mean(diag) · I (float64): the norm the update is small in.

    ``preserved`` (``[n, d_in]``) holds keys the edit must leave alone, e.g. the answer-start
    keys of generic chat prompts (AlphaEdit's K0, Fang et al. 2025, used here as a soft term).
    """
    m = torch.eye(dim, dtype=torch.float64) if c is None else c.double().clone()
    if preserved is not None and weight > 0:
        k0 = preserved.double()
        m = m + weight * (k0.T @ k0) / k0.shape[0]
    return m + ridge * m.diagonal().mean() * torch.eye(dim, dtype=torch.float64)


def joint_update(keys: torch.Tensor, deltas: torch.Tensor, m: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest update in M's norm with ΔW k_i = delta_i for every request (rank ≤ R).

    keys ``[R, d_in]``, deltas ``[R, d_out]``; returns (up ``[d_out, R]``, down ``[R, d_in]``) with
    ΔW = Dᵀ (K M⁻¹ Kᵀ)⁻¹ K M⁻¹ — ROME's constrained least squares with several keys at once.
    """
    k = keys.double()
    minv_kt = torch.linalg.solve(m, k.T)  # [d_in, R]
    gram = k @ minv_kt  # [R, R]
    gram = gram + eps * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
    down = torch.linalg.solve(gram, minv_kt.T)  # [R, d_in]
    return deltas.double().T.float(), down.float()
