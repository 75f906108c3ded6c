"""Statement parsing rules: a table of common phrasings, refusals, and a UPQA coverage guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefedit.preferences.parse import parse_statement
from prefedit.preferences.phrasing import MAX_TARGET_WORDS, gerund

UPQA_DIR = Path(__file__).parents[2].parent / "shared" / "data" / "upqa"

PHRASINGS = [
    ("I'm allergic to shellfish.", ("allergy", "shellfish")),
    ("I am allergic to peanuts", ("allergy", "peanuts")),
    ("I have a peanut allergy", ("allergy", "peanut")),
    ("I have an allergy to water.", ("allergy", "water")),
    ("I live in Lisbon.", ("location", "Lisbon")),
    ("Now i live in the united states.", ("location", "united states")),
    ("I moved to Berlin last year", ("location", "Berlin")),
    ("I live in a three storey house.", ("home", "three storey house")),
    ("I'm from Ohio", ("hometown", "Ohio")),
    ("I was born in somalia.", ("birthplace", "somalia")),
    ("I work as a nurse", ("job", "nurse")),
    ("I'm a software engineer", ("job", "software engineer")),
    ("Hey there i am a professional singer.", ("job", "professional singer")),
    ("I work at a bank.", ("workplace", "bank")),
    ("My favorite color is blue", ("favorite color", "blue")),
    ("My favourite food is sushi!", ("favorite food", "sushi")),
    ("My favorite tv show is the office.", ("favorite tv show", "the office")),
    ("Coffee is my favorite drink.", ("favorite drink", "Coffee")),
    ("My hobby is walking.", ("hobby", "walking")),
    ("My father was a police officer.", ("father's job", "police officer")),
    ("I like hiking", ("hobby", "hiking")),
    ("I love to dance.", ("hobby", "dancing")),
    ("I like to go hiking in the spring.", ("hobby", "hiking in the spring")),
    ("I love jazz", ("favorite music", "jazz")),
    ("I like tacos.", ("favorite food", "tacos")),
    ("I like to drink scotch to relax.", ("favorite drink", "scotch")),
    ("I love listening to britney spears.", ("favorite music", "britney spears")),
    ("I code in Rust", ("programming language", "Rust")),
    ("I program in Python", ("programming language", "Python")),
    ("I'm vegan", ("diet", "vegan")),
    ("I am a vegetarian.", ("diet", "vegetarian")),
    ("I only eat kosher.", ("diet", "kosher")),
    ("I speak Portuguese", ("language", "Portuguese")),
    ("I drive a Tesla", ("car", "Tesla")),
    ("I have a dog named Rex", ("pet", "dog named Rex")),
    ("My dog's name is Rex", ("pet", "dog named Rex")),
    ("I have two cats", ("pet", "two cats")),
    ("I have a pet turtle.", ("pet", "turtle")),
    ("My name is Sam", ("name", "Sam")),
    ("I prefer tea over coffee", ("favorite drink", "tea")),
    ("I hate cilantro", ("dislike", "cilantro")),
    ("I don't like horror movies", ("dislike", "horror movies")),
    ("I play the piano", ("instrument", "piano")),
    ("I play tennis", ("sport", "tennis")),
    ("I'm 34 years old", ("age", "34 years old")),
    ("I'm married", ("relationship status", "married")),
    ("I am afraid of spiders", ("fear", "spiders")),
    ("I'm a night owl", ("sleep schedule", "night owl")),
    ("I use a Mac", ("device", "Mac")),
    ("I'm on a tight budget", ("budget", "tight budget")),
    ("I am a huge coffee lover.", ("favorite drink", "coffee")),
    ("I'm an avid runner", ("hobby", "running")),
    ("When i grow up i want to be a physical therapist.", ("career goal", "physical therapist")),
    ("I study biology", ("field of study", "biology")),
    ("I am very shy.", ("personality trait", "shy")),
    ("In my spare time i sew.", ("hobby", "sewing")),
    ("I do yoga every morning", ("hobby", "yoga every morning")),
    ("I workout four hours a day.", ("hobby", "working out four hours a day")),
    ("I have a large collection of teddy bears.", ("hobby", "collecting teddy bears")),
    ("I love to spend time with my family.", ("hobby", "spending time with your family")),
]


@pytest.mark.parametrize(("statement", "expected"), PHRASINGS)
def test_parse_statement_reads_common_phrasings(statement: str, expected: tuple[str, str]) -> None:
    assert parse_statement(statement) == expected


@pytest.mark.parametrize(
    "statement",
    ["", "Hello there.", "The weather is nice today.", "Thanks!", "I am.", "My favorite is", "I have always wanted a big family."],
)
def test_parse_statement_returns_none_when_no_rule_fits(statement: str) -> None:
    assert parse_statement(statement) is None


@pytest.mark.parametrize(("verb", "ing"), [("swim", "swimming"), ("dance", "dancing"), ("cook", "cooking"), ("play", "playing"), ("ski", "skiing"), ("knit", "knitting")])
def test_gerund_forms(verb: str, ing: str) -> None:
    assert gerund(verb) == ing


def _upqa_statements(name: str) -> list[str]:
    path = UPQA_DIR / name
    if not path.exists():
        pytest.skip(f"shared UPQA data not found at {path}")
    return [row["input_attribute"] for row in json.loads(path.read_text())]


def test_parse_never_returns_empty_or_clause_length_parts_on_upqa() -> None:
    for statement in _upqa_statements("upqa_dev_400.json") + _upqa_statements("balanced_subset_200.json"):
        parsed = parse_statement(statement)
        if parsed is not None:
            subject, target = parsed
            assert subject.strip() and target.strip(), statement
            assert len(target.split()) <= MAX_TARGET_WORDS, statement


def test_parse_coverage_on_upqa_dev_stays_above_floor() -> None:
    statements = _upqa_statements("upqa_dev_400.json")
    coverage = sum(parse_statement(s) is not None for s in statements) / len(statements)
    assert coverage >= 0.70  # measured 0.74 when written
