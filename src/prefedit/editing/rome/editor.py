"""The ROME editor: one rank-one update of one MLP output projection per request.

Update rule: W' = W + (v* - W k*)(C⁻¹k*)ᵀ / (k*ᵀC⁻¹k*) (Meng et al., 2022, "Locating and
Editing Factual Associations in GPT", https://rome.baulab.info). Several requests are applied
one after another (each computed on the model with the earlier ones applied, as the reference
does for its clusters) and returned as one delta of rank = number of requests.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from prefedit.config import config_to_dict
from prefedit.deltas import Delta, DeltaInfo, LowRankUpdate, apply_delta, compose, revert_delta
from prefedit.editing.base import EditPlan, register_editor
from prefedit.editing.rome.compute_update import rank_one_update
from prefedit.editing.rome.config import RomeConfig, default_config
from prefedit.editing.stats import key_second_moment
from prefedit.editing.values import ValueSettings, keys_at, optimize_values

log = logging.getLogger(__name__)


@register_editor("rome", help="rank-one update of one MLP output matrix, key covariance optional (Meng et al. 2022)")
class RomeEditor:
    name = "rome"
    config_class = RomeConfig

    def default_config(self, lm: Any) -> RomeConfig:
        return default_config(lm)

    def compute(self, lm: Any, plan: EditPlan, config: RomeConfig | None = None) -> Delta:
        """A rank-len(plan.requests) Delta; ``lm`` is left exactly as it was."""
        config = config or self.default_config(lm)
        torch.manual_seed(config.seed)
        layer = config.layer_index(lm)
        cov = key_second_moment(lm, [layer], corpus=config.corpus, n_tokens=config.stats_tokens)[layer] if config.use_covariance else None
        parts: list[Delta] = []
        try:
            for req in plan.requests:
                part = self._one(lm, plan, req, layer, cov, config)
                apply_delta(lm, part)  # the next request sees this edit, as in the reference
                parts.append(part)
        finally:
            for part in reversed(parts):
                revert_delta(lm, part)
        delta = compose(parts, editor=self.name)
        delta.info.config = config_to_dict(config)
        delta.info.preference_ids = plan.preference_ids
        delta.info.extra = {"layer": layer, "style": plan.style}
        return delta

    def _one(self, lm: Any, plan: EditPlan, req: Any, layer: int, cov: torch.Tensor | None, config: RomeConfig) -> Delta:
        module = lm.arch.module("mlp_out", layer)
        settings = ValueSettings(
            steps=config.steps,
            lr=config.lr,
            kl_factor=config.kl_factor,
            weight_decay=config.weight_decay,
            clamp_norm=config.clamp_norm,
            early_stop_nll=config.early_stop_nll,
            prefixes=config.context_prefixes,
        )
        _v0, delta, stats = optimize_values(lm, module, [req], plan.kl_prompts, settings)
        k_star = keys_at(lm, module, [req], config.context_prefixes)[0]
        up, down = rank_one_update(k_star, delta[0], cov, config.ridge)
        log.debug("rome layer %d: nll %.3f after %d steps", layer, stats["nll"], stats["steps"])
        if lm.arch.spec.conv1d:  # Conv1D stores W as [in, out]
            up, down = down.t(), up.t()
        dtype = str(lm.dtype).removeprefix("torch.")
        info = DeltaInfo(editor=self.name, fingerprint=lm.fingerprint, preference_ids=[req.preference_id] if req.preference_id else [], dtype=dtype)
        param = lm.arch.weight_name("mlp_out", layer)
        return Delta(info=info, updates=[LowRankUpdate(param, up.detach().cpu().contiguous(), down.detach().cpu().contiguous())])
