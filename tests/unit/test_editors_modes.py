"""Edit modes: independent, sequential and batch are explicit, recorded, and leave the model as found."""

from __future__ import annotations

import pytest

from prefedit.deltas import applied_deltas
from prefedit.editing import EditPlan, get_editor, merge_plans, run_plans
from prefedit.errors import ConfigError, EditError

from test_editors_support import assert_same_state, fast_config, small_plan, snapshot


def plans(lm) -> list[EditPlan]:
    full = small_plan(lm, 3)
    return [EditPlan(requests=(r,), kl_prompts=full.kl_prompts) for r in full.requests]


def test_independent_mode_edits_each_plan_alone(tiny) -> None:
    lm = tiny("llama")
    seen: list[int] = []
    before = snapshot(lm)
    out = run_plans(lm, "memit", plans(lm), fast_config("memit", lm), mode="independent", on_edit=lambda i, d: seen.append(len(applied_deltas(lm))))
    assert seen == [1, 1, 1]  # evaluated with only its own delta, reverted after
    assert [d.info.extra["mode"] for d in out] == ["independent"] * 3
    assert [d.info.preference_ids for d in out] == [["hobby"], ["home"], ["drink"]]
    assert_same_state(before, snapshot(lm))


def test_sequential_mode_accumulates_and_threads_alphaedit_state(tiny) -> None:
    lm = tiny("llama")
    seen: list[int] = []
    before = snapshot(lm)
    out = run_plans(lm, "alphaedit", plans(lm), fast_config("alphaedit", lm), mode="sequential", on_edit=lambda i, d: seen.append(len(applied_deltas(lm))))
    assert seen == [1, 2, 3]
    assert [d.info.extra["position"] for d in out] == [0, 1, 2]
    assert [d.info.extra["prior_edits"] for d in out] == [0, 1, 2]  # earlier keys were passed on
    assert {d.info.extra["mode"] for d in out} == {"sequential"}
    assert_same_state(before, snapshot(lm))


def test_sequential_edit_is_computed_on_top_of_earlier_ones(tiny) -> None:
    lm = tiny("gpt2")
    ps = plans(lm)[:2]
    config = fast_config("ft-m", lm)
    seq = run_plans(lm, get_editor("ft-m"), ps, config, mode="sequential")
    ind = run_plans(lm, get_editor("ft-m"), ps, config, mode="independent")
    assert seq[0].updates[0].diff.equal(ind[0].updates[0].diff)
    assert not seq[1].updates[0].diff.equal(ind[1].updates[0].diff)


def test_batch_mode_makes_one_delta_for_all_plans(tiny) -> None:
    lm = tiny("qwen2")
    out = run_plans(lm, "grace", plans(lm), fast_config("grace", lm), mode="batch")
    assert len(out) == 1 and out[0].info.extra["mode"] == "batch" and out[0].info.extra["plans"] == 3
    assert out[0].info.preference_ids == ["hobby", "home", "drink"]
    assert out[0].patches[0].keys.shape[0] == 3


def test_rome_cannot_batch_and_unknown_mode_is_refused(tiny) -> None:
    lm = tiny("llama")
    with pytest.raises(EditError, match="does not support 'batch'"):
        run_plans(lm, "rome", plans(lm), mode="batch")
    with pytest.raises(ConfigError, match="mode must be one of"):
        run_plans(lm, "memit", plans(lm), mode="parallel")  # type: ignore[arg-type]


def test_merge_plans_keeps_every_request_and_refuses_mixed_styles(tiny) -> None:
    lm = tiny("llama")
    ps = plans(lm)
    merged = merge_plans(ps)
    assert len(merged.requests) == 3 and merged.kl_prompts == ps[0].kl_prompts
    with pytest.raises(EditError, match="different styles"):
        merge_plans([ps[0], EditPlan(requests=ps[1].requests, style="subject")])
