"""From judged rows and per-item records to the summary's tables (judges stay separate)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefedit.bench.judges import JudgeInput, get_judge
from prefedit.bench.schema import AccuracyRow, LocalityRow, RetentionRow, row_key

LOCALITY_KINDS = ("other-users", "unrelated")


def judge_rows(rows: list[dict[str, Any]], names: Sequence[str], previous: dict[tuple[Any, ...], dict[str, Any]],
               judges: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill ``row['verdicts'][name]`` for every judge, reusing earlier verdicts of unchanged answers.

    Returns the judges used, by name (for their ``info()``).
    """
    judges = dict(judges or {})
    for name in names:
        todo = []
        for r in rows:
            r.setdefault("verdicts", {})
            old = previous.get(row_key(r))
            if old is not None and old.get("answer") == r["answer"] and name in old.get("verdicts", {}):
                r["verdicts"][name] = old["verdicts"][name]
            else:
                todo.append(r)
        if todo or name not in judges:
            judges.setdefault(name, get_judge(name))
        if todo:
            inputs = [JudgeInput(r["answer"], tuple(r["accepted"]), r["query_type"], r.get("question", "")) for r in todo]
            for r, v in zip(todo, judges[name].judge(inputs), strict=True):
                r["verdicts"][name] = v
    return judges


def accuracy_rows(rows: Sequence[dict[str, Any]], judge: str, methods: Sequence[str], query_types: Sequence[str]) -> list[AccuracyRow]:
    """Accuracy per (method, query type, turns) under ``judge`` (no verdict counts as wrong)."""
    groups: dict[tuple[str, str, int], list[bool]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["query_type"], int(r["turns"])), []).append(r["verdicts"].get(judge) is True)
    order = {m: i for i, m in enumerate(methods)}
    qorder = {q: i for i, q in enumerate(query_types)}
    keys = sorted(groups, key=lambda k: (order.get(k[0], 99), qorder.get(k[1], 99), k[2]))
    return [AccuracyRow(method=m, query_type=q, turns=t, n=len(groups[(m, q, t)]), accuracy=sum(groups[(m, q, t)]) / len(groups[(m, q, t)]))
            for m, q, t in keys]


def agreement(rows: Sequence[dict[str, Any]], a: str, b: str) -> float | None:
    """Fraction of rows on which judges ``a`` and ``b`` agree."""
    pairs = [(r["verdicts"].get(a) is True, r["verdicts"].get(b) is True) for r in rows if a in r["verdicts"] and b in r["verdicts"]]
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else None


def locality_rows(method: str, records: Sequence[dict[str, Any]]) -> list[LocalityRow]:
    """Agreement per kind, pooled over every check of the method."""
    out = []
    for kind in LOCALITY_KINDS:
        agree = sum(r.get("locality", {}).get(kind, [0, 0])[0] for r in records)
        n = sum(r.get("locality", {}).get(kind, [0, 0])[1] for r in records)
        if n:
            out.append(LocalityRow(method=method, kind=kind, n=n, agreement=agree / n))
    return out


def retention_rows(method: str, records: Sequence[dict[str, Any]], base: dict[str, Any] | None) -> list[RetentionRow]:
    """Edits 0 (the base model) and every checkpoint reached."""
    out: list[RetentionRow] = []
    if base and "accuracy" in base:
        out.append(RetentionRow(method=method, edits=0, accuracy=float(base["accuracy"]), n=int(base["n"]), accumulation="none"))
    for r in records:
        if "edits" in r:
            out.append(RetentionRow(method=method, edits=int(r["edits"]), accuracy=float(r["accuracy"]), n=int(r["n"]),
                                    accumulation=str(r.get("accumulation", ""))))
    return out
