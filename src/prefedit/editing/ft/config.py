"""FT-M and FT-L hyperparameters, with defaults per model family."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.config import check_range
from prefedit.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class FtConfig:
    """Fine-tuning of one MLP output projection (shared by FT-M and FT-L)."""

    type: str = field(default="ft-m", metadata={"help": "registry name"})
    layer: float = field(default=0.66, metadata={"help": "tuned layer: a fraction of depth (0..1) or, if >= 1, an index"})
    steps: int = field(default=25, metadata={"help": "passes over the plan's requests (max)"})
    lr: float = field(default=5e-4, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "Adam weight decay (on the weight change)"})
    norm_constraint: float | None = field(default=None, metadata={"help": "clamp each weight to within this of its original (None: off)"})
    batch_size: int = field(default=1, metadata={"help": "requests per optimiser step"})
    early_stop_loss: float = field(default=1e-2, metadata={"help": "stop once the mean loss of a pass is below this"})
    seed: int = field(default=0, metadata={"help": "torch seed"})

    def __post_init__(self) -> None:
        check_range("layer", self.layer, 0)
        check_range("steps", self.steps, 1, 100000)
        check_range("lr", self.lr, 0)
        check_range("weight_decay", self.weight_decay, 0)
        check_range("batch_size", self.batch_size, 1)
        check_range("early_stop_loss", self.early_stop_loss, 0)
        if self.norm_constraint is not None and self.norm_constraint <= 0:
            raise ConfigError(f"norm_constraint must be None (off) or > 0, got {self.norm_constraint!r}")

    def layer_index(self, lm: Any) -> int:
        return int(self.layer) if self.layer >= 1 else lm.arch.relative_layer(self.layer)


@dataclass(frozen=True, kw_only=True)
class FtMConfig(FtConfig):
    """FT-M: loss on the target tokens of prompt + target (EasyEdit's ``target_new`` objective)."""

    type: str = field(default="ft-m", metadata={"help": "registry name"})


@dataclass(frozen=True, kw_only=True)
class FtLConfig(FtConfig):
    """FT-L: target tokens scored at the prompt's last position (the reference's ``prompt_last``)."""

    type: str = field(default="ft-l", metadata={"help": "registry name"})


# Per-family defaults; layers are fractions of depth so they carry across model sizes.
FAMILY_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {"ft-m": {}, "ft-l": {}}


def default_config(lm: Any, kind: str) -> FtConfig:
    cls = FtMConfig if kind == "ft-m" else FtLConfig
    return replace(cls(), **FAMILY_DEFAULTS[kind].get(lm.arch.family, {}))
