"""Result schemas of a bench run: one row per (item, query type, turns, method), and the summary.

``results.jsonl`` holds ``ResultRow`` lines; ``summary.json`` is a ``Summary``. Accuracy is a
fraction in [0, 1]; ``turns`` 0 means no distractor turns.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

SUMMARY_TYPE = "prefedit.bench.summary"
ROW_KEYS = ("item", "query_type", "turns", "method")


class ResultRow(TypedDict):
    """One answer and the verdict of every judge that ran on it."""

    item: str
    method: str
    query_type: str
    turns: int
    question: str
    prompt: str
    answer: str
    target: str
    accepted: list[str]
    budget: int
    user: str
    verdicts: dict[str, bool | None]
    edit_error: NotRequired[str | None]


class AccuracyRow(TypedDict):
    method: str
    query_type: str
    turns: int
    n: int
    accuracy: float


class LocalityRow(TypedDict):
    method: str
    kind: str  # "other-users" or "unrelated"
    n: int
    agreement: float


class RetentionRow(TypedDict):
    method: str
    edits: int
    accuracy: float
    n: NotRequired[int]
    accumulation: NotRequired[str]  # "sequential", "composed" or "batch"


class EfficiencyRow(TypedDict):
    method: str
    seconds_per_preference: float | None
    peak_rss_mb: float | None
    bytes_per_preference: float | None
    switch_seconds: NotRequired[float | None]
    isolated: NotRequired[bool]
    search_dtype: NotRequired[str | None]  # the dtype an editor's search ran in, if it says


class Summary(TypedDict):
    type: str
    prefedit_version: str
    model: str
    fingerprint: str | None
    protocol: str
    judge: str
    mode: str
    data: list[str]
    results: list[AccuracyRow]
    locality: list[LocalityRow]
    retention: list[RetentionRow]
    efficiency: list[EfficiencyRow]
    judges: dict[str, Any]
    config: dict[str, Any]


def row_key(row: dict[str, Any]) -> tuple[str, str, int, str]:
    """The identity of a result row: (item, query type, turns, method)."""
    return (str(row["item"]), str(row["query_type"]), int(row["turns"]), str(row["method"]))
