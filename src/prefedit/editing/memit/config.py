"""MEMIT hyperparameters, with defaults per model family."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.config import check_range
from prefedit.editing.values import check_value_fields
from prefedit.errors import ConfigError


def layer_span(lm: Any, span: tuple[float, float]) -> list[int]:
    """Consecutive layer indices from ``span = (first, last)``, each a fraction of depth (< 1) or an index."""
    first, last = (int(x) if x >= 1 else lm.arch.relative_layer(x) for x in span)
    first, last = lm.arch.resolve_layer(first), lm.arch.resolve_layer(last)
    return list(range(first, last + 1))


def check_span(name: str, span: tuple[float, float]) -> None:
    """Raise ConfigError unless ``span`` is (first, last) with 0 <= first <= last."""
    if len(span) != 2 or span[0] < 0 or span[0] > span[1]:
        raise ConfigError(f"{name} must be (first, last) with 0 <= first <= last, got {span!r}")


@dataclass(frozen=True, kw_only=True)
class MemitConfig:
    """Mass-editing memory in a transformer (Meng et al., 2023, "Mass-Editing Memory in a Transformer")."""

    type: str = field(default="memit", metadata={"help": "registry name"})
    layers: tuple[float, float] = field(
        default=(0.5, 0.66), metadata={"help": "edited layers (first, last), inclusive: fractions of depth (< 1) or indices"}
    )
    mom2_weight: float = field(
        default=1.0, metadata={"help": "lambda / d_in, lambda weighting C in (K K^T + lambda C)^-1 (the paper: 15000 at d_in 16384)"}
    )
    corpus: str = field(default="chat-v1", metadata={"help": "corpus for the key covariance"})
    stats_tokens: int = field(default=20000, metadata={"help": "corpus tokens used to estimate C"})
    steps: int = field(default=25, metadata={"help": "value optimisation steps (max)"})
    lr: float = field(default=0.5, metadata={"help": "Adam learning rate of the residual target"})
    kl_factor: float = field(default=0.0625, metadata={"help": "weight of the KL term on the plan's kl_prompts"})
    weight_decay: float = field(default=0.5, metadata={"help": "weight of ||delta||^2 / ||h||^2"})
    clamp_norm: float = field(default=0.75, metadata={"help": "clamp ||delta|| to this factor times ||h|| (residual norm)"})
    early_stop_nll: float = field(default=0.05, metadata={"help": "stop once the target NLL is below this"})
    context_prefixes: tuple[str, ...] = field(default=("",), metadata={"help": "texts prepended to each prompt for keys and targets"})
    seed: int = field(default=0, metadata={"help": "torch seed for the optimisation"})

    def __post_init__(self) -> None:
        check_span("layers", self.layers)
        check_range("mom2_weight", self.mom2_weight, 0)
        check_range("stats_tokens", self.stats_tokens, 1)
        check_value_fields(self)

    def layer_indices(self, lm: Any) -> list[int]:
        return layer_span(lm, self.layers)


# Per-family defaults; layers are fractions of depth so they carry across model sizes.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"layers": (0.52, 0.69)},  # SmolLM2 (30 layers): 15..20
}


def default_config(lm: Any) -> MemitConfig:
    return replace(MemitConfig(), **FAMILY_DEFAULTS.get(lm.arch.family, {}))
