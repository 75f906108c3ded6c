"""Template families: coverage, shape of each family, subject -> family mapping, file validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prefedit.errors import DataError, UnknownNameError
from prefedit.preferences.templates import GENERIC, TemplateBank, family_for, is_core_subject, load_template_bank, normalize_subject

UPQA_DIR = Path(__file__).parents[2].parent / "shared" / "data" / "upqa"
REQUIRED = [
    "food", "diet", "allergy", "hobby", "sport", "music", "film", "books", "pet", "family", "location", "home",
    "job", "profession", "career goal", "education", "language", "travel", "vehicle", "health", "fitness", "sleep",
    "budget", "shopping", "technology", "programming", "schedule", "accessibility", "climate", "drink", "color",
    "fashion", "game",
]


@pytest.fixture(scope="module")
def bank() -> TemplateBank:
    return load_template_bank()


def test_bank_has_at_least_thirty_families_including_the_required_ones(bank: TemplateBank) -> None:
    assert len(bank.families) >= 30
    assert set(REQUIRED) <= set(bank.names())
    assert GENERIC in bank.names()


def test_every_family_has_enough_templates_of_each_kind(bank: TemplateBank) -> None:
    for name in bank.names():
        fam = bank.family(name)
        assert len(fam.explicit) >= 6, name
        assert any("{subject}" in q for q in fam.explicit), name
        assert len(fam.paraphrased) >= 4, name
        assert len(fam.implicit) >= 6, name
        assert len(fam.recommendation) >= 3, name
        assert len(fam.answers) >= 6, name
        assert all("{target}" in a for a in fam.answers), name


def test_implicit_questions_never_name_the_subject(bank: TemplateBank) -> None:
    for name in bank.names():
        fam = bank.family(name)
        for question in fam.implicit:
            assert "{subject}" not in question and "{target}" not in question
            for word in (name, *fam.subjects):
                assert not re.search(rf"\b{re.escape(word)}s?\b", question, re.I), (name, word, question)


def test_no_keyword_belongs_to_two_families(bank: TemplateBank) -> None:
    owner: dict[str, str] = {}
    for fam in bank.families:
        for kw in fam.keywords:
            assert owner.setdefault(kw, fam.name) == fam.name, kw


@pytest.mark.parametrize(
    ("subject", "family"),
    [
        ("food allergy", "allergy"), ("favorite cuisine", "food"), ("food preference", "food"), ("hobby", "hobby"),
        ("music preference", "music"), ("entertainment preference", "film"), ("career goal", "career goal"),
        ("programming language", "programming"), ("language", "language"), ("health history", "health"),
        ("beauty routine", "fashion"), ("daily routine", "schedule"), ("relationship status", "relationship"),
        ("favourite colour", "color"), ("father's job", "job"), ("dog's name", "pet"), ("wake-up time", "sleep"),
        ("zxqv", GENERIC),
    ],
)
def test_family_for_maps_subjects(bank: TemplateBank, subject: str, family: str) -> None:
    assert family_for(subject, bank) == family


@pytest.fixture(scope="module")
def upqa_rows() -> list[tuple[str, int, dict]]:
    """(file name, row index, row) of every shared UPQA file; skips when the data is absent."""
    rows = [(path.name, i, row) for path in sorted(UPQA_DIR.glob("*.json")) for i, row in enumerate(json.loads(path.read_text()))]
    if not rows:
        pytest.skip(f"shared UPQA data not found at {UPQA_DIR}")
    return rows


def _asked(row: dict, field: str) -> list[str]:
    """A UPQA row's question(s) in ``field`` (a string or a list of them; none when absent)."""
    value = row.get(field)
    return [q for q in (value if isinstance(value, list) else [value]) if q]


def test_family_for_covers_every_upqa_attribute_type(bank: TemplateBank, upqa_rows: list[tuple[str, int, dict]]) -> None:
    types = [row["attribute_type"][-1] if isinstance(row["attribute_type"], list) else row["attribute_type"] for _, _, row in upqa_rows]
    mapped = sum(family_for(t, bank) != GENERIC for t in types) / len(types)
    assert mapped >= 0.99  # measured 0.999 (1 of 1000 rows, "project" before it was added) when written


def test_no_template_question_repeats_an_upqa_evaluation_question(bank: TemplateBank, upqa_rows: list[tuple[str, int, dict]]) -> None:
    """The benchmark scores paraphrased, implicit and recommendation questions that a method never
    sees; a template with the same words would key an edit on the test question itself. (The
    explicit question is given to every method, so a template may repeat it.)"""
    held_out: dict[str, str] = {}  # question, case and punctuation aside -> where it is asked
    for name, i, row in upqa_rows:
        for field in ("question_paraphrased", "implicit_question", "product_recommendation_question"):
            for q in _asked(row, field):
                held_out.setdefault(normalize_subject(q), f"{name}[{i}].{field}")
    repeats = [(name, kind, q, held_out[normalize_subject(q)]) for name in bank.names() for kind in ("explicit", "paraphrased", "implicit", "recommendation")
               for q in getattr(bank.family(name), kind) if "{" not in q and normalize_subject(q) in held_out]
    assert not repeats


def test_core_subject_separates_the_concept_from_things_that_mention_it(bank: TemplateBank) -> None:
    assert is_core_subject("favorite music genre", bank.family("music"))
    assert is_core_subject("food allergy", bank.family("allergy"))
    assert not is_core_subject("father's job", bank.family("job"))


def test_unknown_family_name_lists_valid_ones(bank: TemplateBank) -> None:
    with pytest.raises(UnknownNameError, match="valid families: .*allergy"):
        bank.family("allergies-and-more")


@pytest.mark.parametrize(
    ("family", "pattern"),
    [
        ({"name": "x", "answers": ["no target here"]}, r"families\[0\] \(x\)\.answers: .* does not contain \{target\}"),
        ({"name": "x", "implicit": ["What is my {subject}?"]}, r"families\[0\] \(x\): implicit question"),
        ({"name": "x", "explicit": ["What is my {thing}?"]}, r"families\[0\] \(x\)\.explicit: unknown placeholder"),
        ({"name": "x", "keywords": "food"}, r"families\[0\] \(x\): field 'keywords' must be a list"),
    ],
)
def test_bad_template_file_names_file_family_and_field(tmp_path: Path, family: dict, pattern: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"families": [family]}))
    with pytest.raises(DataError, match=r"t\.json: " + pattern):
        load_template_bank(path)


def test_guard_requests_repeat_no_question_a_preference_is_asked_or_keyed_with(bank: TemplateBank, upqa_rows: list[tuple[str, int, dict]]) -> None:
    """A guard request cuts the reach of every entry near it, so none may be a question the
    templates key or that the benchmark asks about a preference (or one of its unrelated probes,
    which must stay a test of locality, not of the guards)."""
    from prefedit.bench.probes import unrelated_prompts
    from prefedit.editing.anchors import guard_requests

    requests = guard_requests(10_000)
    assert len(requests) == 256 and len(set(requests)) == 256 and all(r == r.strip() and r for r in requests)
    asked = {normalize_subject(q) for _, _, row in upqa_rows for field in ("question", "question_paraphrased", "implicit_question", "product_recommendation_question")
             for q in _asked(row, field)}
    keyed = {normalize_subject(q) for name in bank.names() for kind in ("explicit", "paraphrased", "implicit", "recommendation")
             for q in getattr(bank.family(name), kind) if "{" not in q}
    probes = {normalize_subject(q) for q in unrelated_prompts()}
    assert not [r for r in requests if normalize_subject(r) in asked | keyed | probes]
