"""LoRA editing hyperparameters, with defaults per model family."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.config import check_range
from prefedit.editing.memit.config import check_span, layer_span
from prefedit.errors import ConfigError
from prefedit.models.arch import COMPONENTS

LINEAR_COMPONENTS = tuple(c for c in COMPONENTS if c in ("mlp_in", "mlp_out", "attn_out"))


@dataclass(frozen=True, kw_only=True)
class LoraEditConfig:
    """A LoRA adapter trained on the edit prompts (Hu et al., 2022, "LoRA", arXiv 2106.09685)."""

    type: str = field(default="lora", metadata={"help": "registry name"})
    layers: tuple[float, float] | None = field(
        default=None, metadata={"help": "adapted layers (first, last), inclusive: fractions of depth (< 1) or indices; None: all"}
    )
    components: tuple[str, ...] = field(
        default=("attn_out", "mlp_out"), metadata={"help": f"adapted linear components, from {LINEAR_COMPONENTS}"}
    )
    rank: int = field(default=8, metadata={"help": "LoRA rank r"})
    alpha: float = field(default=32.0, metadata={"help": "LoRA alpha (scaling = alpha / r)"})
    dropout: float = field(default=0.0, metadata={"help": "LoRA dropout (applied only if the model is in train mode)"})
    steps: int = field(default=70, metadata={"help": "passes over the plan's requests (max)"})
    lr: float = field(default=5e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "Adam weight decay"})
    batch_size: int = field(default=1, metadata={"help": "requests per optimiser step"})
    early_stop_loss: float = field(default=1e-2, metadata={"help": "stop once the mean loss of a pass is below this"})
    seed: int = field(default=0, metadata={"help": "torch seed (adapter initialisation)"})
    anchors: int = field(default=0, metadata={"help": "generic corpus prompts trained on the model's own answers alongside the edit (0 = off)"})
    anchor_tokens: int = field(default=16, metadata={"help": "answer tokens per anchor"})
    anchor_weight: float = field(default=1.0, metadata={"help": "weight of the anchor loss"})

    def __post_init__(self) -> None:
        if self.layers is not None:
            check_span("layers", self.layers)
        bad = [c for c in self.components if c not in LINEAR_COMPONENTS]
        if not self.components or bad:
            raise ConfigError(f"components must be a non-empty subset of {LINEAR_COMPONENTS}, got {self.components!r}")
        check_range("rank", self.rank, 1)
        check_range("alpha", self.alpha, 0)
        check_range("dropout", self.dropout, 0, 1)
        check_range("steps", self.steps, 1, 100000)
        check_range("lr", self.lr, 0)
        check_range("weight_decay", self.weight_decay, 0)
        check_range("batch_size", self.batch_size, 1)
        check_range("early_stop_loss", self.early_stop_loss, 0)
        check_range("anchors", self.anchors, 0, 1000)
        check_range("anchor_tokens", self.anchor_tokens, 1, 512)
        check_range("anchor_weight", self.anchor_weight, 0)

    def layer_indices(self, lm: Any) -> list[int]:
        return list(range(lm.arch.n_layers)) if self.layers is None else layer_span(lm, self.layers)


# Per-family defaults; layers are fractions of depth so they carry across model sizes.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {}


def default_config(lm: Any) -> LoraEditConfig:
    return replace(LoraEditConfig(), **FAMILY_DEFAULTS.get(lm.arch.family, {}))
