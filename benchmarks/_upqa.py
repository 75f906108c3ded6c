"""What the SmolLM2-on-UPQA benchmark scripts share: their item options, loading, and timing
variants against each other (imported by the scripts beside it, which run as
``.venv/bin/python benchmarks/NAME.py``)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from prefedit.bench.tasks.data import load_tasks
from prefedit.models import load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "upqa" / "balanced_subset.json"

T = TypeVar("T")


def add_item_options(ap: argparse.ArgumentParser, n: int) -> None:
    """``--n`` (items, default ``n``), ``--data`` (a UPQA file) and ``--threads`` (torch, default 1)."""
    ap.add_argument("--n", type=int, default=n, help=f"items (default {n})")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--threads", type=int, default=1)


def load_items(args: argparse.Namespace, extra: int = 0) -> tuple[Any, list[Any]]:
    """SmolLM2 and the first ``args.n + extra`` items of ``args.data`` (interleaved by attribute
    type, as ``prefedit bench --limit`` picks them), after setting the torch threads."""
    torch.set_num_threads(args.threads)
    return load_model(), load_tasks([args.data], limit=args.n + extra, per_user=False).items


def time_alternating(items: Sequence[Any], runs: dict[str, Callable[[Any], T]]) -> tuple[dict[str, float], list[dict[str, T]]]:
    """Every item through each run in turn, so that load on the machine affects all alike: the
    mean seconds per item of each run (2 decimals) and each item's results by run."""
    total = dict.fromkeys(runs, 0.0)
    results: list[dict[str, T]] = []
    for it in items:
        out: dict[str, T] = {}
        for name, run in runs.items():
            start = time.perf_counter()
            out[name] = run(it)
            total[name] += time.perf_counter() - start
        results.append(out)
    return {k: round(v / len(items), 2) for k, v in total.items()}, results
