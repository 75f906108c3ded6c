"""Bench tasks: loading, default ids, --limit interleaving, query types, distractors, bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefedit.bench.tasks import interleave, load_distractor_pairs, load_items, load_tasks, select_items
from prefedit.errors import DataError


def upqa_row(i: int, kind: str, **extra: object) -> dict:
    return {
        "input_attribute": f"My {kind} is thing{i}.", "attribute_type": kind, "question": f"What is my {kind}?",
        "question_paraphrased": f"Tell me my {kind}.", "implicit_question": f"Plan my day {i}.",
        "product_recommendation_question": f"What should I buy for my {kind}?", "target": f"thing{i}", **extra,
    }


def write(tmp: Path, name: str, rows: list) -> Path:
    path = tmp / name
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_items_without_id_get_file_stem_and_index(tmp_path: Path) -> None:
    path = write(tmp_path, "prefs.json", [upqa_row(0, "hobby"), upqa_row(1, "pet", id="mine")])
    items = load_items([path])
    assert [it.id for it in items] == ["prefs-0", "mine"]
    assert set(items[0].questions) == {"explicit", "paraphrased", "implicit", "recommendation"}


def test_limit_interleaves_round_robin_by_attribute_type(tmp_path: Path) -> None:
    rows = [upqa_row(i, kind) for i, kind in enumerate(["hobby", "hobby", "hobby", "pet", "pet", "job"])]
    items = load_items([write(tmp_path, "d.json", rows)])
    assert [it.id for it in interleave(items)] == ["d-0", "d-3", "d-5", "d-1", "d-4", "d-2"]
    assert [it.preference.subject for it in select_items(items, 3)] == ["hobby", "pet", "job"]


def test_clustered_type_is_the_last_element(tmp_path: Path) -> None:
    row = upqa_row(0, "hobby")
    row.update(attribute_type=["pastime", "hobby"], question=["What's your pastime?", "What's my hobby?"], target=["t-a", "thing0"])
    item = load_items([write(tmp_path, "c.json", [row])])[0]
    assert item.type_key == "hobby" and item.clustered
    assert item.questions["explicit"] == "What's my hobby?"
    assert set(item.accepted) == {"thing0", "t-a"}


def test_multiturn_items_keep_file_order_and_query_type(tmp_path: Path) -> None:
    rows = [{"preference": f"I love tea {i}.", "question": "What should I drink?", "subject": "drink", "target": "tea"} for i in range(3)]
    tasks = load_tasks([write(tmp_path, "mt.json", rows)], limit=2, per_user=False)
    assert [it.id for it in tasks.items] == ["mt-0", "mt-1"]
    assert tasks.query_types == ("multiturn",)


def test_per_user_limit_counts_users(tmp_path: Path) -> None:
    rows = [upqa_row(0, "hobby", user_id="a"), upqa_row(1, "pet", user_id="a"), upqa_row(2, "job", user_id="b"), upqa_row(3, "hobby", user_id="c")]
    items = load_items([write(tmp_path, "u.json", rows)])
    chosen = select_items(items, 2, per_user=True)
    assert {it.user for it in chosen} == {"a", "b"} and len(chosen) == 3


def test_malformed_row_names_file_row_and_field(tmp_path: Path) -> None:
    bad = upqa_row(1, "pet")
    del bad["target"]
    path = write(tmp_path, "bad.json", [upqa_row(0, "hobby"), bad])
    with pytest.raises(DataError) as exc:
        load_items([path])
    assert "bad.json" in str(exc.value) and "row 1" in str(exc.value) and "'target'" in str(exc.value)


def test_unknown_or_absent_query_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", [upqa_row(0, "hobby")])
    with pytest.raises(DataError, match="unknown query type"):
        load_tasks([path], limit=None, per_user=False, query_types=("explcit",))
    with pytest.raises(DataError, match="do not occur"):
        load_tasks([path], limit=None, per_user=False, query_types=("multiturn",))


def test_supersedes_must_name_an_item_of_the_same_user(tmp_path: Path) -> None:
    rows = [upqa_row(0, "hobby", id="x", user_id="a"), upqa_row(1, "hobby", id="y", user_id="b", supersedes="x")]
    with pytest.raises(DataError, match="supersedes"):
        load_items([write(tmp_path, "s.json", rows)])


def test_distractor_pairs_in_file_order(tmp_path: Path) -> None:
    conv = lambda n: {"conversation": [m for i in range(n) for m in ({"role": "user", "content": f"u{i}"}, {"role": "assistant", "content": f"a{i}"})]}  # noqa: E731
    path = write(tmp_path, "inter_turns.json", [conv(2), conv(1)])
    assert load_distractor_pairs(path) == [("u0", "a0"), ("u1", "a1"), ("u0", "a0")]
    (tmp_path / "broken.json").write_text(json.dumps([{"conversation": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}]))
    with pytest.raises(DataError, match="conversation 0: message 0"):
        load_distractor_pairs(tmp_path / "broken.json")
