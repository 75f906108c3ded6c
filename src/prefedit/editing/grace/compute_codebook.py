"""GRACE's codebook entries: key = the layer's input at the key token, value = its trained output.

A value is trained so that replacing the layer's output with it at the key token makes the
model produce the target (teacher-forced NLL); the shared value optimisation does exactly that
when run without KL, decay or norm clamp, since replacing by v equals adding v - v₀. Entries with
different targets whose deferral balls overlap have both radii cut to half their distance
(GRACE's split rule), so no prompt is sent to the wrong value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from prefedit.deltas import CodebookPatch
from prefedit.editing.base import EditRequest
from prefedit.editing.values import ValueSettings, optimize_values

NO_CLAMP = 1e6  # GRACE does not bound its values


def split_overlaps(keys: torch.Tensor, radii: torch.Tensor, labels: Sequence[str]) -> torch.Tensor:
    """Radii with every overlapping pair of differently labelled entries cut to half their distance."""
    radii = radii.clone()
    dist = torch.cdist(keys, keys)
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            if labels[i] != labels[j] and dist[i, j] < radii[i] + radii[j]:
                half = dist[i, j] / 2
                radii[i], radii[j] = torch.minimum(radii[i], half), torch.minimum(radii[j], half)
    return radii


def codebook_patch(lm: Any, requests: Sequence[EditRequest], layer: int, config: Any) -> tuple[CodebookPatch, dict[str, float]]:
    """One entry per request at the layer's MLP output projection."""
    module = lm.arch.module("mlp_out", layer)
    settings = ValueSettings(
        steps=config.steps,
        lr=config.lr,
        kl_factor=0.0,
        weight_decay=0.0,
        clamp_norm=NO_CLAMP,
        early_stop_nll=config.early_stop_nll,
        warm_start=config.warm_start,
        per_request_stop=config.per_request_stop,
    )
    found = optimize_values(lm, module, requests, (), settings, layer=layer)
    v0, delta, stats, keys = found.v0, found.delta, found.stats, found.keys
    radii = split_overlaps(keys, config.radius * keys.norm(dim=1), [r.target for r in requests])
    patch = CodebookPatch(
        module=lm.arch.path("mlp_out", layer),
        keys=keys.cpu().contiguous(),
        values=(v0 + delta).cpu().contiguous(),
        radii=radii.cpu().contiguous(),
    )
    return patch, stats
