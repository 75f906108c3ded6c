"""AlphaEdit's null-space projector P (Fang et al., 2025, section 3.2).

With the preserved keys' second moment C = E[k₀k₀ᵀ] = U Λ Uᵀ, P = Û Ûᵀ where Û holds the
eigenvectors whose eigenvalues are (near) zero, so P K₀ ≈ 0 and any update of the form Δ P
leaves the outputs on preserved keys unchanged. Projectors are cached next to the key
statistics under ``$PREFEDIT_CACHE/stats/<fingerprint>/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from prefedit.editing.stats import key_second_moment, save_tensors
from prefedit.settings import Settings, get_settings

log = logging.getLogger(__name__)


def null_space_projector(cov: torch.Tensor, energy: float) -> torch.Tensor:
    """P ``[d, d]`` onto the smallest eigen-directions of ``cov`` holding at most ``energy`` of its trace.

    Then ||P K₀||² ≤ energy · ||K₀||² for the keys K₀ that ``cov`` was estimated from. Why not the
    reference's rule (raw eigenvalues below an absolute 2e-2): that depends on the scale and
    sparsity of a model's activations; a fraction of E||k₀||² states the guarantee directly and
    carries across models.
    """
    evals, evecs = torch.linalg.eigh(cov.double())  # ascending
    cum = torch.cumsum(evals.clamp(min=0), 0) / evals.clamp(min=0).sum().clamp(min=1e-30)
    u = evecs[:, cum <= energy]
    return (u @ u.T).float()


def _path(lm: Any, layer: int, corpus: str, n_tokens: int, energy: float, settings: Settings) -> Path:
    return settings.cache_dir / "stats" / lm.fingerprint / corpus / f"nullspace-layer{layer}-{n_tokens}-{energy:g}.safetensors"


def projectors(
    lm: Any, layers: Sequence[int], *, corpus: str, n_tokens: int, energy: float, settings: Settings | None = None
) -> dict[int, tuple[torch.Tensor, float]]:
    """(P, mean eigenvalue of C) for each layer, from the cache or computed from :func:`key_second_moment` now.

    The mean eigenvalue tr(C)/d is the scale in which AlphaEdit's ridge is given.
    """
    settings = settings or get_settings()
    out: dict[int, tuple[torch.Tensor, float]] = {}
    missing = [layer for layer in layers if not _path(lm, layer, corpus, n_tokens, energy, settings).exists()]
    covs = key_second_moment(lm, missing, corpus=corpus, n_tokens=n_tokens, settings=settings) if missing else {}
    for layer in layers:
        path = _path(lm, layer, corpus, n_tokens, energy, settings)
        if layer in covs:
            proj, scale = null_space_projector(covs[layer], energy), covs[layer].diagonal().mean()
            log.info("null space of layer %d: rank %d of %d", layer, round(float(proj.trace())), proj.shape[0])
            save_tensors({"P": proj, "scale": scale.reshape(1).float()}, path)
        else:
            stored = load_file(str(path))
            proj, scale = stored["P"], stored["scale"][0]
        out[layer] = (proj, float(scale))
    return out
