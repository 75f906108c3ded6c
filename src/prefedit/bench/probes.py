"""Locality and retention probes.

Locality: after a preference is applied, a fixed probe set must keep the base model's greedy
answers: 20 unrelated prompts written for prefedit (``data/probes_unrelated.json``, kind
``unrelated``) and questions of other users' items (kind ``other-users``; a seeded choice, the
same for every method). The base answers are generated once per run; afterwards a probe agrees
when greedy decoding reproduces its base answer token for token, which one teacher-forced
forward pass decides (``Backend.loglikelihood``'s is-greedy flag). Probes whose base answer
does not survive decode/re-encode on the base model itself fall back to generation and string
equality.

Retention: general questions SmolLM2-135M-Instruct answers correctly under the chat protocol
(``data/probes_retention.json``), asked under the chat protocol in every run and re-asked after
1, 10 and 100 edits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from prefedit.bench.judges.match import contains_target
from prefedit.bench.tasks.prompts import Context, render_probe


def _data(name: str) -> dict[str, Any]:
    return json.loads(resources.files("prefedit.data").joinpath(name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def unrelated_prompts() -> list[str]:
    return list(_data("probes_unrelated.json")["prompts"])


@dataclass(frozen=True)
class RetentionProbe:
    question: str
    answers: tuple[str, ...]


def retention_probes() -> list[RetentionProbe]:
    return [RetentionProbe(p["question"], tuple(p["answers"])) for p in _data("probes_retention.json")["probes"]]


@dataclass(frozen=True)
class Probe:
    kind: str  # "unrelated" or "other-users"
    text: str
    owner: str = ""  # the user whose item the question comes from


def other_item_pool(items: Sequence[Any], seed: int) -> list[Probe]:
    """Every item's first question as an other-users probe, in a seeded order."""
    pool = [Probe("other-users", next(iter(it.questions.values())), it.user) for it in items]
    random.Random(seed).shuffle(pool)
    return pool


def pick_others(pool: Sequence[Probe], exclude_users: set[str], k: int) -> list[Probe]:
    """The first ``k`` pool questions of users not in ``exclude_users`` (distinct texts)."""
    out: list[Probe] = []
    for p in pool:
        if len(out) == k:
            break
        if p.owner not in exclude_users and all(q.text != p.text for q in out):
            out.append(p)
    return out


class LocalityChecker:
    """Base answers of the probes (computed once, cached) and agreement checks under edits."""

    def __init__(self, backend: Any, protocol: str, cache: dict[str, Any]) -> None:
        self.backend, self.protocol, self.cache = backend, protocol, cache

    def _base_prompt(self, text: str) -> tuple[str, int]:
        return render_probe(self.backend, self.protocol, Context(), text)

    def ensure_base(self, probes: Sequence[Probe]) -> bool:
        """Generate and self-check base answers the cache lacks; True when the cache grew."""
        todo = list(dict.fromkeys(p.text for p in probes if p.text not in self.cache))
        if not todo:
            return False
        rendered = [self._base_prompt(t) for t in todo]
        answers = self.backend.generate([r[0] for r in rendered], [r[1] for r in rendered])
        conts = [a + self.backend.eos_text if self.backend.n_tokens(a) < b else a for a, (_, b) in zip(answers, rendered, strict=True)]
        forced = self.backend.loglikelihood([(r[0], c) for r, c in zip(rendered, conts, strict=True)])
        for t, a, c, (_, ok) in zip(todo, answers, conts, forced, strict=True):
            self.cache[t] = {"answer": a, "continuation": c, "forced": bool(ok and a.strip())}
        return True

    def requests(self, probes: Sequence[Probe], ctx: Callable[[str], Context]) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
        """(teacher-forced checks, prompts to generate) for ``probes``, each under ``ctx(probe text)``."""
        forced, generated = [], []
        for p in probes:
            prompt, budget = render_probe(self.backend, self.protocol, ctx(p.text), p.text)
            base = self.cache[p.text]
            if base["forced"]:
                forced.append((prompt, base["continuation"]))
            else:
                generated.append((prompt, budget))
        return forced, generated

    def verdicts(self, probes: Sequence[Probe], forced: Sequence[tuple[float, bool]], answers: Sequence[str]) -> dict[str, list[int]]:
        """{kind: [agreements, n]} from the results of ``requests``' two lists."""
        out: dict[str, list[int]] = {}
        fi = gi = 0
        for p in probes:
            if self.cache[p.text]["forced"]:
                ok = forced[fi][1]
                fi += 1
            else:
                ok = answers[gi] == self.cache[p.text]["answer"]
                gi += 1
            tally = out.setdefault(p.kind, [0, 0])
            tally[0] += int(ok)
            tally[1] += 1
        return out


def retention_prompts(backend: Any, probes: Sequence[RetentionProbe]) -> list[tuple[str, int]]:
    """Prompts and budgets of the retention questions: the chat protocol's, whatever the run's
    protocol (under the paper protocol's raw prompts the unedited model answers none of them, so
    retention would measure nothing; task version 2)."""
    return [render_probe(backend, "chat", Context(), p.question) for p in probes]


def retention_accuracy(answers: Sequence[str], probes: Sequence[RetentionProbe]) -> float:
    """Fraction of answers containing one of the expected answers."""
    hits = [contains_target(a, p.answers) for a, p in zip(answers, probes, strict=True)]
    return sum(hits) / len(hits) if hits else 0.0
