"""The GRACE editor: a codebook of (key -> replacement output) at one MLP output projection.

Rule: at layer l, if the input h at a position lies within radius ε_i of the nearest key k_i,
the layer's output there is replaced by the trained value v_i; otherwise it is left alone
(Hartvigsen et al., 2023, "Aging with GRACE: Lifelong Model Editing with Discrete Key-Value
Adaptors", arXiv 2211.11031). The delta is a CodebookPatch, not a weight change: it cannot be
exported as a LoRA adapter. Why the values start from the layer's own output ("warm", a GRACE
option) rather than random ("cold", EasyEdit's default): it is deterministic and converges in
fewer steps. Why radii are relative to the key norm: absolute radii (the reference's ε = 1) do
not carry across models whose activations differ in scale.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from prefedit.deltas import Delta
from prefedit.editing.base import EditPlan, edit_info, register_editor
from prefedit.editing.grace.compute_codebook import codebook_patch
from prefedit.editing.grace.config import GraceConfig, default_config

log = logging.getLogger(__name__)


@register_editor("grace", help="codebook of keys -> replacement values at one layer, with a deferral radius (Hartvigsen et al. 2023)")
class GraceEditor:
    name = "grace"
    config_class = GraceConfig
    modes = ("independent", "sequential", "batch")

    def default_config(self, lm: Any) -> GraceConfig:
        return default_config(lm)

    def compute(self, lm: Any, plan: EditPlan, config: GraceConfig | None = None) -> Delta:
        """A codebook patch with one entry per request; ``lm`` is left exactly as it was."""
        config = config or self.default_config(lm)
        torch.manual_seed(config.seed)
        layer = config.layer_index(lm)
        patch, stats = codebook_patch(lm, plan.requests, layer, config, plan.guard_prompts)
        log.debug("grace layer %d: nll %.3f after %d steps (%d warm-start steps)", layer, stats["nll"], stats["steps"], stats["warm_steps"])
        info = edit_info(self.name, lm, config, plan, layer=layer, target_nll=stats["nll"], search_dtype=stats["search_dtype"])
        return Delta(info=info, patches=[patch])
