"""Loaders: every shipped UPQA file, JSONL, plain text, multi-turn, and errors naming file/row/field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefedit.errors import DataError, PrefeditWarning, StatementParseError
from prefedit.preferences import QUERY_TYPES, load_multiturn, load_preferences

UPQA_DIR = Path(__file__).parents[2].parent / "shared" / "data" / "upqa"
UPQA_FILES = [
    "balanced_subset.json",
    "balanced_subset_200.json",
    "balanced_subset_cluster9.json",
    "balanced_subset_200_cluster9.json",
    "upqa_dev_400.json",
]


def _upqa(name: str) -> Path:
    path = UPQA_DIR / name
    if not path.exists():
        pytest.skip(f"shared UPQA data not found at {path}")
    return path


def _last(value: str | list[str]) -> str:
    return value[-1] if isinstance(value, list) else value


@pytest.mark.parametrize("name", UPQA_FILES)
def test_load_upqa_file_keeps_every_row_and_field(name: str) -> None:
    path = _upqa(name)
    rows = json.loads(path.read_text())
    prefs = load_preferences(path)
    assert len(prefs) == len(rows)
    assert [p.id for p in prefs] == [f"{path.stem}-{i}" for i in range(len(rows))]
    for pref, row in zip(prefs, rows, strict=True):
        assert pref.user_id == "default"
        assert pref.statement == row["input_attribute"].strip()
        assert pref.subject == _last(row["attribute_type"]).strip()
        assert pref.target == _last(row["target"]).strip()
        assert set(pref.questions) == set(QUERY_TYPES)
        assert pref.questions["explicit"] == _last(row["question"]).strip()
        assert pref.questions["implicit"] == row["implicit_question"].strip()
        assert pref.questions["recommendation"] == row["product_recommendation_question"].strip()
        clustered = isinstance(row["target"], list)
        assert len(pref.given_targets) == (9 if clustered else 0)
        if clustered:
            assert pref.given_subjects[-1] == pref.subject
            assert pref.given_questions[-1] == pref.explicit_question
            assert pref.given_targets[-1] == pref.target


def test_load_upqa_with_user_id_assigns_it() -> None:
    prefs = load_preferences(_upqa("balanced_subset.json"), user_id="alice")
    assert {p.user_id for p in prefs} == {"alice"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_jsonl_reads_given_fields_and_parses_missing_ones(tmp_path: Path) -> None:
    rows = [
        {"statement": "I'm allergic to shellfish", "subject": "food allergy", "target": "shellfish", "id": "a1",
         "aliases": ["crustaceans"], "questions": {"implicit": "What should I avoid at a seafood place?"}},
        {"statement": "I live in Lisbon.", "user_id": "bob", "supersedes": "a0"},
        {"statement": "I play tennis", "target": "tennis"},
    ]
    path = _write(tmp_path, "prefs.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    a, b, c = load_preferences(path, user_id="bob")
    assert (a.id, a.subject, a.target, a.aliases) == ("a1", "food allergy", "shellfish", ("crustaceans",))
    assert a.questions == {"implicit": "What should I avoid at a seafood place?"}
    assert a.explicit_question == "What is my food allergy?"
    assert (b.id, b.subject, b.target, b.user_id, b.supersedes) == ("prefs-1", "location", "Lisbon", "bob", "a0")
    assert (c.subject, c.target) == ("sport", "tennis")


def test_load_text_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "me.txt", "# my preferences\n\nI code in Rust\n  # indented comment\nMy favorite color is green.\n")
    prefs = load_preferences(path, user_id="carol")
    assert [(p.id, p.subject, p.target, p.user_id) for p in prefs] == [
        ("me-0", "programming language", "Rust", "carol"),
        ("me-1", "favorite color", "green", "carol"),
    ]


def test_load_text_unparseable_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "me.txt", "I code in Rust\n\nThe sky is wide today.\n")
    with pytest.raises(StatementParseError, match=r"me\.txt: line 3: .*The sky is wide today"):
        load_preferences(path)


def test_load_text_asks_model_for_what_rules_cannot_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "me.txt", "The sky is wide today.\nI code in Rust\n")
    asked: list[str] = []

    def ask(statement: str) -> tuple[str, str]:
        asked.append(statement)
        return ("mood", "wide sky")

    prefs = load_preferences(path, ask_model=ask)
    assert asked == ["The sky is wide today."]
    assert (prefs[0].subject, prefs[0].target) == ("mood", "wide sky")
    with pytest.raises(StatementParseError, match="line 1: ask_model returned"):
        load_preferences(path, ask_model=lambda s: ("", "x"))


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        ("bad.json", json.dumps([{"input_attribute": "I like x", "attribute_type": "hobby", "question": "q?", "target": "x"},
                                 {"input_attribute": "I like y", "attribute_type": "hobby", "question": "q?"}]),
         r"bad\.json: row 1: field 'target' is missing"),
        ("bad.json", json.dumps([{"input_attribute": "I like x", "attribute_type": [], "question": "q?", "target": "x"}]),
         r"bad\.json: row 0: field 'attribute_type' is an empty list"),
        ("bad.jsonl", '{"statement": "I code in Rust"}\n{"statement": "I play tennis", "aliases": 3}\n',
         r"bad\.jsonl: line 2: field 'aliases' must be a list of non-empty strings"),
        ("bad.jsonl", '{"statement": "I code in Rust"}\n{"statement": 5}\n', r"bad\.jsonl: line 2: field 'statement' must be a non-empty string"),
        ("bad.jsonl", '{"statement": "I code in Rust"}\n{oops\n', r"bad\.jsonl: line 2: invalid JSON"),
        ("bad.jsonl", '{"statement": "I code in Rust", "questions": {"weird": "q?"}}\n', r"line 1: field 'questions' has unknown query types \['weird'\]"),
        ("bad.jsonl", '{"statement": "I code in Rust", "id": "x"}\n{"statement": "I play tennis", "id": "x"}\n',
         r"bad\.jsonl: line 2: field 'id' 'x' repeats the id of line 1"),
        ("bad.jsonl", '{"statement": "I code in Rust", "user_id": "eve"}\n', r"line 1: field 'user_id' is 'eve' but the loader was asked for user 'bob'"),
    ],
)
def test_malformed_rows_raise_data_error_naming_file_row_and_field(tmp_path: Path, name: str, text: str, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        load_preferences(_write(tmp_path, name, text), user_id="bob")


@pytest.mark.parametrize(
    ("text", "subjects"),
    [
        ('[{"statement": "I code in Rust"}]', ["programming language"]),
        ('{"statement": "I code in Rust"}\n{"statement": "I speak Greek"}\n', ["programming language", "language"]),
        ("I code in Rust\nI speak Greek\n", ["programming language", "language"]),
    ],
)
def test_format_is_detected_from_content_without_a_known_suffix(tmp_path: Path, text: str, subjects: list[str]) -> None:
    assert [p.subject for p in load_preferences(_write(tmp_path, "prefs", text))] == subjects


def test_unknown_fields_warn_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.jsonl", '{"statement": "I code in Rust", "mood": "happy"}\n')
    with pytest.warns(PrefeditWarning, match=r"unknown fields \['mood'\]"):
        load_preferences(path)


def test_load_multiturn_reads_json_and_jsonl(tmp_path: Path) -> None:
    row = {"preference": "I'm allergic to shellfish.", "question": "What should I avoid ordering?", "subject": "allergy",
           "target": "shellfish", "aliases": ["crustaceans"]}
    for name, text in (("mt.json", json.dumps([row, {**row, "id": "x"}])), ("mt.jsonl", json.dumps(row) + "\n" + json.dumps({**row, "id": "x"}))):
        first, second = load_multiturn(_write(tmp_path, name, text))
        assert (first.id, first.question) == ("mt-0", "What should I avoid ordering?")
        assert (first.preference.statement, first.preference.target, first.preference.aliases) == (
            "I'm allergic to shellfish.", "shellfish", ("crustaceans",))
        assert second.id == second.preference.id == "x"


def test_load_multiturn_missing_question_names_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "mt.json", json.dumps([{"preference": "I code in Rust", "subject": "language", "target": "Rust"}]))
    with pytest.raises(DataError, match=r"mt\.json: row 0: field 'question' is missing"):
        load_multiturn(path)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_preferences(tmp_path / "nope.txt")
