"""The run directory: settings (for resume and refusal), per-method parts, caches and outputs.

```
DIR/run.json                     settings of the run (a resumed run must match them)
DIR/parts/<method>.rows.jsonl    answers, appended per item (or user) as they finish
DIR/parts/<method>.items.jsonl   per item: edit seconds, bytes, switch time, locality tallies
DIR/parts/<method>.retention.jsonl, <method>.proc.jsonl (peak memory per worker), <method>.done
DIR/cache/*.json                 base answers of the probes, turn-1 replies (shared by methods)
DIR/results.jsonl, summary.json, report.md, plots/
```
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from prefedit import __version__
from prefedit.errors import ConfigError

RUN_TYPE = "prefedit.bench.run"


def write_json(path: Path, data: Any) -> None:
    """Atomic write, sorted keys, indent 2."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (interrupted write) is skipped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class RunDir:
    """Files of one run under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- settings -------------------------------------------------------------------------
    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    def open(self, settings: dict[str, Any], *, resume: bool) -> bool:
        """Create the run, or check that it is the same run; True when resuming one.

        ``methods`` is not compared: resuming with other methods adds them to the run (methods
        are evaluated apart, so one cannot change another's rows), and the run's method list
        becomes the union, in first-seen order, which the summary covers.
        """
        if self.run_file.is_file():
            old = json.loads(self.run_file.read_text(encoding="utf-8"))
            old_settings = old.get("settings", {})
            if _without_methods(old_settings) != _without_methods(settings):
                diff = sorted(k for k in set(old_settings) | set(settings) if k != "methods" and old_settings.get(k) != settings.get(k))
                raise ConfigError(
                    f"{self.root} holds a run with other settings (differs in: {', '.join(diff)})",
                    hint="pick a new --out directory (or rerun with the same settings and --resume)",
                )
            if not resume:
                raise ConfigError(f"{self.root} already holds this run", hint="pass --resume to continue it (or add methods to it), or pick a new --out directory")
            methods = list(dict.fromkeys([*old_settings.get("methods", []), *settings.get("methods", [])]))
            if methods != old_settings.get("methods"):
                write_json(self.run_file, {**old, "settings": {**old_settings, "methods": methods}})
            return True
        if self.root.is_dir() and any(self.root.iterdir()):
            raise ConfigError(f"{self.root} is not empty and holds no bench run", hint="pick a new --out directory")
        write_json(self.run_file, {"type": RUN_TYPE, "prefedit_version": __version__, "settings": settings})
        return False

    def settings(self) -> dict[str, Any]:
        return json.loads(self.run_file.read_text(encoding="utf-8"))["settings"]  # type: ignore[no-any-return]

    # -- parts ----------------------------------------------------------------------------
    def part(self, method: str, kind: str) -> Path:
        return self.root / "parts" / f"{method}.{kind}"

    def append(self, method: str, kind: str, records: list[dict[str, Any]]) -> None:
        path = self.part(method, f"{kind}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, sort_keys=True, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def records(self, method: str, kind: str) -> list[dict[str, Any]]:
        return read_jsonl(self.part(method, f"{kind}.jsonl"))

    def done_units(self, method: str) -> set[str]:
        """Items (or users) whose record was written: their rows are complete."""
        return {r["unit"] for r in self.records(method, "items") if "unit" in r}

    def rows(self, method: str) -> list[dict[str, Any]]:
        """Rows of finished units only, last write wins."""
        done = self.done_units(method) | ({"*"} if self.is_done(method) else set())
        keep: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in self.records(method, "rows"):
            if r.get("unit") in done or "*" in done:
                keep[(r["item"], r["query_type"], r["turns"])] = r
        return list(keep.values())

    def is_done(self, method: str) -> bool:
        return self.part(method, "done").is_file()

    def mark_done(self, method: str) -> None:
        write_json(self.part(method, "done"), {"method": method})

    def reset(self, method: str) -> None:
        """Drop a method's parts (a sequential or batch run restarts as a whole)."""
        for kind in ("rows.jsonl", "items.jsonl", "retention.jsonl", "done", "running.safetensors"):
            self.part(method, kind).unlink(missing_ok=True)

    # -- caches ---------------------------------------------------------------------------
    def cache(self, name: str) -> dict[str, Any]:
        path = self.root / "cache" / f"{name}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def save_cache(self, name: str, data: dict[str, Any]) -> None:
        write_json(self.root / "cache" / f"{name}.json", data)


def _without_methods(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k != "methods"}
