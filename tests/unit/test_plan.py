"""The edit planner: chat keys, raw copies, the reference's subject-keyed plan."""

from __future__ import annotations

import pytest

from prefedit.editing.plan import SYSTEM_COPIES, plan_preference
from prefedit.errors import EditError
from prefedit.models.chat import chat_prompt, raw_prompt
from prefedit.preferences.clusters import build_cluster
from prefedit.preferences.types import Cluster, Preference

PREF = Preference(id="p", statement="I climb rocks on weekends.", subject="hobby", target="rock climbing")


def test_chat_plan_keys_on_the_templated_question_whatever_its_wording(tiny) -> None:
    tok = tiny("llama").tokenizer
    cluster = build_cluster(PREF, builders=("templates",))
    plan = plan_preference(tok, PREF, cluster=cluster, max_requests=4, implicit=1, recommendation=1, answers="target")
    assert len(plan.requests) == 6
    assert all(r.key == "last" and r.prompt.startswith(chat_prompt(tok, "x").split("x")[0]) for r in plan.requests)
    assert any("hobby" not in r.prompt for r in plan.requests)  # implicit questions need no subject word
    assert {r.target for r in plan.requests} == {"rock climbing"}


def test_raw_copies_are_untemplated_and_answer_with_a_leading_space(tiny) -> None:
    tok = tiny("llama").tokenizer
    cluster = build_cluster(PREF, builders=("templates",))
    chat = plan_preference(tok, PREF, cluster=cluster, max_requests=4, implicit=1, recommendation=1, answers="target")
    both = plan_preference(tok, PREF, cluster=cluster, max_requests=4, implicit=1, recommendation=1, answers="target", raw=2)
    assert both.requests[: len(chat.requests)] == chat.requests
    raw = both.requests[len(chat.requests) :]
    assert [r.prompt for r in raw] == [raw_prompt(tok, q) for q in [*cluster.questions[:2], cluster.implicit[0], cluster.recommendation[0]]]
    assert all(r.target == " rock climbing" and r.key == "last" and r.raw for r in raw)
    assert not any(r.raw for r in chat.requests)


def test_subject_plan_skips_questions_without_the_subject_and_refuses_when_none_is_left(tiny) -> None:
    tok = tiny("llama").tokenizer
    plan = plan_preference(tok, PREF, style="subject")
    assert [(r.key, r.subject, r.target) for r in plan.requests] == [("subject", "hobby", " rock climbing")]
    with pytest.raises(EditError, match="subject"):
        plan_preference(tok, PREF, style="subject", cluster=Cluster(preference=PREF, questions=("What do I do on weekends?",)))


def test_system_copies_repeat_the_first_questions_and_every_implicit_one_under_each_system_prompt(tiny) -> None:
    tok = tiny("llama").tokenizer
    cluster = build_cluster(PREF, builders=("templates",))
    chat = plan_preference(tok, PREF, cluster=cluster, max_requests=5, implicit=2, recommendation=1, answers="target")
    both = plan_preference(tok, PREF, cluster=cluster, max_requests=5, implicit=2, recommendation=1, answers="target",
                           systems=("Answer briefly.", "Be terse."))
    assert both.requests[: len(chat.requests)] == chat.requests
    asked = [*cluster.questions[:SYSTEM_COPIES], *cluster.implicit[:2], cluster.recommendation[0]]
    extra = both.requests[len(chat.requests) :]
    assert [r.prompt for r in extra] == [chat_prompt(tok, q, system=s) for s in ("Answer briefly.", "Be terse.") for q in asked]
    assert all(r.target == "rock climbing" and r.key == "last" for r in extra)


def test_the_deployment_system_prompt_replaces_the_default_in_every_chat_request(tiny) -> None:
    tok = tiny("llama").tokenizer
    cluster = build_cluster(PREF, builders=("templates",))
    kw = dict(cluster=cluster, max_requests=3, implicit=1, recommendation=1, answers="target", raw=1)
    default = plan_preference(tok, PREF, **kw)
    ours = plan_preference(tok, PREF, **kw, system="You are Ada, the travel desk's assistant.")
    asked = [*cluster.questions[:3], cluster.implicit[0], cluster.recommendation[0]]
    assert [r.prompt for r in ours.requests[: len(asked)]] == [chat_prompt(tok, q, system="You are Ada, the travel desk's assistant.") for q in asked]
    assert [r.prompt for r in default.requests[: len(asked)]] == [chat_prompt(tok, q) for q in asked]
    assert ours.requests[len(asked) :] == default.requests[len(asked) :]  # raw copies have no system prompt


def test_guard_prompts_are_corpus_questions_under_the_plans_system_prompt(tiny) -> None:
    from prefedit.editing.anchors import anchor_questions

    tok = tiny("llama").tokenizer
    assert plan_preference(tok, PREF).guard_prompts == ()
    plan = plan_preference(tok, PREF, guard=5, system="Be terse.")
    assert plan.guard_prompts == tuple(chat_prompt(tok, q, system="Be terse.") for q in anchor_questions(5))
    cluster = build_cluster(PREF, builders=("templates",))
    with_raw = plan_preference(tok, PREF, cluster=cluster, guard=5, system="Be terse.", raw=2)
    # raw copies are guarded by the same questions asked raw
    assert with_raw.guard_prompts == plan.guard_prompts + tuple(raw_prompt(tok, q) for q in anchor_questions(5))


def test_guard_requests_follow_the_corpus_questions_templated_and_raw(tiny) -> None:
    from prefedit.editing.anchors import anchor_questions, guard_requests

    tok = tiny("llama").tokenizer
    cluster = build_cluster(PREF, builders=("templates",))
    plan = plan_preference(tok, PREF, cluster=cluster, guard=5, guard_requests=3, raw=2)
    texts = [*anchor_questions(5), *guard_requests(3)]
    assert len(set(texts)) == 8
    assert plan.guard_prompts == tuple(chat_prompt(tok, q) for q in texts) + tuple(raw_prompt(tok, q) for q in texts)
    assert plan_preference(tok, PREF, guard=0, guard_requests=2).guard_prompts == tuple(chat_prompt(tok, q) for q in guard_requests(2))


def test_a_blank_deployment_system_prompt_is_refused_and_none_keeps_the_spec() -> None:
    from prefedit.errors import ConfigError
    from prefedit.personalize import GUARD_QUESTIONS, method_spec, with_system

    spec = method_spec("prefedit")
    assert with_system(spec, None) is spec and with_system(spec, spec.system) is spec
    with pytest.raises(ConfigError, match="system prompt is empty"):
        with_system(spec, "  ")
    assert with_system(spec, "Be terse.").guard == GUARD_QUESTIONS
