"""AlphaEdit's projected update (Fang et al., 2025, eq. 14).

With keys K ``[d_in, n]``, residuals R ``[d_out, n]``, null-space projector P and the
accumulated keys of earlier edits Kp:

    Δ = R Kᵀ P (Kp Kpᵀ P + K Kᵀ P + α I)⁻¹

so Δ K₀ ≈ 0 for every preserved key (Δ lies in the row space of P), and earlier edits are
kept by the Kp Kpᵀ term. Δᵀ = (P(K Kᵀ + Kp Kpᵀ) + α I)⁻¹ P K Rᵀ is solved directly; its rank is
at most n, kept as ``up = R`` and ``down = ((P(KKᵀ + KpKpᵀ) + αI)⁻¹ P K)ᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def projected_update(
    keys: torch.Tensor, resid: torch.Tensor, proj: torch.Tensor, prior: torch.Tensor | None, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors (up ``[d_out, n]``, down ``[n, d_in]``, float32) for keys ``[n, d_in]``, residuals ``[n, d_out]``."""
    k = keys.double().T  # [d_in, n]
    p = proj.to(k.device, torch.float64)
    m = k @ k.T
    if prior is not None:
        m = m + prior.to(k.device, torch.float64)
    a = p @ m + alpha * torch.eye(m.shape[0], dtype=m.dtype, device=m.device)
    down = torch.linalg.solve(a, p @ k).T  # [n, d_in]
    return resid.T.float().contiguous(), down.float().contiguous()


@dataclass(frozen=True)
class AlphaEditState:
    """What sequential AlphaEdit carries from one edit to the next: Σ k kᵀ of earlier edits per layer.

    ``kkt[layer]`` is ``[d_in, d_in]`` float32 (CPU); ``edits`` counts the plans recorded.
    """

    kkt: dict[int, torch.Tensor] = field(default_factory=dict)
    edits: int = 0

    def prior(self, layer: int) -> torch.Tensor | None:
        return self.kkt.get(layer)

    def added(self, keys: dict[int, torch.Tensor]) -> AlphaEditState:
        """A new state with ``keys[layer]`` (``[n, d_in]``) accumulated."""
        kkt = dict(self.kkt)
        for layer, k in keys.items():
            outer = (k.double().T @ k.double()).float().cpu()
            kkt[layer] = kkt[layer] + outer if layer in kkt else outer
        return AlphaEditState(kkt=kkt, edits=self.edits + 1)
