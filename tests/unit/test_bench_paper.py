"""The reference's presets: specs through our editors, cluster variants, context templates."""

from __future__ import annotations

import pytest

from prefedit.bench.paper_presets import PRESETS, cluster_variants, paper_spec, reference_context_prefixes
from prefedit.errors import DataError
from prefedit.preferences.types import Preference


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_subject_keyed_and_every_override_is_an_editor_field(tiny, name: str) -> None:
    spec, dropped = paper_spec(name, tiny("llama"), seed=0)
    assert spec.style == "subject" and spec.editor == PRESETS[name].editor
    assert dropped == []


def test_rome_context_templates_are_21_seeded_samples(tiny) -> None:
    lm = tiny("llama")
    a, b = reference_context_prefixes(lm, 3), reference_context_prefixes(lm, 3)
    assert a == b and len(a) == 21 and a[0] == "" and all(p.endswith(". ") for p in a[1:])


def test_cluster_variants_keep_the_original_target() -> None:
    pref = Preference(id="p", statement="I dance.", subject="hobby", target="dancing",
                      given_subjects=("pastime", "hobby"), given_questions=("What's your pastime?", "What's my hobby?"),
                      given_targets=("clubbing", "dancing"))
    variants = cluster_variants(pref)
    assert [(v.subject, v.explicit_question, v.target) for v in variants] == [
        ("pastime", "What's your pastime?", "dancing"), ("hobby", "What's my hobby?", "dancing")]
    with pytest.raises(DataError, match="cluster"):
        cluster_variants(Preference(id="q", statement="I dance.", subject="hobby", target="dancing"))


def test_departures_name_real_presets_and_reach_the_report() -> None:
    from prefedit.bench.paper_presets import DEPARTURES
    from prefedit.bench.report import render_markdown

    assert set(DEPARTURES) <= set(PRESETS)
    summary = {"protocol": "chat", "judge": "match", "mode": "independent", "model": "m", "data": ["d.json"],
               "results": [], "locality": [], "retention": [], "efficiency": [],
               "methods": {"paper-lora": {"kind": "edit", "description": "", "departures": DEPARTURES["paper-lora"]}}}
    text = render_markdown(summary)
    assert "## Departures" in text and DEPARTURES["paper-lora"][0] in text and "Unfinished" not in text
    partial = render_markdown({**summary, "n_items": 50, "items_done": {"paper-lora": 50, "rag": 8}})
    assert "**Unfinished run**: items answered so far: `rag` 8 of 50" in partial


def test_paper_lora_runs_every_released_pass(tiny) -> None:
    # the released LoRA loop has no early stop: all 70 passes run whatever the loss
    spec, _ = paper_spec("paper-lora", tiny("llama"), seed=0)
    assert spec.editor_overrides["steps"] == 70 and spec.editor_overrides["early_stop_loss"] == 0.0
