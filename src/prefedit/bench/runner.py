"""Running a bench: check everything before any work, run each method (one worker process per
method by default), judge, summarize and report.

Example::

    from prefedit.bench import BenchConfig, run_bench

    cfg = BenchConfig(data=("../shared/data/upqa/balanced_subset.json",), methods=("prompt", "prefedit"), out="runs/a")
    summary = run_bench(cfg)
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prefedit import __version__
from prefedit.bench.config import BenchConfig
from prefedit.bench.methods import BenchMethod, get_method, supports_batch
from prefedit.bench.rundir import RunDir, read_jsonl, write_json
from prefedit.bench.tasks import TASK_VERSION, TaskSet, default_distractors_path, load_distractor_pairs, load_tasks
from prefedit.errors import ConfigError, DataError

log = logging.getLogger(__name__)
Echo = Callable[[str], None]


@dataclass
class Prepared:
    cfg: BenchConfig
    methods: list[BenchMethod]
    tasks: TaskSet
    pairs: list[tuple[str, str]]


def normalize(cfg: BenchConfig) -> BenchConfig:
    """Absolute paths, sorted unique turns (so equal runs compare equal)."""
    distractors = cfg.distractors
    if distractors is None and max(cfg.turns) > 0:
        found = default_distractors_path(cfg.data)
        distractors = str(found) if found else None
    return replace(
        cfg,
        data=tuple(str(Path(p).expanduser().resolve()) for p in cfg.data),
        out=str(Path(cfg.out).expanduser().resolve()),
        turns=tuple(sorted(set(cfg.turns))),
        distractors=str(Path(distractors).expanduser().resolve()) if distractors else None,
    )


def _distractors(cfg: BenchConfig) -> list[tuple[str, str]]:
    need = max(cfg.turns)
    if need == 0:
        return []
    if cfg.distractors is None:
        raise DataError("--turns asks for distractor turns but no distractor file was found",
                        hint="pass --distractors PATH (e.g. ../shared/data/distractors/inter_turns.json)")
    pairs = load_distractor_pairs(cfg.distractors)
    if len(pairs) < need:
        raise DataError(f"{cfg.distractors} holds {len(pairs)} turns, fewer than --turns {need}",
                        hint=f"use turn counts up to {len(pairs)}")
    return pairs


def _check_methods(cfg: BenchConfig, methods: list[BenchMethod], tasks: TaskSet) -> None:
    for m in methods:
        if m.needs_cluster:
            flat = [it for it in tasks.items if not it.clustered]
            if flat:
                raise DataError(
                    f"method {m.name!r} needs clustered data (9 subject/question/target variants per item), but "
                    f"{flat[0].source} row {flat[0].index} ({flat[0].id}) is flat",
                    hint="run it on a *_cluster9.json file, e.g. ../shared/data/upqa/balanced_subset_cluster9.json",
                )
        if cfg.mode == "batch" and m.edits and not supports_batch(m):
            raise ConfigError(f"method {m.name!r} cannot edit all items at once (--mode batch)",
                              hint="use --mode sequential, or an editor whose modes include batch (e.g. memit)")


def _worst_context(methods: list[BenchMethod], stmt: str, user_turns: list[str]) -> Any:
    """The longest context any of ``methods`` can build (reply and retrieved turns estimated)."""
    from prefedit.bench.methods import ICE_PREFIX, REMINDER, RAG_TOP_K
    from prefedit.bench.tasks.prompts import CHAT_BUDGET, Context

    names = {m.name for m in methods}
    prompting = any(m.kind == "prompt" and m.name != "paper-ice" for m in methods)
    extra = stmt if prompting else ""
    if "rag" in names:
        extra = "\n".join([stmt, *sorted(user_turns, key=len)[-(RAG_TOP_K - 1):]])
    return Context(
        system_extra=extra,
        statement=(stmt, "word " * CHAT_BUDGET) if prompting else None,
        user_prefix=ICE_PREFIX.format(statement=stmt) if "paper-ice" in names else "",
        question_suffix=REMINDER if "reminder" in names else "",
    )


def check_context(renderer: Any, cfg: BenchConfig, tasks: TaskSet, pairs: list[tuple[str, str]], methods: list[BenchMethod]) -> None:
    """Refuse turn counts whose longest prompt (plus answer budget) exceeds the model's context."""
    from prefedit.bench.tasks.prompts import render_query

    limit = renderer.max_context
    if not limit:
        return
    item = max(tasks.items, key=lambda it: len(it.preference.statement) + max(len(q) for q in it.questions.values()))

    def need(turns: int) -> int:
        ctx = _worst_context(methods, item.preference.statement, [u for u, _ in pairs[:turns]])
        sizes = []
        for qtype, q in item.questions.items():
            prompt, budget = render_query(renderer, cfg.protocol, ctx, question=q, query_type=qtype, turns=turns,
                                          pairs=pairs, target=item.preference.target)
            sizes.append(renderer.n_tokens(prompt) + budget)
        return max(sizes)

    worst = max(cfg.turns)
    if need(worst) > limit:
        fits = [t for t in range(worst) if need(t) <= limit]
        raise ConfigError(f"--turns {worst} needs about {need(worst)} tokens, more than the model's context of {limit}",
                          hint=f"the most turns that fit is {fits[-1]}" if fits else "no turn count fits this model's context")


