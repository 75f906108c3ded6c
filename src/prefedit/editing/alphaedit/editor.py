"""The AlphaEdit editor: MEMIT's update projected onto the null space of preserved keys.

Update rule per layer l: Δ_l = R_l K_lᵀ P_l (Kp Kpᵀ P_l + K_l K_lᵀ P_l + αI)⁻¹, with P_l the
projector onto the null space of the preserved keys' second moment and Kp the keys of earlier
edits (Fang et al., 2025, "AlphaEdit: Null-Space Constrained Knowledge Editing for Language
Models", arXiv 2410.02355). For sequential editing pass the returned :class:`AlphaEditState`
to the next call of :meth:`AlphaEditEditor.compute_with_state`.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from prefedit.config import config_to_dict
from prefedit.deltas import Delta, compose
from prefedit.editing.alphaedit.compute_projection import projectors
from prefedit.editing.alphaedit.compute_update import AlphaEditState, projected_update
from prefedit.editing.alphaedit.config import AlphaEditConfig, default_config
from prefedit.editing.base import EditPlan, register_editor
from prefedit.editing.memit.compute_targets import residual_targets
from prefedit.editing.memit.compute_update import spread_over_layers
from prefedit.editing.values import keys_at

log = logging.getLogger(__name__)


@register_editor("alphaedit", help="MEMIT update projected onto the null space of preserved keys (Fang et al. 2025)")
class AlphaEditEditor:
    name = "alphaedit"
    config_class = AlphaEditConfig
    modes = ("independent", "sequential", "batch")

    def default_config(self, lm: Any) -> AlphaEditConfig:
        return default_config(lm)

    def initial_state(self) -> AlphaEditState:
        return AlphaEditState()

    def compute(self, lm: Any, plan: EditPlan, config: AlphaEditConfig | None = None, *, state: AlphaEditState | None = None) -> Delta:
        """One low-rank update per edited layer; ``lm`` is left exactly as it was."""
        return self.compute_with_state(lm, plan, config, state)[0]

    def compute_with_state(
        self, lm: Any, plan: EditPlan, config: AlphaEditConfig | None = None, state: AlphaEditState | None = None
    ) -> tuple[Delta, AlphaEditState]:
        """The delta and the state after it (earlier edits' keys plus this plan's)."""
        config = config or self.default_config(lm)
        state = state or AlphaEditState()
        torch.manual_seed(config.seed)
        layers = config.layer_indices(lm)
        projs = projectors(lm, layers, corpus=config.corpus, n_tokens=config.stats_tokens, energy=config.nullspace_energy)
        z, stats = residual_targets(lm, layers[-1], plan.requests, plan.kl_prompts, config)

        def solve(layer: int, keys: torch.Tensor, resid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            proj, scale = projs[layer]
            return projected_update(keys, resid, proj, state.prior(layer), config.ridge * scale)

        new_keys: dict[int, torch.Tensor] = {}

        def record() -> None:  # keys once every layer is updated, as the reference accumulates them
            for layer in layers:
                new_keys[layer] = keys_at(lm, lm.arch.module("mlp_out", layer), plan.requests, config.context_prefixes)

        parts = spread_over_layers(lm, plan.requests, layers, z, config.context_prefixes, solve, self.name, after=record)
        delta = compose(parts, editor=self.name)
        delta.info.config = config_to_dict(config)
        delta.info.preference_ids = plan.preference_ids
        delta.info.extra = {"layers": layers, "style": plan.style, "target_nll": stats["nll"], "prior_edits": state.edits}
        log.debug("alphaedit layers %s after %d earlier edits: target nll %.3f", layers, state.edits, stats["nll"])
        return delta, state.added(new_keys)
