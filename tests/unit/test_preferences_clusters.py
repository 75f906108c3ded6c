"""Cluster builders without an embedder: given, templates, self (fake model), openai (mock HTTP)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from prefedit.errors import ConfigError, UnknownNameError
from prefedit.preferences import Cluster, ClusterConfig, Preference, build_cluster, builder_names, filter_cluster
from prefedit.preferences.facets import agglomerate
from prefedit.preferences.paraphrase import LLMEndpointError, parse_numbered

SHELLFISH = Preference(
    id="p1",
    statement="I'm allergic to shellfish.",
    subject="food allergy",
    target="shellfish",
    questions={"explicit": "What am I allergic to?", "implicit": "What should I avoid at a seafood restaurant?"},
    aliases=("crustaceans",),
)


def test_builders_are_registered_by_name() -> None:
    assert {"given", "templates", "self", "openai"} <= set(builder_names())


def test_given_and_templates_cluster_is_deterministic_and_deduplicated() -> None:
    first, second = build_cluster(SHELLFISH), build_cluster(SHELLFISH)
    assert first == second
    assert first.sources == ("given", "templates")
    assert first.questions[0] == "What am I allergic to?"
    assert first.answers[0] == "shellfish"
    assert first.subjects[0] == "food allergy" and "allergy" in first.subjects
    assert "What should I avoid at a seafood restaurant?" == first.implicit[0]
    keys = [" ".join(q.casefold().split()).rstrip("?.!") for q in first.questions]
    assert len(keys) == len(set(keys))
    assert all("shellfish" in a.casefold() for a in first.answers)


def test_clusters_respect_config_caps() -> None:
    cluster = build_cluster(SHELLFISH, config=ClusterConfig(max_questions=3, max_answers=2, max_subjects=1, max_implicit=1))
    assert (len(cluster.questions), len(cluster.answers), len(cluster.subjects), len(cluster.implicit)) == (3, 2, 1, 1)


def test_non_core_subject_gets_only_subject_bearing_templates() -> None:
    pref = Preference(id="p", statement="My father was a police officer.", subject="father's job", target="police officer")
    cluster = build_cluster(pref, builders=("templates",))
    assert all("father's job" in q for q in cluster.questions)
    assert "What do I do for a living?" not in cluster.questions


def test_filter_drops_answers_without_the_target_but_keeps_aliases() -> None:
    cluster = Cluster(preference=SHELLFISH, questions=("q?",), answers=("shellfish", "No crustaceans for you.", "Pizza."))
    assert filter_cluster(cluster, ClusterConfig()).answers == ("shellfish", "No crustaceans for you.")


def test_unknown_builder_suggests_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'templates'"):
        build_cluster(SHELLFISH, builders=("template",))


def test_config_rejects_out_of_range_values() -> None:
    with pytest.raises(ConfigError, match="max_questions"):
        ClusterConfig(max_questions=0)
    with pytest.raises(ConfigError, match="min_similarity"):
        ClusterConfig(min_similarity=1.5)


def test_parse_numbered_reads_lists_and_skips_chatter() -> None:
    text = 'Sure! Here they are:\n1. "What am I allergic to?"\n2) Which food makes me sick?\n- bullet item\n\nHope this helps.'
    assert parse_numbered(text) == ["What am I allergic to?", "Which food makes me sick?", "bullet item"]
    assert parse_numbered(text, limit=1) == ["What am I allergic to?"]


REPLIES = {
    "same as": "1. allergy\n2. intolerance",
    "question": "1. Which food am I allergic to?\n2. What can't I eat?\n3. not a question",
    "answer": "1. You are allergic to shellfish.\n2. You cannot eat it.",
}


def _reply_for(prompt: str) -> str:
    return next(text for key, text in REPLIES.items() if key in prompt)


def test_self_builder_uses_the_model_being_edited(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefedit.models

    seen: list[str] = []

    def fake_generate(lm: object, prompts: list[str], *, max_new_tokens: int) -> list[str]:
        seen.extend(prompts)
        return [_reply_for(p) for p in prompts]

    monkeypatch.setattr(prefedit.models, "generate", fake_generate)
    lm = SimpleNamespace(model=None, tokenizer=SimpleNamespace(chat_template=None))
    cluster = build_cluster(SHELLFISH, builders=("self",), lm=lm)
    assert len(seen) == 3 and all(p.endswith("Assistant:") for p in seen)
    assert cluster.sources == ("self",)
    assert "Which food am I allergic to?" in cluster.questions and "not a question" not in cluster.questions
    assert cluster.answers == ("You are allergic to shellfish.",)  # the one without the target is dropped
    assert cluster.subjects == ("allergy", "intolerance")


def test_self_builder_without_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs the model"):
        build_cluster(SHELLFISH, builders=("self",))


def test_openai_builder_posts_chat_completions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFEDIT_LLM_BASE_URL", "http://llm.test/v1/")
    monkeypatch.setenv("PREFEDIT_LLM_MODEL", "tiny")
    monkeypatch.setenv("PREFEDIT_LLM_API_KEY", "sk-test")
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = json.loads(request.content)
        return httpx.Response(200, json={"choices": [{"message": {"content": _reply_for(body["messages"][0]["content"])}}]})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        cluster = build_cluster(SHELLFISH, builders=("openai",), http_client=client)
    assert [str(r.url) for r in requests] == ["http://llm.test/v1/chat/completions"] * 3
    assert requests[0].headers["authorization"] == "Bearer sk-test"
    assert json.loads(requests[0].content)["model"] == "tiny"
    assert "What can't I eat?" in cluster.questions


def test_openai_builder_without_endpoint_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFEDIT_LLM_BASE_URL", raising=False)
    monkeypatch.setenv("PREFEDIT_LLM_MODEL", "tiny")
    with pytest.raises(ConfigError, match="PREFEDIT_LLM_BASE_URL not set"):
        build_cluster(SHELLFISH, builders=("openai",))


def test_openai_builder_reports_server_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFEDIT_LLM_BASE_URL", "http://llm.test/v1")
    monkeypatch.setenv("PREFEDIT_LLM_MODEL", "tiny")
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        with pytest.raises(LLMEndpointError, match="chat/completions failed"):
            build_cluster(SHELLFISH, builders=("openai",), http_client=client)


def test_agglomerate_merges_by_average_similarity() -> None:
    sim = np.array([[1.0, 0.9, 0.1, 0.2], [0.9, 1.0, 0.2, 0.1], [0.1, 0.2, 1.0, 0.3], [0.2, 0.1, 0.3, 1.0]])
    assert agglomerate(sim, 0.5) == [[0, 1], [2], [3]]
    assert agglomerate(sim, 0.25) == [[0, 1], [2, 3]]
    assert agglomerate(sim, -1.0) == [[0, 1, 2, 3]]
