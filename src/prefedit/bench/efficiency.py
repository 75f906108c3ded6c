"""Efficiency: wall time and stored bytes per preference, time to switch users, and peak memory.

Peak memory is the peak resident set size (``resource.getrusage``) of one worker process per
method, so no method inherits another's peak; the worker loads the model in the run's one dtype
for every method. Seconds per preference come from each delta's ``info.extra['seconds']``
(cluster building included) and are null for methods that do not edit.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefedit.bench.schema import EfficiencyRow
from prefedit.errors import PrefeditError


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def worker_command(root: Path, method: str) -> list[str]:
    return [sys.executable, "-m", "prefedit.bench.worker", str(root), method]


def run_worker(root: Path, method: str) -> None:
    """Run one method in a fresh Python process (its stdout goes to our stderr: stdout is data).

    A SIGTERM to this process is passed on to the worker, and leaving by an exception (Ctrl-C)
    stops it, so no worker outlives its run; the items it finished are kept for ``--resume``.
    """
    proc = subprocess.Popen(worker_command(root, method), stdout=sys.stderr, env=os.environ.copy())
    terminated: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        terminated.append(signum)
        proc.send_signal(signum)

    try:
        previous = signal.signal(signal.SIGTERM, forward)
    except ValueError:  # not the main thread: signals cannot be caught here
        previous = None
    try:
        returncode = proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if terminated:
        raise SystemExit(128 + terminated[0])
    if returncode != 0:
        raise PrefeditError(
            f"method {method!r} failed in its worker process (exit code {returncode}); its finished items are kept",
            hint=f"see the error above; fix it and rerun with --resume (PREFEDIT_DEBUG=1 shows the traceback)",
        )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def efficiency_row(method: str, edits: bool, items: Sequence[dict[str, Any]], procs: Sequence[dict[str, Any]]) -> EfficiencyRow:
    """Means over the method's item records; the peak over its worker runs (a resumed run has several)."""
    peaks = [float(p["peak_rss_mb"]) for p in procs if p.get("peak_rss_mb") is not None]
    seconds = [float(r["seconds"]) for r in items if r.get("seconds") is not None]
    nbytes = [float(r["bytes"]) for r in items if r.get("bytes") is not None]
    switch = [float(r["switch_seconds"]) for r in items if r.get("switch_seconds") is not None]
    search = sorted({str(r["search_dtype"]) for r in items if r.get("search_dtype")})
    return EfficiencyRow(
        method=method,
        seconds_per_preference=_mean(seconds) if edits else None,
        peak_rss_mb=max(peaks) if peaks else None,
        bytes_per_preference=_mean(nbytes) if edits else None,
        switch_seconds=_mean(switch) if edits else None,
        isolated=bool(procs) and all(p.get("isolated") for p in procs),
        search_dtype=", ".join(search) or None,
    )
