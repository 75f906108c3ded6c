"""Bench items from data files, and the ``--limit`` selection.

UPQA JSON (flat or 9-way clustered) gives query types explicit, paraphrased, implicit and
recommendation; multi-turn files (rows with ``preference`` and ``question``) give ``multiturn``.
Items without an id get ``<file stem>-<index>``. ``--limit N`` first interleaves items
round-robin by attribute type (stable within a type; items without one form one group in file
order), then takes N, so small runs cover every type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prefedit.errors import DataError
from prefedit.preferences.clusters import accepted_targets
from prefedit.preferences.types import QUERY_TYPES, Preference

MULTITURN = "multiturn"
ALL_QUERY_TYPES = (*QUERY_TYPES, MULTITURN)


@dataclass(frozen=True, kw_only=True)
class BenchItem:
    """One preference to personalize and the questions that test it."""

    id: str
    preference: Preference
    questions: dict[str, str]  # query type -> question
    source: str
    index: int  # row in its file
    file_rank: int  # position of its file in --data
    type_key: str | None  # attribute type (interleave key); None for multi-turn rows
    user: str  # user_id, or the item id when the data names none

    @property
    def accepted(self) -> tuple[str, ...]:
        """Target, aliases and cluster targets given in the data (never method-generated)."""
        return accepted_targets(self.preference)

    @property
    def clustered(self) -> bool:
        return len(self.preference.given_subjects) > 1

    def edit_view(self) -> Preference:
        """The preference as methods see it: no evaluation question but the explicit one."""
        return replace(self.preference, questions={"explicit": self.preference.explicit_question})


@dataclass(frozen=True)
class TaskSet:
    """Every loaded item (for probes) and the selected ones (evaluated), with their query types."""

    all_items: tuple[BenchItem, ...]
    items: tuple[BenchItem, ...]
    query_types: tuple[str, ...]


def _raw_rows(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                rows.append(None)
        return rows
    if isinstance(data, dict) and isinstance(data.get("preferences"), list):
        data = data["preferences"]
    return data if isinstance(data, list) else []


def _is_multiturn(rows: list[Any]) -> bool:
    first = next((r for r in rows if isinstance(r, dict)), {})
    return "preference" in first and "question" in first and "input_attribute" not in first


def _load_file(path: Path, rank: int) -> list[BenchItem]:
    from prefedit.preferences.loaders import load_multiturn, load_preferences

    if not path.is_file():
        raise DataError(f"data file not found: {path}", hint="pass an existing file to --data")
    rows = _raw_rows(path)
    named_user = [isinstance(r, dict) and bool(r.get("user_id")) for r in rows]
    if _is_multiturn(rows):
        return [
            BenchItem(id=m.id, preference=m.preference, questions={MULTITURN: m.question}, source=str(path), index=i,
                      file_rank=rank, type_key=None, user=m.preference.user_id if named_user[i] else m.id)
            for i, m in enumerate(load_multiturn(path))
        ]
    items = []
    for i, p in enumerate(load_preferences(path)):
        questions = dict(p.questions) or {"explicit": p.explicit_question}
        user = p.user_id if i < len(named_user) and named_user[i] else p.id
        items.append(BenchItem(id=p.id, preference=p, questions=questions, source=str(path), index=i,
                               file_rank=rank, type_key=p.subject, user=user))
    return items


def load_items(paths: Sequence[str | Path]) -> list[BenchItem]:
    """Items of every file in order; ids must be unique across files; supersedes must name a same-user item."""
    items = [it for rank, p in enumerate(paths) for it in _load_file(Path(p), rank)]
    seen: dict[str, BenchItem] = {}
    for it in items:
        if it.id in seen:
            raise DataError(f"{it.source}: row {it.index}: field 'id' {it.id!r} repeats an id of {seen[it.id].source}",
                            hint="give the rows explicit, unique ids")
        seen[it.id] = it
    for it in items:
        old = it.preference.supersedes
        if old and (old not in seen or seen[old].user != it.user):
            raise DataError(f"{it.source}: row {it.index}: field 'supersedes' names {old!r}, which is not an item of user {it.user!r}")
    return items


def interleave(items: Sequence[BenchItem]) -> list[BenchItem]:
    """Round-robin over attribute types in order of first appearance; untyped items are one group."""
    groups: dict[str | None, list[BenchItem]] = {}
    for it in items:
        groups.setdefault(it.type_key, []).append(it)
    out: list[BenchItem] = []
    for depth in range(max((len(g) for g in groups.values()), default=0)):
        out.extend(g[depth] for g in groups.values() if depth < len(g))
    return out


def select_items(items: Sequence[BenchItem], limit: int | None, *, per_user: bool = False) -> list[BenchItem]:
    """The first ``limit`` items (or users, with all their items) after interleaving."""
    order = interleave(items)
    if limit is None:
        return order
    if not per_user:
        return order[:limit]
    users = list(dict.fromkeys(it.user for it in order))[:limit]
    keep = set(users)
    return [it for it in order if it.user in keep]


def load_tasks(paths: Sequence[str | Path], *, limit: int | None, per_user: bool, query_types: Sequence[str] = ()) -> TaskSet:
    """Load, select and check the query types asked for (default: every type in the data)."""
    all_items = load_items(paths)
    if not all_items:
        raise DataError(f"no items in {', '.join(map(str, paths))}")
    present = [q for q in ALL_QUERY_TYPES if any(q in it.questions for it in all_items)]
    unknown = [q for q in query_types if q not in ALL_QUERY_TYPES]
    if unknown:
        raise DataError(f"unknown query type(s) {unknown}; allowed: {', '.join(ALL_QUERY_TYPES)}")
    missing = [q for q in query_types if q not in present]
    if missing:
        raise DataError(f"query type(s) {missing} do not occur in the data; present: {', '.join(present)}")
    chosen = tuple(q for q in ALL_QUERY_TYPES if q in (query_types or present))
    return TaskSet(all_items=tuple(all_items), items=tuple(select_items(all_items, limit, per_user=per_user)), query_types=chosen)
