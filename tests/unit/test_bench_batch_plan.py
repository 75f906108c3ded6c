"""Batch mode plans each preference exactly as an independent edit does (one shared planner)."""

from __future__ import annotations

from dataclasses import replace

from prefedit.bench.methods import batch_delta, get_method
from prefedit.personalize import MethodSpec, plan_for
from prefedit.preferences.types import Preference

PREFS = [
    Preference(id="a", statement="I climb rocks on weekends.", subject="hobby", target="rock climbing",
               questions={"explicit": "Which sport do I practise on Saturdays?"}),
    Preference(id="b", statement="I live in Lisbon.", subject="city", target="Lisbon"),
]


def test_batch_plan_is_the_independent_plan_of_every_preference(tiny) -> None:
    lm = tiny("llama")
    spec = MethodSpec(editor="grace", builders=("templates",), max_requests=3, implicit=1, recommendation=1, answers="target", raw=1,
                      systems=("Answer briefly.",), editor_overrides={"steps": 2})
    plans = [plan_for(lm, p, spec) for p in PREFS]
    delta = batch_delta(get_method("grace"), lm, PREFS, spec)
    assert delta.info.extra["requests"] == sum(len(p.requests) for p in plans)
    assert len(delta.patches[0].keys) == sum(len(p.requests) for p in plans)
    # the evaluation question attached to an item is never planned
    assert all("Saturdays" not in r.prompt for p in plans for r in p.requests)
    assert plans[0].requests == plan_for(lm, replace(PREFS[0], questions={}), spec).requests
