"""The default method (``prefedit``) on the real SmolLM2: a preference edited from the statement
alone answers its explicit question, and unrelated prompts keep their exact greedy output."""

from __future__ import annotations

import pytest
import torch

from prefedit.bench.probes import unrelated_prompts
from prefedit.deltas import applied
from prefedit.models import chat_prompt, generate
from prefedit.personalize import preference_delta
from prefedit.preferences import Preference

pytestmark = pytest.mark.smollm2

PREFERENCES = [
    Preference(id="city", statement="I live in Lisbon.", subject="city", target="Lisbon", questions={"explicit": "Which city do I live in?"}),
    Preference(id="pet", statement="I have a cat named Miso.", subject="pet", target="Miso", questions={"explicit": "What is my cat's name?"}),
]


@pytest.mark.parametrize("pref", PREFERENCES, ids=lambda p: p.id)
def test_default_edit_answers_and_leaves_unrelated_prompts_exactly_alone(smollm2, pref: Preference) -> None:
    lm = smollm2
    unrelated = [chat_prompt(lm.tokenizer, q) for q in unrelated_prompts()]
    before = generate(lm, unrelated, max_new_tokens=32)
    weights = {k: v.clone() for k, v in lm.model.state_dict().items()}
    delta = preference_delta(lm, pref)  # sees the statement, subject and target only
    with applied(lm, delta):
        answer = generate(lm, [chat_prompt(lm.tokenizer, pref.explicit_question)], max_new_tokens=24)[0]
        after = generate(lm, unrelated, max_new_tokens=32)
    assert pref.target.lower() in answer.lower(), answer
    same = sum(a == b for a, b in zip(before, after, strict=True))
    assert same >= 19, f"only {same}/20 unrelated prompts kept their greedy output"
    assert all(torch.equal(weights[k], v) for k, v in lm.model.state_dict().items())


def test_edits_keyed_under_the_deployment_system_prompt_answer_under_it(smollm2) -> None:
    """A deployment that answers under its own system prompt keys its edits under it
    (``prefedit serve/personalize --system-prompt``); keyed under prefedit's default prompt,
    none of three such edits fired there (docs/personalize.md, "Deployment system prompt"). The
    plan carries guard prompts that keep unrelated questions under that prompt outside the radii."""
    from prefedit.personalize import method_spec, with_system

    lm = smollm2
    system = "You are Sol, the assistant of a small travel agency. Answer in one or two sentences."
    pref = PREFERENCES[0]
    unrelated = [chat_prompt(lm.tokenizer, q, system=system) for q in unrelated_prompts()]
    before = generate(lm, unrelated, max_new_tokens=32)
    delta = preference_delta(lm, pref, spec=with_system(method_spec("prefedit"), system))
    assert delta.info.extra["system_prompt"] == system
    with applied(lm, delta):
        answer = generate(lm, [chat_prompt(lm.tokenizer, pref.explicit_question, system=system)], max_new_tokens=24)[0]
        after = generate(lm, unrelated, max_new_tokens=32)
    assert pref.target.lower() in answer.lower(), answer
    same = sum(a == b for a, b in zip(before, after, strict=True))
    assert same >= 18, f"only {same}/20 unrelated prompts kept their greedy output (19/20 measured; 17/20 without guard prompts)"
