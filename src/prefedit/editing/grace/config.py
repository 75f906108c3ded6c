"""GRACE hyperparameters, with defaults per model family."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefedit.config import check_range
from prefedit.errors import ConfigError
from prefedit.models.twin import check_compute_dtype

SPLIT_LABELS = ("exact", "stripped")


@dataclass(frozen=True, kw_only=True)
class GraceConfig:
    """A codebook adaptor at one layer (Hartvigsen et al., 2023, "Aging with GRACE", arXiv 2211.11031)."""

    type: str = field(default="grace", metadata={"help": "registry name"})
    layer: float = field(default=0.8, metadata={"help": "patched layer's mlp_out: a fraction of depth (0..1) or, if >= 1, an index"})
    radius: float = field(
        default=0.1, metadata={"help": "initial deferral radius, as a fraction of the key's norm (L2 distance)"}
    )
    steps: int = field(default=50, metadata={"help": "value training steps (max)"})
    lr: float = field(default=1.0, metadata={"help": "Adam learning rate of the values"})
    early_stop_nll: float = field(default=1e-2, metadata={"help": "stop once the target NLL is below this"})
    warm_start: int = field(
        default=0, metadata={"help": "train this many entries per target first and start every entry from its target's mean value (0 = off)"}
    )
    warm_lr: float = field(
        default=0.0, metadata={"help": "Adam learning rate of the warm-start entries (0 = lr): only their shared starting value is at stake"}
    )
    per_request_stop: bool = field(
        default=False, metadata={"help": "freeze each entry once its NLL is below early_stop_nll (else all train until the last does)"}
    )
    split_labels: str = field(
        default="exact",
        metadata={"help": "split rule: cut overlapping radii of entries whose targets differ (exact) or differ after stripping whitespace (stripped: ' Lisbon' and 'Lisbon' are one answer)"},
    )
    grow_from: float = field(
        default=0.0,
        metadata={"help": "position (tokens) from which radii widen as max(1, p / grow_from) ** grow_power, so edits still fire many turns into a conversation (0 = fixed radii)"},
    )
    grow_power: float = field(default=0.0, metadata={"help": "exponent of that widening (0 = fixed radii)"})
    guard_cap: bool = field(
        default=True, metadata={"help": "guard prompts cap every radius at the distance to the nearest guard key (else they only bound the widening)"}
    )
    widen: float = field(
        default=1.0,
        metadata={"help": "with guard prompts: a radius may widen up to this factor, short of widen_margin x the distance to the nearest guard key (1 = off)"},
    )
    raw_widen: float = field(
        default=0.0,
        metadata={"help": "the widening factor of raw-prompt entries (no chat template), which a deployment's system prompt does not crowd (0 = widen)"},
    )
    widen_margin: float = field(default=0.9, metadata={"help": "fraction of the nearest guard key's distance a widened radius stays within"})
    guard_ratio: float = field(
        default=0.0,
        metadata={"help": "with guard prompts: an entry also fires on a token whose key lies nearer to it than guard_ratio x that key's distance "
                          "to the nearest guard key, within widen x its radius (0 = off)"},
    )
    compute_dtype: str = field(
        default="model",
        metadata={"help": "dtype the value search runs in: model (its own), auto (bfloat16 where the device computes it fast), float32, bfloat16 or float16; "
                          "another than the model's runs on a cached cast copy (prefedit.models.twin)"},
    )
    seed: int = field(default=0, metadata={"help": "torch seed"})

    def __post_init__(self) -> None:
        check_range("layer", self.layer, 0)
        check_range("radius", self.radius, 0)
        check_range("steps", self.steps, 1, 100000)
        check_range("lr", self.lr, 0)
        check_range("early_stop_nll", self.early_stop_nll, 0)
        check_range("warm_start", self.warm_start, 0, 100000)
        check_range("warm_lr", self.warm_lr, 0)
        check_range("grow_from", self.grow_from, 0)
        check_range("grow_power", self.grow_power, 0, 1)
        check_range("widen", self.widen, 1)
        check_range("widen_margin", self.widen_margin, 0, 1)
        check_range("guard_ratio", self.guard_ratio, 0, 1)
        if self.raw_widen:
            check_range("raw_widen", self.raw_widen, 1)
        check_compute_dtype(self.compute_dtype)
        if self.split_labels not in SPLIT_LABELS:
            raise ConfigError(f"split_labels must be one of {', '.join(SPLIT_LABELS)}, got {self.split_labels!r}")

    def layer_index(self, lm: Any) -> int:
        return int(self.layer) if self.layer >= 1 else lm.arch.relative_layer(self.layer)


# Per-family defaults; layers are fractions of depth so they carry across model sizes.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"layer": 0.8, "radius": 0.1},  # SmolLM2: layer 23
}


def default_config(lm: Any) -> GraceConfig:
    return replace(GraceConfig(), **FAMILY_DEFAULTS.get(lm.arch.family, {}))
