"""The settings of one bench run (``BenchConfig``); two runs with equal settings write equal results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefedit.config import check_range, config_to_dict
from prefedit.errors import ConfigError
from prefedit.models.load import DTYPES

PROTOCOLS = ("chat", "paper")
JUDGE_NAMES = ("match", "embed", "llm")
MODES = ("independent", "sequential", "batch", "per-user")
BACKENDS = ("hf", "tiny", "dummy")
# Fields that do not change results: a resumed run may differ in these.
NON_RESULT_FIELDS = ("isolate", "batch_size", "out", "threads")


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """What ``prefedit bench`` runs. Paths are stored resolved, so a resumed run compares equal."""

    data: tuple[str, ...] = field(metadata={"help": "UPQA or multi-turn data files"})
    methods: tuple[str, ...] = field(metadata={"help": "method names (see --list-methods)"})
    out: str = field(metadata={"help": "output directory"})
    protocol: str = field(default="chat", metadata={"help": "chat or paper"})
    judge: str = field(default="match", metadata={"help": "headline judge: match, embed or llm"})
    turns: tuple[int, ...] = field(default=(0,), metadata={"help": "distractor turn counts"})
    query_types: tuple[str, ...] = field(default=(), metadata={"help": "query types; () = every type in the data"})
    mode: str = field(default="independent", metadata={"help": "independent, sequential, batch or per-user"})
    limit: int | None = field(default=None, metadata={"help": "items (users in per-user mode) after interleaving"})
    model: str = field(default="smollm2-135m-instruct", metadata={"help": "model name, folder or HF id"})
    seed: int = field(default=0, metadata={"help": "seed for probes, edits and training"})
    distractors: str | None = field(default=None, metadata={"help": "distractor conversations (JSON)"})
    backend: str = field(default="hf", metadata={"help": "hf, tiny (random test model) or dummy (wiring tests)"})
    dtype: str = field(default="float32", metadata={"help": "the weights' dtype, one for every method: float32, bfloat16 or float16"})
    locality: bool = field(default=True, metadata={"help": "run the locality probes"})
    retention: bool = field(default=True, metadata={"help": "run the retention probes"})
    retention_checkpoints: tuple[int, ...] = field(default=(1, 10, 100), metadata={"help": "edits after which retention is asked"})
    other_item_probes: int = field(default=10, metadata={"help": "questions of other items per locality check"})
    isolate: bool = field(default=True, metadata={"help": "one subprocess per method (peak memory per method)"})
    batch_size: int = field(default=32, metadata={"help": "prompts per generation batch"})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (None: torch's default)"})

    def __post_init__(self) -> None:
        _choice("protocol", self.protocol, PROTOCOLS)
        _choice("judge", self.judge, JUDGE_NAMES)
        _choice("mode", self.mode, MODES)
        _choice("backend", self.backend, BACKENDS)
        _choice("dtype", self.dtype, tuple(DTYPES))
        if not self.data:
            raise ConfigError("data is empty; pass at least one --data PATH")
        if not self.methods:
            raise ConfigError("methods is empty; pass --methods m1,m2 (see --list-methods)")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"methods lists a method twice: {list(self.methods)}")
        if not self.turns or any(t < 0 for t in self.turns):
            raise ConfigError(f"turns must be non-negative integers, got {list(self.turns)}")
        if self.limit is not None:
            check_range("limit", self.limit, 1)
        check_range("batch_size", self.batch_size, 1)
        if self.threads is not None:
            check_range("threads", self.threads, 1)
        check_range("other_item_probes", self.other_item_probes, 0)
        if any(c < 1 for c in self.retention_checkpoints):
            raise ConfigError(f"retention_checkpoints must be >= 1, got {list(self.retention_checkpoints)}")

    def settings(self) -> dict[str, Any]:
        """The fields that decide results (compared when resuming)."""
        d = config_to_dict(self)
        for k in NON_RESULT_FIELDS:
            d.pop(k, None)
        return d


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