def prepare(cfg: BenchConfig, renderer: Any = None) -> Prepared:
    """Every check that can fail, before any work: methods, data, judge, distractors, context."""
    methods = [get_method(m) for m in cfg.methods]
    tasks = load_tasks(cfg.data, limit=cfg.limit, per_user=cfg.mode == "per-user", query_types=cfg.query_types)
    _check_methods(cfg, methods, tasks)
    if cfg.judge == "llm":
        from prefedit.bench.judges.llm import LlmJudge

        LlmJudge()
    pairs = _distractors(cfg)
    if renderer is None:
        from prefedit.bench.backends import load_tokenizer_backend, make_backend

        renderer = load_tokenizer_backend(cfg.model) if cfg.backend == "hf" else make_backend(cfg.backend, cfg.model)
    check_context(renderer, cfg, tasks, pairs, methods)
    return Prepared(cfg, methods, tasks, pairs)


def run_settings(cfg: BenchConfig) -> dict[str, Any]:
    digests = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in cfg.data]
    return {**cfg.settings(), "data_sha256": digests, "task_version": TASK_VERSION, "prefedit_version": __version__}


def run_method_here(prep: Prepared, method: str, backend: Any, run: RunDir, progress: Any = None) -> None:
    """One method in this process (tests, ``isolate=False``); peak memory is then not per method."""
    from prefedit.bench.efficiency import peak_rss_mb
    from prefedit.bench.evaluate import MethodEval
    from prefedit.bench.modes import run_mode

    start = time.perf_counter()
    ev = MethodEval(prep.cfg, get_method(method), backend, prep.tasks, run, prep.pairs, progress)
    run_mode(ev)
    run.append(method, "proc", [{"peak_rss_mb": peak_rss_mb(), "wall_seconds": time.perf_counter() - start, "isolated": False,
                                 "dropped_overrides": ev.dropped}])


def run_bench(cfg: BenchConfig, *, resume: bool = False, backend: Any = None, progress: Any = None, echo: Echo | None = None) -> dict[str, Any]:
    """Run ``cfg`` and write results.jsonl, summary.json and report.md under ``cfg.out``.

    Args:
        cfg: the run's settings.
        resume: keep the finished rows of an earlier run with the same settings.
        backend: a ready backend (tests); implies running methods in this process.
        progress: ``progress(iterable, description, total)`` wrapper for progress bars.
        echo: where to print status lines (stderr in the CLI).

    Raises:
        UnknownNameError, DataError, ConfigError: before any work starts.
    """
    echo = echo or (lambda msg: log.info("%s", msg))
    cfg = normalize(cfg)
    prep = prepare(cfg, backend)
    run = RunDir(cfg.out)
    if run.open(run_settings(cfg), resume=resume):
        echo(f"resuming {cfg.out}")
    todo = cfg.methods
    every = tuple(run.settings()["methods"])  # with earlier methods of a resumed run
    if every != cfg.methods:
        cfg = replace(cfg, methods=every)
        prep = replace(prep, cfg=cfg, methods=[get_method(m) for m in every])
    write_json(run.root / "config.json", {"type": "prefedit.bench.config", "config": _config_dict(cfg)})
    isolate = cfg.isolate and backend is None
    if cfg.threads and not isolate:
        import torch

        torch.set_num_threads(cfg.threads)
    if not isolate and backend is None:
        from prefedit.bench.backends import make_backend

        backend = make_backend(cfg.backend, cfg.model, dtype=cfg.dtype, batch_size=cfg.batch_size)
    for name in todo:
        echo(f"method {name}: {len(prep.tasks.items)} items, mode {cfg.mode}, protocol {cfg.protocol}")
        if isolate:
            from prefedit.bench.efficiency import run_worker

            run_worker(run.root, name)
        else:
            run_method_here(prep, name, backend, run, progress)
    from prefedit.bench.summary import finish

    return finish(prep, run, backend, echo)


def _config_dict(cfg: BenchConfig) -> dict[str, Any]:
    from prefedit.config import config_to_dict

    return config_to_dict(cfg)


def load_config(root: str | Path) -> BenchConfig:
    """The BenchConfig a run directory was started with (for worker processes)."""
    import json

    data = json.loads((Path(root) / "config.json").read_text(encoding="utf-8"))["config"]
    for k in ("data", "methods", "turns", "query_types", "retention_checkpoints"):
        data[k] = tuple(data[k])
    return BenchConfig(**data)


__all__ = ["Prepared", "load_config", "normalize", "prepare", "read_jsonl", "run_bench", "run_settings"]
