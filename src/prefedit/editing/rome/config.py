"""ROME hyperparameters, with defaults per model family."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.config import check_range
from prefedit.editing.values import check_value_fields


@dataclass(frozen=True, kw_only=True)
class RomeConfig:
    """Rank-one model editing (Meng et al., 2022, "Locating and Editing Factual Associations in GPT")."""

    type: str = field(default="rome", metadata={"help": "registry name"})
    # Why not ROME's early layer: our keys sit at the answer-start token, which early layers see
    # almost identically in every chat prompt (docs/editing.md, "Why a deep layer").
    layer: float = field(default=0.66, metadata={"help": "edited layer: a fraction of depth (0..1) or, if >= 1, an index"})
    use_covariance: bool = field(default=True, metadata={"help": "weight the update by C^-1 (False: C = I, the reference's setting)"})
    corpus: str = field(default="chat-v1", metadata={"help": "corpus for the key covariance"})
    stats_tokens: int = field(default=20000, metadata={"help": "corpus tokens used to estimate C"})
    ridge: float = field(default=1e-3, metadata={"help": "C + ridge * mean(diag C) * I, for a stable solve"})
    steps: int = field(default=20, metadata={"help": "value optimisation steps (max)"})
    lr: float = field(default=0.5, metadata={"help": "Adam learning rate of the value vector"})
    kl_factor: float = field(default=0.0625, metadata={"help": "weight of the KL term on the plan's kl_prompts"})
    weight_decay: float = field(default=0.5, metadata={"help": "weight of ||delta||^2 / ||v0||^2"})
    clamp_norm: float = field(default=4.0, metadata={"help": "clamp ||delta|| to this factor times ||v0||"})
    early_stop_nll: float = field(default=0.05, metadata={"help": "stop once the target NLL is below this"})
    context_prefixes: tuple[str, ...] = field(default=("",), metadata={"help": "texts prepended to each prompt when computing k* and v*"})
    seed: int = field(default=0, metadata={"help": "torch seed for the optimisation"})
    joint: bool = field(default=False, metadata={"help": "solve all requests at once (exact on every key, rank = requests) instead of one rank-one edit after another"})
    preserve_weight: float = field(default=10.0, metadata={"help": "weight of the answer-start keys of generic chat prompts in the update's metric (0 = off)"})
    shrink_margin: float | None = field(default=1.0, metadata={"help": "after optimising, scale delta down to the smallest size that keeps every target token greedy by this many logits (None = off)"})

    def __post_init__(self) -> None:
        check_range("layer", self.layer, 0)
        check_value_fields(self)
        check_range("stats_tokens", self.stats_tokens, 1)
        check_range("ridge", self.ridge, 0)
        check_range("preserve_weight", self.preserve_weight, 0)

    def layer_index(self, lm: Any) -> int:
        return int(self.layer) if self.layer >= 1 else lm.arch.relative_layer(self.layer)


# Per-family defaults; layers are fractions of depth so they carry across model sizes.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "gpt2": {"layer": 0.35},
    "gptj": {"layer": 0.18},
}


def default_config(lm: Any) -> RomeConfig:
    return replace(RomeConfig(), **FAMILY_DEFAULTS.get(lm.arch.family, {}))
