"""One method of a bench run in its own process: ``python -m prefedit.bench.worker DIR METHOD``.

Started by ``run_bench`` so that each method's peak memory is its own. Reads the run's
config from ``DIR/config.json``, runs the method in the configured mode and appends a record
with its peak RSS and wall time.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    from prefedit.bench.backends import make_backend
    from prefedit.bench.efficiency import peak_rss_mb
    from prefedit.bench.evaluate import MethodEval
    from prefedit.bench.methods import get_method
    from prefedit.bench.modes import run_mode
    from prefedit.bench.rundir import RunDir
    from prefedit.bench.runner import _distractors, load_config
    from prefedit.bench.tasks import load_tasks
    from prefedit.cli._output import debug, print_error, track
    from prefedit.errors import PrefeditError

    root, method = argv
    start = time.perf_counter()
    try:
        cfg = load_config(root)
        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        tasks = load_tasks(cfg.data, limit=cfg.limit, per_user=cfg.mode == "per-user", query_types=cfg.query_types)
        backend = make_backend(cfg.backend, cfg.model, dtype=cfg.dtype, batch_size=cfg.batch_size)
        run = RunDir(root)
        ev = MethodEval(cfg, get_method(method), backend, tasks, run, _distractors(cfg), lambda it, d, total=None: track(it, d, total))
        run_mode(ev)
    except PrefeditError as exc:
        if debug():
            raise
        print_error(exc)
        return 1
    fingerprint = getattr(getattr(backend, "lm", None), "fingerprint", None)
    run.append(method, "proc", [{"peak_rss_mb": peak_rss_mb(), "wall_seconds": time.perf_counter() - start, "isolated": True,
                                 "dropped_overrides": ev.dropped, "fingerprint": fingerprint}])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
