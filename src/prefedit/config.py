"""Config dataclass I/O: to and from plain dicts, with a warning for unknown keys."""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any, TypeVar

from prefedit.errors import ConfigError, PrefeditWarning

C = TypeVar("C")


def config_to_dict(cfg: object) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"expected a config dataclass, got {type(cfg).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))  # type: ignore[arg-type]


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build ``cls`` from ``data``; unknown keys warn (written by a newer version), bad values raise."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        warnings.warn(
            f"{cls.__name__}: ignoring unknown keys {unknown}; upgrade prefedit to read them",
            PrefeditWarning,
            stacklevel=2,
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            continue
        default = fields[name].default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def check_range(name: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
    """Raise ConfigError naming the field when ``value`` is outside ``[lo, hi]``."""
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        allowed = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ConfigError(f"{name} must be in {allowed}, got {value!r}")
