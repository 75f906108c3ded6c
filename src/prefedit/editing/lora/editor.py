"""The LoRA editor: a peft LoRA adapter trained on the plan's prompts, kept as low-rank factors.

Update rule: W' = W + (α/r) B A with A, B trained by Adam on the target tokens (Hu et al., 2022,
"LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685), as the LoRA editing
baseline of EasyEdit (Wang et al., 2024) and the reference work. Why other modules than the
reference's q_proj/v_proj: editors address abstract components (``attn_out``, ``mlp_out``,
``mlp_in``) that every family resolves, never module names; the default adapts both outputs.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from prefedit.deltas import Delta
from prefedit.editing.base import EditPlan, edit_info, register_editor
from prefedit.editing.hooks import frozen
from prefedit.editing.lora.compute_lora import train_lora
from prefedit.editing.lora.config import LoraEditConfig, default_config

log = logging.getLogger(__name__)


@register_editor("lora", help="LoRA adapter trained with peft on the edit prompts (rank-r updates)")
class LoraEditor:
    name = "lora"
    config_class = LoraEditConfig
    modes = ("independent", "sequential", "batch")

    def default_config(self, lm: Any) -> LoraEditConfig:
        return default_config(lm)

    def compute(self, lm: Any, plan: EditPlan, config: LoraEditConfig | None = None) -> Delta:
        """One rank-r update per adapted module; ``lm`` is left exactly as it was."""
        config = config or self.default_config(lm)
        torch.manual_seed(config.seed)
        with frozen(lm.model):
            updates, stats = train_lora(lm, plan.requests, config)
        log.debug("lora: loss %.4f after %d passes", stats["loss"], stats["steps"])
        info = edit_info(self.name, lm, config, plan, layers=config.layer_indices(lm), loss=stats["loss"], passes=stats["steps"])
        return Delta(info=info, updates=updates)
