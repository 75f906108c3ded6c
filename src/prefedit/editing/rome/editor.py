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
from prefedit.editing.rome.compute_update import joint_update, metric, update_direction
from prefedit.editing.rome.config import RomeConfig, default_config
from prefedit.editing.stats import answer_start_keys, key_second_moment
from prefedit.editing.values import ValueSettings, optimize_values

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
        preserved = answer_start_keys(lm, layer, corpus=config.corpus) if config.preserve_weight > 0 else None
        dim = lm.arch.weight_out_in("mlp_out", layer).shape[1]
        m = metric(cov, preserved, config.preserve_weight, config.ridge, dim) if (cov is not None or preserved is not None) else None
        if config.joint:
            delta = self._joint(lm, plan, layer, m, config)
        else:
            delta = compose(self._sequential(lm, plan, layer, m, config), editor=self.name)
        delta.info.config = config_to_dict(config)
        delta.info.preference_ids = plan.preference_ids
        delta.info.extra = {"layer": layer, "style": plan.style}
        return delta

    def _sequential(self, lm: Any, plan: EditPlan, layer: int, m: torch.Tensor | None, config: RomeConfig) -> list[Delta]:
        parts: list[Delta] = []
        try:
            for req in plan.requests:
                part = self._one(lm, plan, req, layer, m, config)
                apply_delta(lm, part)  # the next request sees this edit, as in the reference
                parts.append(part)
        finally:
            for part in reversed(parts):
                revert_delta(lm, part)
        return parts

    def _joint(self, lm: Any, plan: EditPlan, layer: int, m: torch.Tensor | None, config: RomeConfig) -> Delta:
        """All requests in one solve: values optimised together, then ΔW K = D exactly."""
        module = lm.arch.module("mlp_out", layer)
        found = optimize_values(lm, module, plan.requests, plan.kl_prompts, ValueSettings.from_config(config), layer=layer)
        keys, deltas, stats = found.keys, found.delta, found.stats
        if m is None:
            m = metric(None, None, 0.0, 0.0, keys.shape[1])
        up, down = joint_update(keys.cpu(), deltas.cpu(), m)
        log.debug("rome joint layer %d: %d requests, nll %.3f after %d steps", layer, len(plan.requests), stats["nll"], stats["steps"])
        return self._delta(lm, layer, up, down, plan.preference_ids)

    def _delta(self, lm: Any, layer: int, up: torch.Tensor, down: torch.Tensor, pref_ids: list[str]) -> Delta:
        if lm.arch.spec.conv1d:  # Conv1D stores W as [in, out]
            up, down = down.t(), up.t()
        dtype = str(lm.dtype).removeprefix("torch.")
        info = DeltaInfo(editor=self.name, fingerprint=lm.fingerprint, preference_ids=pref_ids, dtype=dtype)
        param = lm.arch.weight_name("mlp_out", layer)
        return Delta(info=info, updates=[LowRankUpdate(param, up.detach().cpu().contiguous(), down.detach().cpu().contiguous())])

    def _one(self, lm: Any, plan: EditPlan, req: Any, layer: int, m: torch.Tensor | None, config: RomeConfig) -> Delta:
        module = lm.arch.module("mlp_out", layer)
        found = optimize_values(lm, module, [req], plan.kl_prompts, ValueSettings.from_config(config), layer=layer)
        down = update_direction(found.keys[0], m, 0.0)  # k*, averaged over the context prefixes; m already holds the ridge
        up, stats = found.delta[0].unsqueeze(1), found.stats
        log.debug("rome layer %d: nll %.3f after %d steps", layer, stats["nll"], stats["steps"])
        return self._delta(lm, layer, up, down, [req.preference_id] if req.preference_id else [])
