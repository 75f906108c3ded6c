"""AlphaEdit hyperparameters, with defaults per model family."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.config import check_range
from prefedit.editing.values import check_value_fields
from prefedit.editing.memit.config import check_span, layer_span


@dataclass(frozen=True, kw_only=True)
class AlphaEditConfig:
    """Null-space constrained editing (Fang et al., 2025, "AlphaEdit", arXiv 2410.02355)."""

    type: str = field(default="alphaedit", metadata={"help": "registry name"})
    layers: tuple[float, float] = field(
        default=(0.5, 0.66), metadata={"help": "edited layers (first, last), inclusive: fractions of depth (< 1) or indices"}
    )
    nullspace_energy: float = field(
        default=1e-2, metadata={"help": "the null space is the smallest eigen-directions of C holding at most this fraction of its trace"}
    )
    ridge: float = field(default=1.0, metadata={"help": "L2 term of the solve, times the mean eigenvalue of C"})
    corpus: str = field(default="chat-v1", metadata={"help": "corpus of the preserved keys K0"})
    stats_tokens: int = field(default=20000, metadata={"help": "corpus tokens used to estimate K0 K0^T"})
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
        check_range("nullspace_energy", self.nullspace_energy, 0, 1)
        check_range("ridge", self.ridge, 0)
        check_range("stats_tokens", self.stats_tokens, 1)
        check_value_fields(self)

    def layer_indices(self, lm: Any) -> list[int]:
        return layer_span(lm, self.layers)


# Per-family defaults; layers are fractions of depth so they carry across model sizes.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"layers": (0.52, 0.69)},  # SmolLM2 (30 layers): 15..20
}


def default_config(lm: Any) -> AlphaEditConfig:
    return replace(AlphaEditConfig(), **FAMILY_DEFAULTS.get(lm.arch.family, {}))
