"""CLI output helpers: data on stdout, logs/progress/errors on stderr, one progress wrapper."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def stdout() -> Console:
    return Console(no_color=bool(os.environ.get("NO_COLOR")), soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))


def progress_enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("PREFEDIT_NO_PROGRESS") and not os.environ.get("NO_COLOR")


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """A progress bar on stderr when it is a TTY (and not disabled); a plain iterator otherwise."""
    if not progress_enabled():
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr(), transient=True) as progress:
        yield from progress.track(items, description=description, total=total)


def status(message: str) -> None:
    """A log line on stderr."""
    stderr().print(f"[dim]{message}[/dim]", highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def print_error(exc: Any) -> None:
    """A PrefeditError as ``error: …`` (and ``hint: …``) lines on stderr; with PREFEDIT_DEBUG set,
    the caller re-raises instead (see ``debug``)."""
    print(f"error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"\nhint: {exc.hint}", file=sys.stderr)


def debug() -> bool:
    """PREFEDIT_DEBUG is set: let errors propagate with their traceback."""
    return bool(os.environ.get("PREFEDIT_DEBUG"))
