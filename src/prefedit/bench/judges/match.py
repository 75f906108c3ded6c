"""The match judge: the answer contains the target, an alias, or a cluster target from the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefedit.bench.judges import JudgeInput


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def contains_target(answer: str, accepted: Sequence[str]) -> bool:
    """Case- and whitespace-insensitive containment of any accepted string."""
    a = _norm(answer)
    return any(_norm(t) in a for t in accepted if t.strip())


class MatchJudge:
    name = "match"

    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool | None]:
        return [contains_target(x.answer, x.accepted) for x in inputs]

    def info(self) -> dict[str, Any]:
        return {"rule": "case-insensitive containment of target, aliases or given cluster targets"}
