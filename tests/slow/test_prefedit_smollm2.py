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


def _answer_and_kept(lm, delta, question: str, unrelated: list[str], before: list[str], *, answer_tokens: int, probe_tokens: int) -> tuple[str, int]:
    """Under ``delta``: the answer to ``question`` and how many ``unrelated`` prompts keep their greedy output ``before``."""
    with applied(lm, delta):
        answer = generate(lm, [question], max_new_tokens=answer_tokens)[0]
        after = generate(lm, unrelated, max_new_tokens=probe_tokens)
    return answer, sum(a == b for a, b in zip(before, after, strict=True))


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


def _corpus_turns(n: int) -> list[dict[str, str]]:
    """The last ``n`` question-answer pairs of the shipped chat corpus (SmolLM2's own answers;
    the guard questions are the first 128), as conversation turns."""
    from prefedit.editing.stats import corpus_rows

    rows = corpus_rows("chat-v1")
    turns: list[dict[str, str]] = []
    for r in rows[-n:]:
        turns += [{"role": "user", "content": r["question"]}, {"role": "assistant", "content": r["answer"]}]
    return turns


def test_default_edit_still_answers_several_turns_into_a_conversation(smollm2) -> None:
    """The codebook's radii widen with the token's position, so a question asked after five
    unrelated turns (about 770 tokens) can still reach its entry where with fixed radii it does
    not, and the widening changes no more of the unrelated prompts asked after the same turns
    than fixed radii do. (Here the Lisbon edit fires after five turns, the Miso one does not; the
    Miso edit also fires on the first turn's question "What should I know before adopting a
    plant?", at position 28 where no radius has grown, and 4 of the 20 prompts after it changed.)"""
    from dataclasses import replace

    from prefedit.personalize import method_spec

    lm = smollm2
    history = _corpus_turns(5)
    unrelated = [chat_prompt(lm.tokenizer, q, history=history) for q in unrelated_prompts()]
    before = generate(lm, unrelated, max_new_tokens=32)
    default = method_spec("prefedit")
    # the guard rule alone already answers the Miso question after five turns, so both variants
    # leave it off to compare the position growth with fixed radii
    spec = replace(default, editor_overrides={**default.editor_overrides, "guard_ratio": 0.0})
    fixed = replace(spec, editor_overrides={**spec.editor_overrides, "grow_from": 0.0})
    hits: dict[str, list[bool]] = {"grown": [], "fixed": []}
    for pref in PREFERENCES:
        question = chat_prompt(lm.tokenizer, pref.explicit_question, history=history)
        same = {}
        for name, variant in (("grown", spec), ("fixed", fixed)):
            with applied(lm, preference_delta(lm, pref, spec=variant)):
                hits[name].append(pref.target.lower() in generate(lm, [question], max_new_tokens=24)[0].lower())
                same[name] = sum(a == b for a, b in zip(before, generate(lm, unrelated, max_new_tokens=32), strict=True))
        assert same["grown"] >= same["fixed"] - 1, f"{pref.id}: unrelated prompts unchanged after five turns {same}"
    assert hits["grown"][0] and sum(hits["grown"]) > sum(hits["fixed"]), hits


def test_raw_copies_answer_raw_questions_the_plan_does_not_hold_under_a_deployment_prompt(smollm2) -> None:
    """Keyed under a deployment's system prompt, the raw copies of the template questions answer
    questions asked with no chat template at all (as completion prompts), worded unlike any
    planned question; only the raw entries widen, and unrelated prompts asked raw keep their
    greedy output."""
    from prefedit.bench.tasks.prompts import PAPER_SYSTEM_PROMPT
    from prefedit.models.chat import raw_prompt
    from prefedit.personalize import method_spec, plan_for, with_system

    lm = smollm2
    spec = with_system(method_spec("prefedit"), PAPER_SYSTEM_PROMPT)
    asked = {"city": "Where is my home city?", "pet": "What do I call my cat?"}
    unrelated = [raw_prompt(lm.tokenizer, q) for q in unrelated_prompts()]
    before = generate(lm, unrelated, max_new_tokens=16)
    for pref in PREFERENCES:
        plan = plan_for(lm, pref, spec)
        question = raw_prompt(lm.tokenizer, asked[pref.id])
        assert question not in {r.prompt for r in plan.requests}
        delta = preference_delta(lm, pref, spec=spec)
        patch = delta.patches[0]
        raw = torch.tensor([r.raw for r in plan.requests])
        assert raw.sum() == 25 and patch.wide_radii is not None
        assert torch.equal(patch.wide_radii[~raw], patch.radii[~raw]) and bool((patch.wide_radii[raw] > patch.radii[raw]).any())
        answer, same = _answer_and_kept(lm, delta, question, unrelated, before, answer_tokens=8, probe_tokens=16)
        assert pref.target.lower() in answer.lower(), answer
        assert same >= 19, f"{pref.id}: only {same}/20 raw unrelated prompts kept their greedy output"


def test_the_guard_rule_answers_a_question_beyond_the_wide_radius_and_leaves_unrelated_prompts_alone(smollm2) -> None:
    """A question about the user that lies beyond every entry's wide radius, but nearer to the
    user's entries than to any guard question, is answered through the guard rule alone; the
    20 unrelated prompts keep their greedy output."""
    from dataclasses import replace

    from prefedit.deltas.delta import codebook_output
    from prefedit.editing.values import prompt_keys

    lm = smollm2
    pref = PREFERENCES[0]
    question = chat_prompt(lm.tokenizer, "What's something fun to do nearby?")
    unrelated = [chat_prompt(lm.tokenizer, q) for q in unrelated_prompts()]
    before = generate(lm, unrelated, max_new_tokens=32)
    delta = preference_delta(lm, pref)
    patch = delta.patches[0]
    from prefedit.personalize import GUARD_QUESTIONS, GUARD_REQUESTS

    assert patch.guarded and patch.guard_keys is not None
    assert patch.guard_keys.shape[0] == 2 * (GUARD_QUESTIONS + GUARD_REQUESTS)  # corpus questions and generic requests, templated and raw
    key = prompt_keys(lm, lm.model.get_submodule(patch.module), [question])
    blank = torch.zeros(1, patch.values.shape[1])
    assert codebook_output(patch, key, blank).abs().sum() > 0
    assert codebook_output(replace(patch, near_radii=None, guard_keys=None, guard_ratio=0.0), key, blank).abs().sum() == 0
    answer, same = _answer_and_kept(lm, delta, question, unrelated, before, answer_tokens=24, probe_tokens=32)
    assert pref.target.lower() in answer.lower(), answer
    assert same >= 19, f"only {same}/20 unrelated prompts kept their greedy output"
