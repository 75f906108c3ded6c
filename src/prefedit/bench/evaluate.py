"""Evaluating one method: contexts, queries, one batched pass per shared set of weights, edits
with their cost, locality and retention. The mode loops live in ``modes.py``.

Every query type and turn count of an item (and its locality probes) are evaluated while that
item's edit is applied: one ``generate`` call for the answers and one teacher-forced
``loglikelihood`` call for the locality probes. Prompting methods share the base weights, so
their items are evaluated several at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prefedit.bench.config import BenchConfig
from prefedit.bench.methods import BenchMethod, ContextInput, compute_delta
from prefedit.bench.probes import LocalityChecker, Probe, other_item_pool, pick_others, retention_accuracy, retention_probes, retention_prompts, unrelated_prompts
from prefedit.bench.rundir import RunDir
from prefedit.bench.tasks.data import BenchItem, TaskSet
from prefedit.bench.tasks.prompts import CHAT_BUDGET, Context, chat_system_prompt, render_query
from prefedit.deltas import Delta, applied, compose
from prefedit.errors import EditError
from prefedit.models.chat import DEFAULT_SYSTEM_PROMPT
from prefedit.personalize import with_system

log = logging.getLogger(__name__)


@dataclass
class EditResult:
    """One preference's (or user's) delta and what it cost."""

    delta: Delta | None
    seconds: float | None = None
    nbytes: int | None = None
    error: str | None = None
    search_dtype: str | None = None  # the dtype the editor says its search ran in (GRACE-based editors)
    dropped: list[str] = field(default_factory=list)


class MethodEval:
    """Shared state of one method's run: backend, tasks, probes, caches."""

    def __init__(self, cfg: BenchConfig, method: BenchMethod, backend: Any, tasks: TaskSet, run: RunDir,
                 pairs: Sequence[tuple[str, str]], progress: Any = None) -> None:
        self.cfg, self.method, self.backend, self.tasks, self.run = cfg, method, backend, tasks, run
        self.pairs = list(pairs)
        self.progress = progress or (lambda it, desc, total=None: it)
        self.scoring: dict[str, BenchItem] = {it.id: it for it in tasks.all_items}
        self.stored: dict[str, tuple[str, ...]] = {}
        self.replies: dict[str, str] = {}
        self.embedder: Any = None
        self.spec: Any = None
        self.dropped: list[str] = []
        self.locality = LocalityChecker(backend, cfg.protocol, run.cache(f"base_{cfg.protocol}"))
        self.pool = other_item_pool(tasks.all_items, cfg.seed)
        self.unrelated = [Probe("unrelated", t) for t in unrelated_prompts()]

    # -- setup ----------------------------------------------------------------------------
    def prepare(self, probe_sets: Sequence[Sequence[Probe]]) -> None:
        """Base answers of the probes, turn-1 replies, embedder and edit spec (before any edit)."""
        if self.cfg.locality and self.method.kind != "none":
            if self.locality.ensure_base([p for s in probe_sets for p in s]):
                self.run.save_cache(f"base_{self.cfg.protocol}", self.locality.cache)
        if self.method.kind == "prompt" and self.method.context is not None:
            self._replies()
        if self.method.needs_embedder:
            from prefedit.preferences.embed import Embedder

            self.embedder = Embedder()
        if self.method.spec is not None:
            self.spec, self.dropped = self.method.spec(self.backend.lm, self.cfg.seed)
            if self.spec.style == "chat":
                # Keyed under the system prompt the protocol asks chat-templated questions with,
                # as a deployment sets --system-prompt (no change under the chat protocol).
                self.spec = with_system(self.spec, chat_system_prompt(self.cfg.protocol))

    def _replies(self) -> None:
        """The model's own reply to each statement (turn 1), generated once per item and cached."""
        cache = self.run.cache("replies")
        todo = [it for it in self.tasks.items if it.id not in cache]
        if todo:
            prompts = [self.backend.render_chat([{"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                                                 {"role": "user", "content": it.preference.statement}]) for it in todo]
            for it, a in zip(todo, self.backend.generate(prompts, [CHAT_BUDGET] * len(prompts)), strict=True):
                cache[it.id] = a
            self.run.save_cache("replies", cache)
        self.replies = cache

    def probes_for(self, exclude_users: set[str], with_others: bool = True) -> list[Probe]:
        if not self.cfg.locality or self.method.kind == "none":
            return []
        others = pick_others(self.pool, exclude_users, self.cfg.other_item_probes) if with_others and self.method.edits else []
        return [*self.unrelated, *others]

    # -- queries --------------------------------------------------------------------------
    def context(self, item: BenchItem, query_type: str, question: str, turns: int) -> Context:
        if self.method.context is None:
            return Context()
        pref = self.scoring[item.id]  # the replacement's preference for a superseded item (per-user mode)
        x = ContextInput(
            preference=pref.preference, query_type=query_type, question=question, reply=self.replies.get(pref.id, ""),
            stored=self.stored.get(item.user, ()), user_turns=tuple(u for u, _ in self.pairs[:turns]), embedder=self.embedder,
        )
        return self.method.context(x)

    def queries(self, item: BenchItem) -> list[dict[str, Any]]:
        """Rows to answer (without answers) for every query type x turns of ``item``."""
        target = self.scoring[item.id]
        rows = []
        for qtype in self.tasks.query_types:
            if qtype not in item.questions:
                continue
            question = item.questions[qtype]
            for turns in self.cfg.turns:
                ctx = self.context(item, qtype, question, turns)
                prompt, budget = render_query(self.backend, self.cfg.protocol, ctx, question=question, query_type=qtype,
                                              turns=turns, pairs=self.pairs, target=target.preference.target)
                rows.append({"item": item.id, "method": self.method.name, "query_type": qtype, "turns": turns,
                             "question": question, "prompt": prompt, "budget": budget, "target": target.preference.target,
                             "accepted": list(target.accepted), "user": item.user})
        return rows

    # -- one pass with the current weights ------------------------------------------------
    def evaluate(self, items: Sequence[BenchItem], probes: dict[str, list[Probe]], unit: dict[str, str],
                 route: dict[str, int] | None = None) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[int]]]]:
        """Answer every query of ``items`` and check each item's probes: one generate call
        (answers + probes that need generation) and one teacher-forced call. With ``route``
        (item id -> delta index, inside ``backend.routing``), each item's requests run with
        only its own delta.

        Returns (rows with answers, {item id: {kind: [agreements, n]}}).
        """
        rows = [r for it in items for r in self.queries(it)]
        forced: list[tuple[str, str]] = []
        gen: list[tuple[str, int]] = []
        forced_route: list[int] = []
        gen_route = [route[r["item"]] for r in rows] if route is not None else []
        spans = {}
        for it in items:
            f, g = self.locality.requests(probes.get(it.id, []), lambda text, it=it: self.context(it, "explicit", text, 0))
            spans[it.id] = (len(forced), len(f), len(gen), len(g))
            forced += f
            gen += g
            if route is not None:
                forced_route += [route[it.id]] * len(f)
                gen_route += [route[it.id]] * len(g)
        answers = self.backend.generate([r["prompt"] for r in rows] + [p for p, _ in gen], [r["budget"] for r in rows] + [b for _, b in gen],
                                        route=gen_route if route is not None else None)
        scored = self.backend.loglikelihood(forced, route=forced_route if route is not None else None) if forced else []
        for r, a in zip(rows, answers, strict=False):
            r["answer"] = a
            r["unit"] = unit[r["item"]]
        probe_answers = answers[len(rows):]
        loc = {}
        for it in items:
            fs, fn, gs, gn = spans[it.id]
            if probes.get(it.id):
                loc[it.id] = self.locality.verdicts(probes[it.id], scored[fs : fs + fn], probe_answers[gs : gs + gn])
        return rows, loc

    # -- edits ----------------------------------------------------------------------------
    def edit(self, item: BenchItem, index: int) -> EditResult:
        """The item's delta on the model as it is now (edit failures are recorded, not raised)."""
        if not self.method.edits:
            return EditResult(delta=None)
        try:
            delta = compute_delta(self.method, self.backend.lm, item.edit_view(), self.spec, self.cfg.seed * 100003 + index)
        except EditError as exc:
            log.warning("%s: edit of %s failed: %s", self.method.name, item.id, exc)
            return EditResult(delta=None, error=str(exc))
        return EditResult(delta=delta, seconds=float(delta.info.extra.get("seconds", 0.0)), nbytes=delta.nbytes(),
                          search_dtype=delta.info.extra.get("search_dtype"))

    def switch_seconds(self, delta: Delta | None) -> float | None:
        """Time to apply and revert ``delta`` (switching users)."""
        if delta is None:
            return None
        start = time.perf_counter()
        with applied(self.backend.lm, delta):
            pass
        return time.perf_counter() - start

    # -- retention ------------------------------------------------------------------------
    def retention(self, delta: Delta | None) -> tuple[float, int]:
        """(accuracy, n) of the retention probes with ``delta`` applied."""
        probes = retention_probes()
        prompts = retention_prompts(self.backend, probes)
        with applied(self.backend.lm, delta):
            answers = self.backend.generate([p for p, _ in prompts], [b for _, b in prompts])
        return retention_accuracy(answers, probes), len(probes)

    def base_retention(self) -> None:
        """Retention of the base model (edits 0), once per run."""
        cache = self.run.cache("retention")
        if "accuracy" not in cache:
            acc, n = self.retention(None)
            self.run.save_cache("retention", {"accuracy": acc, "n": n})


class Accumulator:
    """Composes independently computed deltas and asks the retention probes at checkpoints."""

    def __init__(self, ev: MethodEval, how: str) -> None:
        self.ev, self.how = ev, how
        self.checkpoints = sorted(c for c in ev.cfg.retention_checkpoints) if ev.cfg.retention and ev.method.edits else []
        self.count = 0
        self.running: Delta | None = None
        path = ev.run.part(ev.method.name, "running.safetensors")
        state = ev.run.records(ev.method.name, "retention")
        if state and path.is_file():
            from prefedit.deltas import load_delta

            self.running, self.count = load_delta(path), int(state[-1].get("count", 0))

    def add(self, delta: Delta | None) -> None:
        if not self.checkpoints or self.count >= self.checkpoints[-1]:
            return
        self.count += 1
        if delta is not None:
            self.running = delta if self.running is None else compose([self.running, delta], editor=self.ev.method.name)
        record: dict[str, Any] = {"count": self.count}
        if self.count in self.checkpoints:
            acc, n = self.ev.retention(self.running)
            record.update(edits=self.count, accuracy=acc, n=n, accumulation=self.how)
        if self.running is not None and self.count < self.checkpoints[-1]:
            from prefedit.deltas import save_delta

            save_delta(self.running, self.ev.run.part(self.ev.method.name, "running.safetensors"))
        self.ev.run.append(self.ev.method.name, "retention", [record])


def check_probes(ev: MethodEval, probes: Sequence[Probe], ctx: Context | None = None) -> dict[str, list[int]]:
    """Locality tallies of ``probes`` with the current weights (one forced + one generate call)."""
    if not probes:
        return {}
    forced, gen = ev.locality.requests(probes, lambda _text: ctx or Context())
    scored = ev.backend.loglikelihood(forced) if forced else []
    answers = ev.backend.generate([p for p, _ in gen], [b for _, b in gen]) if gen else []
    return ev.locality.verdicts(probes, scored, answers)


def item_record(unit: str, item: BenchItem, res: EditResult, switch: float | None, loc: dict[str, list[int]]) -> dict[str, Any]:
    return {"unit": unit, "item": item.id, "seconds": res.seconds, "bytes": res.nbytes, "switch_seconds": switch,
            "error": res.error, "locality": loc, "search_dtype": res.search_dtype}
