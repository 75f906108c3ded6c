"""The benchmark: UPQA and multi-turn tasks, baselines, judges, locality and retention probes,
efficiency, per-sample results, summary and report. ``prefedit bench --help`` runs it.

Example::

    from prefedit.bench import BenchConfig, run_bench

    run_bench(BenchConfig(data=("../shared/data/upqa/balanced_subset.json",), methods=("prompt", "prefedit"),
                          limit=10, out="runs/quick"))
"""

from prefedit.bench.backends import Backend, DummyBackend, HFBackend
from prefedit.bench.config import BenchConfig
from prefedit.bench.methods import BenchMethod, describe_methods, get_method, method_names
from prefedit.bench.runner import prepare, run_bench

__all__ = [
    "Backend",
    "BenchConfig",
    "BenchMethod",
    "DummyBackend",
    "HFBackend",
    "describe_methods",
    "get_method",
    "method_names",
    "prepare",
    "run_bench",
]
