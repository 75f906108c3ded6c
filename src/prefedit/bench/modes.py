"""The four edit modes of a method's run.

* independent: each item's edit is applied, evaluated (every query type and turn count, plus
  its locality probes) and reverted. Retention composes the independent edits of the first
  1, 10, 100 items (``accumulation: composed``).
* sequential: edits accumulate in file order, each computed on the model with the earlier ones
  applied; locality is checked after each edit, retention after 1, 10, 100 edits; every item is
  evaluated after the last.
* batch: all items in one editor call where the editor supports it.
* per-user: all items of a user become one delta (a superseding item replaces the one it
  names); each question is asked with only its own user's delta; a superseded item is scored
  on its replacement's target.

Prompting methods change no weights, so every mode evaluates them like ``independent``
(per-user mode still gives them the user's stored preferences).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from prefedit.bench.evaluate import Accumulator, EditResult, MethodEval, check_probes, item_record
from prefedit.bench.tasks.data import BenchItem
from prefedit.deltas import Delta, applied, apply_delta, compose, revert_delta
from prefedit.deltas.routed import routable
from prefedit.personalize import active_preferences

T = TypeVar("T")
CHUNK = 8  # items per evaluation pass when they share weights


def _chunks(seq: Sequence[T], n: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def run_mode(ev: MethodEval) -> None:
    """Run ``ev``'s method in the configured mode, appending finished units to the run directory."""
    mode = ev.cfg.mode
    if mode == "per-user":
        _per_user(ev)
    elif not ev.method.edits or mode == "independent":
        _independent(ev)
    elif mode == "sequential":
        _sequential(ev)
    else:
        _batch(ev)


def _write(ev: MethodEval, rows: list[dict[str, Any]], records: list[dict[str, Any]], error: str | None = None) -> None:
    for r in rows:
        r["edit_error"] = error
    ev.run.append(ev.method.name, "rows", rows)
    ev.run.append(ev.method.name, "items", records)


def _independent(ev: MethodEval) -> None:
    items = list(ev.tasks.items)
    probes = {it.id: ev.probes_for({it.user}) for it in items}
    ev.prepare(list(probes.values()))
    done = ev.run.done_units(ev.method.name)
    todo = [(i, it) for i, it in enumerate(items) if it.id not in done]
    if not ev.method.edits:
        for chunk in ev.progress(list(_chunks(todo, CHUNK)), f"{ev.method.name}", None):
            group = [it for _, it in chunk]
            rows, loc = ev.evaluate(group, probes, {it.id: it.id for it in group})
            recs = [item_record(it.id, it, EditResult(None), None, loc.get(it.id, {})) for it in group]
            _write(ev, rows, recs)
        return
    if ev.cfg.retention:
        ev.base_retention()
    acc = Accumulator(ev, "composed")
    can_route = hasattr(ev.backend, "routing")
    pending: list[tuple[BenchItem, EditResult]] = []

    def finish(group: list[tuple[BenchItem, EditResult]]) -> None:
        if len(group) > 1:  # one pass, each row with only its own item's delta
            with ev.backend.routing([res.delta for _, res in group]):
                rows, loc = ev.evaluate([it for it, _ in group], probes, {it.id: it.id for it, _ in group},
                                        route={it.id: j for j, (it, _) in enumerate(group)})
        else:
            (it, res), = group
            with applied(ev.backend.lm, res.delta):
                rows, loc = ev.evaluate([it], {it.id: probes[it.id]}, {it.id: it.id})
        for it, res in group:
            _write(ev, [r for r in rows if r["item"] == it.id],
                   [item_record(it.id, it, res, ev.switch_seconds(res.delta), loc.get(it.id, {}))], res.error)
            acc.add(res.delta)

    # Each edit is computed on the unedited model. Up to CHUNK items whose deltas can be routed
    # (prefedit.deltas.routed) are then answered in one pass; any other delta is applied alone.
    for i, it in ev.progress(todo, f"{ev.method.name}", len(todo)):
        res = ev.edit(it, i)
        if can_route and routable(ev.backend.lm, res.delta):
            pending.append((it, res))
            if len(pending) == CHUNK:
                finish(pending)
                pending = []
            continue
        if pending:
            finish(pending)
            pending = []
        finish([(it, res)])
    if pending:
        finish(pending)


def _users(items: Sequence[BenchItem]) -> dict[str, list[BenchItem]]:
    users: dict[str, list[BenchItem]] = {}
    for it in items:
        users.setdefault(it.user, []).append(it)
    return users


def _resolve_supersedes(ev: MethodEval, items: Sequence[BenchItem]) -> set[str]:
    """Point each superseded item's scoring at its final replacement; return the active ids."""
    by_id = {it.id: it for it in items}
    replaced_by = {it.preference.supersedes: it.id for it in items if it.preference.supersedes}
    for it in items:
        final = it.id
        while final in replaced_by:
            final = replaced_by[final]
        ev.scoring[it.id] = by_id[final]
    return {p.id for p in active_preferences([it.preference for it in items])}


