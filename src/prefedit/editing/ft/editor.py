"""The FT-M and FT-L editors: fine-tune one MLP output projection on the plan's requests.

Update rule: W' = W + D, D from Adam on the edit loss (plus an optional L∞ clamp |D| ≤ ε).
FT-M scores the target tokens of prompt + target; FT-L, the "prompt_last" objective of ROME's
constrained fine-tuning baseline (Meng et al., 2022, "Locating and Editing Factual Associations
in GPT", section 3) as run by EasyEdit (Wang et al., 2024, arXiv 2308.07269) and the reference
work, scores every target token with the distribution at the prompt's last token. The change is
dense (Adam's steps are not low rank), so the delta is a DenseUpdate of one matrix.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from prefedit.deltas import Delta, DenseUpdate
from prefedit.editing.base import EditPlan, edit_info, register_editor
from prefedit.editing.ft.compute_finetune import finetune_offset
from prefedit.editing.ft.config import FtConfig, FtLConfig, FtMConfig, default_config
from prefedit.editing.hooks import frozen

log = logging.getLogger(__name__)


class _FtEditor:
    name = "ft"
    config_class: type = FtConfig
    modes = ("independent", "sequential", "batch")

    def default_config(self, lm: Any) -> FtConfig:
        return default_config(lm, self.name)

    def compute(self, lm: Any, plan: EditPlan, config: FtConfig | None = None) -> Delta:
        """A dense update of one matrix; ``lm`` is left exactly as it was."""
        config = config or self.default_config(lm)
        torch.manual_seed(config.seed)
        layer = config.layer_index(lm)
        with frozen(lm.model):
            offset, stats = finetune_offset(lm, plan.requests, layer, config, self.name)
        log.debug("%s layer %d: loss %.4f after %d passes", self.name, layer, stats["loss"], stats["steps"])
        info = edit_info(self.name, lm, config, plan, layer=layer, loss=stats["loss"], passes=stats["steps"])
        return Delta(info=info, updates=[DenseUpdate(lm.arch.weight_name("mlp_out", layer), offset.cpu().contiguous())])


@register_editor("ft-m", help="fine-tune one MLP matrix, loss on the target tokens only (EasyEdit's FT-M)")
class FtMEditor(_FtEditor):
    name = "ft-m"
    config_class = FtMConfig


@register_editor("ft-l", help="fine-tune one MLP matrix with the reference's prompt_last objective (FT-L)")
class FtLEditor(_FtEditor):
    name = "ft-l"
    config_class = FtLConfig
