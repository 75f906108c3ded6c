"""Judges: decide whether an answer gives the preference's target. Separate from metrics: a judge
returns one verdict per answer (True, False, or None when it could not decide); the summary
turns verdicts into accuracy.

* ``match``: case-insensitive containment of the target, its aliases or the cluster targets
  given in the data (never variants a method generated for itself).
* ``embed``: MiniLM similarity above a threshold calibrated on ``data/judge_calibration.json``.
* ``llm``: an OpenAI-compatible endpoint (``PREFEDIT_LLM_BASE_URL``, ``PREFEDIT_LLM_API_KEY``,
  ``PREFEDIT_LLM_MODEL``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from prefedit.registry import Registry


@dataclass(frozen=True)
class JudgeInput:
    """One answer and what counts as right."""

    answer: str
    accepted: tuple[str, ...]
    query_type: str = "explicit"
    question: str = ""


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool | None]: ...

    def info(self) -> dict[str, Any]: ...


JUDGES: Registry[Any] = Registry("judge")
JUDGES.add("match", "prefedit.bench.judges.match:MatchJudge", help="case-insensitive containment of the target or given aliases")
JUDGES.add("embed", "prefedit.bench.judges.embed:EmbedJudge", help="MiniLM similarity above a calibrated threshold")
JUDGES.add("llm", "prefedit.bench.judges.llm:LlmJudge", help="an OpenAI-compatible endpoint (PREFEDIT_LLM_*)")


def get_judge(name: str, **kwargs: Any) -> Judge:
    """A judge instance by name."""
    return JUDGES.get(name)(**kwargs)  # type: ignore[no-any-return]


__all__ = ["JUDGES", "Judge", "JudgeInput", "get_judge"]
