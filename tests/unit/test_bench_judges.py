"""Judges: match, embed (threshold calibration) and llm (mock endpoint)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from prefedit.bench.judges import JudgeInput, get_judge
from prefedit.bench.judges.embed import EmbedJudge, best_threshold, load_calibration
from prefedit.bench.judges.llm import LlmJudge
from prefedit.bench.judges.match import contains_target
from prefedit.errors import ConfigError


def test_match_is_case_insensitive_containment_of_target_or_given_aliases() -> None:
    assert contains_target("I think you enjoy ROCK  climbing!", ("rock climbing",))
    assert contains_target("You like bouldering.", ("rock climbing", "bouldering"))
    assert not contains_target("You like hiking.", ("rock climbing",))
    verdicts = get_judge("match").judge([JudgeInput("Lisbon it is", ("lisbon",)), JudgeInput("Paris", ("lisbon",))])
    assert verdicts == [True, False]


def test_best_threshold_separates_labelled_scores() -> None:
    threshold, acc = best_threshold([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1])
    assert 0.2 < threshold < 0.7 and acc == 1.0


class WordEmbedder:
    """Bag-of-words unit vectors: deterministic and offline."""

    def encode(self, texts):
        vocab = sorted({w for t in texts for w in t.lower().split()}) or ["x"]
        m = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=float) + 1e-6
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_embed_judge_calibrates_on_labelled_pairs_and_judges() -> None:
    pairs = [{"target": "red car", "answer": "a red car", "label": 1}, {"target": "red car", "answer": "blue sky today", "label": 0}]
    judge = EmbedJudge(embedder=WordEmbedder(), calibration=pairs)
    assert judge.judge([JudgeInput("my red car. other things", ("red car",)), JudgeInput("sunny blue sky", ("red car",))]) == [True, False]
    assert judge.info()["calibration_accuracy"] == 1.0


def test_calibration_file_is_balanced_and_written_for_prefedit() -> None:
    pairs = load_calibration()
    labels = [p["label"] for p in pairs]
    assert len(pairs) >= 40 and sum(labels) == len(labels) // 2


def test_llm_judge_needs_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFEDIT_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("PREFEDIT_LLM_MODEL", raising=False)
    with pytest.raises(ConfigError) as exc:
        LlmJudge()
    assert "PREFEDIT_LLM_BASE_URL" in (exc.value.hint or "")


def test_llm_judge_parses_verdicts_from_an_openai_compatible_endpoint() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(request.url.path)
        verdict = "1" if "climb" in body["messages"][1]["content"].split("Response:")[1] else "0"
        return httpx.Response(200, json={"choices": [{"message": {"content": verdict}}]})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    judge = LlmJudge(base_url="http://judge/v1", model="m", client=client)
    assert judge.judge([JudgeInput("go climb", ("rock climbing",)), JudgeInput("stay home", ("rock climbing",))]) == [True, False]
    assert seen == ["/v1/chat/completions"] * 2


def test_llm_judge_failure_gives_no_verdict() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert LlmJudge(base_url="http://judge/v1", model="m", client=client).judge([JudgeInput("a", ("b",))]) == [None]