def _per_user(ev: MethodEval) -> None:
    users = _users(ev.tasks.items)
    active = {u: _resolve_supersedes(ev, its) for u, its in users.items()}
    for u, its in users.items():
        ev.stored[u] = tuple(it.preference.statement for it in its if it.id in active[u])
    probes = {its[0].id: ev.probes_for({u}) for u, its in users.items()}
    ev.prepare(list(probes.values()))
    if ev.method.edits and ev.cfg.retention:
        ev.base_retention()
    acc = Accumulator(ev, "composed")
    done = ev.run.done_units(ev.method.name)
    todo = [(u, its) for u, its in users.items() if u not in done]
    index = {it.id: i for i, it in enumerate(ev.tasks.items)}
    for u, its in ev.progress(todo, f"{ev.method.name} (users)", len(todo)):
        results = {it.id: ev.edit(it, index[it.id]) if it.id in active[u] else EditResult(None) for it in its}
        deltas = [r.delta for r in results.values() if r.delta is not None]
        user_delta = compose(deltas, editor=ev.method.name) if deltas else None
        with applied(ev.backend.lm, user_delta):
            rows, loc = ev.evaluate(its, probes, {it.id: u for it in its})
        switch = ev.switch_seconds(user_delta)
        recs = [item_record(u, it, results[it.id], switch if k == 0 else None, loc.get(it.id, {})) for k, it in enumerate(its)]
        errors = "; ".join(r.error for r in results.values() if r.error) or None
        _write(ev, rows, recs, errors)
        for it in its:
            if it.id in active[u]:
                acc.add(results[it.id].delta)


def _evaluate_all(ev: MethodEval, items: Sequence[BenchItem]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for chunk in ev.progress(list(_chunks(list(items), CHUNK)), f"{ev.method.name} (answers)", None):
        r, _ = ev.evaluate(chunk, {}, {it.id: "*" for it in chunk})
        rows += r
    return rows


def _run_users(ev: MethodEval) -> set[str]:
    return {it.user for it in ev.tasks.items}


def _sequential(ev: MethodEval) -> None:
    if ev.run.is_done(ev.method.name):
        return
    ev.run.reset(ev.method.name)
    order = sorted(ev.tasks.items, key=lambda it: (it.file_rank, it.index))
    probes = ev.probes_for(_run_users(ev))
    ev.prepare([probes])
    if ev.cfg.retention:
        ev.base_retention()
    checkpoints = set(ev.cfg.retention_checkpoints) if ev.cfg.retention else set()
    stack: list[Delta] = []
    records, retention = [], []
    try:
        for k, it in ev.progress(list(enumerate(order, 1)), f"{ev.method.name} (edits)", len(order)):
            res = ev.edit(it, k - 1)
            if res.delta is not None:
                apply_delta(ev.backend.lm, res.delta)
                stack.append(res.delta)
            records.append(item_record("*", it, res, None, check_probes(ev, probes)))
            if k in checkpoints:
                acc, n = ev.retention(None)
                retention.append({"count": k, "edits": k, "accuracy": acc, "n": n, "accumulation": "sequential"})
        rows = _evaluate_all(ev, order)
    finally:
        for d in reversed(stack):
            revert_delta(ev.backend.lm, d)
    errors = {r["item"]: r["error"] for r in records}
    for r in rows:
        r["edit_error"] = errors.get(r["item"])
    ev.run.append(ev.method.name, "rows", rows)
    ev.run.append(ev.method.name, "items", records)
    ev.run.append(ev.method.name, "retention", retention)
    ev.run.mark_done(ev.method.name)


def _batch(ev: MethodEval) -> None:
    from prefedit.bench.methods import batch_delta

    if ev.run.is_done(ev.method.name):
        return
    ev.run.reset(ev.method.name)
    items = list(ev.tasks.items)
    probes = ev.probes_for(_run_users(ev))
    ev.prepare([probes])
    if ev.cfg.retention:
        ev.base_retention()
    delta = batch_delta(ev.method, ev.backend.lm, [it.edit_view() for it in items], ev.spec)
    n = len(items)
    res = EditResult(delta, seconds=float(delta.info.extra["seconds"]) / n, nbytes=delta.nbytes() // n,
                     search_dtype=delta.info.extra.get("search_dtype"))
    with applied(ev.backend.lm, delta):
        loc = check_probes(ev, probes)
        acc, m = ev.retention(None) if ev.cfg.retention else (None, 0)
        rows = _evaluate_all(ev, items)
    switch = ev.switch_seconds(delta)
    records = [item_record("*", it, res, switch if k == 0 else None, loc if k == 0 else {}) for k, it in enumerate(items)]
    ev.run.append(ev.method.name, "rows", rows)
    ev.run.append(ev.method.name, "items", records)
    if acc is not None:
        ev.run.append(ev.method.name, "retention", [{"count": n, "edits": n, "accuracy": acc, "n": m, "accumulation": "batch"}])
    ev.run.mark_done(ev.method.name)
