"""Question and answer templates per attribute family ("allergy", "location", "music", ...).

The templates are data, written for prefedit, in ``prefedit/data/preference_templates.json``:
each family has keywords that map a subject to it, subject synonyms, paraphrased questions,
implicit questions (that need the preference without naming it), recommendation questions and
answers that contain ``{target}``. The ``generic`` family's explicit questions and answers apply
to every family. ``family_for("food allergy") == "allergy"``.
"""

from __future__ import annotations

import functools
import json
import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from prefedit.errors import DataError, UnknownNameError

GENERIC = "generic"
TEMPLATE_FIELDS = ("explicit", "paraphrased", "implicit", "recommendation", "answers")
_PLACEHOLDERS = frozenset({"subject", "target"})
# Words that qualify a subject without changing what it is about ("favorite music" is music).
_MODIFIERS = frozenset(
    "favorite preferred preference preferences current main primary usual type choice status my genre kind go-to top personal".split()
)


@dataclass(frozen=True, kw_only=True)
class FamilyTemplates:
    """Templates of one attribute family; placeholders are ``{subject}`` and ``{target}``."""

    name: str
    keywords: tuple[str, ...] = ()
    weak_keywords: tuple[str, ...] = ()  # match only when no other family's keyword does
    subjects: tuple[str, ...] = ()  # synonyms of the family's core subject
    explicit: tuple[str, ...] = ()
    paraphrased: tuple[str, ...] = ()
    implicit: tuple[str, ...] = ()
    recommendation: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeywordMatcher:
    """One compiled keyword: which family it points to and how strongly."""

    pattern: re.Pattern[str]
    family: str
    strong: int  # 1 for a keyword, 0 for a weak keyword
    words: int


@dataclass(frozen=True)
class TemplateBank:
    """All families plus the generic one; look families up by name or by subject."""

    families: tuple[FamilyTemplates, ...]
    generic: FamilyTemplates
    matchers: tuple[KeywordMatcher, ...] = ()

    def names(self) -> list[str]:
        return [f.name for f in self.families] + [GENERIC]

    def family(self, name: str) -> FamilyTemplates:
        """The family called ``name`` with the generic explicit questions and answers merged in."""
        if name == GENERIC:
            return self.generic
        for fam in self.families:
            if fam.name == name:
                return _merge(fam, self.generic)
        raise UnknownNameError(f"unknown template family {name!r}; valid families: {', '.join(self.names())}")

    def family_for(self, subject: str) -> FamilyTemplates:
        return self.family(family_for(subject, self))


def _merge(fam: FamilyTemplates, generic: FamilyTemplates) -> FamilyTemplates:
    return FamilyTemplates(
        name=fam.name,
        keywords=fam.keywords,
        weak_keywords=fam.weak_keywords,
        subjects=fam.subjects,
        explicit=fam.explicit + generic.explicit,
        paraphrased=fam.paraphrased + generic.paraphrased,
        implicit=fam.implicit,
        recommendation=fam.recommendation,
        answers=fam.answers + generic.answers,
    )


def normalize_subject(subject: str) -> str:
    """Lower case, "favourite" spelled "favorite", punctuation other than ' and - removed."""
    s = subject.lower().replace("favourite", "favorite").replace("’", "'")
    return " ".join(re.sub(r"[^\w'\- ]+", " ", s).split())


def _check_template(text: Any, where: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: expected a non-empty string, got {text!r}")
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    if names - _PLACEHOLDERS:
        raise DataError(f"{where}: unknown placeholder(s) {sorted(names - _PLACEHOLDERS)} in {text!r}; allowed: {{subject}}, {{target}}")
    return text


def _family_from_dict(raw: dict[str, Any], where: str) -> FamilyTemplates:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}: field 'name' is missing or not a string")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("keywords", "weak_keywords", "subjects", *TEMPLATE_FIELDS):
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise DataError(f"{where} ({name}): field {key!r} must be a list, got {type(value).__name__}")
        lists[key] = tuple(_check_template(v, f"{where} ({name}).{key}") for v in value)
    for answer in lists["answers"]:
        if "{target}" not in answer:
            raise DataError(f"{where} ({name}).answers: {answer!r} does not contain {{target}}")
    for question in lists["implicit"] + lists["recommendation"]:
        if "{subject}" in question or "{target}" in question:
            raise DataError(f"{where} ({name}): implicit question {question!r} must not name the subject or target")
    return FamilyTemplates(name=name, **lists)


def load_template_bank(path: str | Path | None = None) -> TemplateBank:
    """Read and validate a template file (default: the one shipped with prefedit).

    Raises:
        DataError: naming the file, family and field of a malformed entry.
    """
    if path is None:
        return _packaged_bank()  # read once per process: every edit's cluster uses it
    return _read_bank(Path(path), str(path))


@functools.cache
def _packaged_bank() -> TemplateBank:
    return _read_bank(resources.files("prefedit.data").joinpath("preference_templates.json"), "preference_templates.json")


def _read_bank(source: Any, label: str) -> TemplateBank:
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{label}: cannot read template file: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("families"), list):
        raise DataError(f"{label}: expected an object with a 'families' list")
    families = tuple(_family_from_dict(f, f"{label}: families[{i}]") for i, f in enumerate(raw["families"]))
    generic = _family_from_dict({"name": GENERIC, **raw.get("generic", {})}, f"{label}: generic")
    return TemplateBank(families=families, generic=generic, matchers=_matchers(families))


def _matchers(families: tuple[FamilyTemplates, ...]) -> tuple[KeywordMatcher, ...]:
    out = []
    for fam in families:
        for kw in fam.keywords:
            norm = normalize_subject(kw)
            # whole words only, plural allowed; hyphens count as part of a word ("wake-up")
            pattern = re.compile(rf"(?<![\w-]){re.escape(norm)}s?(?![\w-])")
            out.append(KeywordMatcher(pattern, fam.name, 0 if kw in fam.weak_keywords else 1, len(norm.split())))
    return tuple(out)


def family_for(subject: str, bank: TemplateBank | None = None) -> str:
    """The family whose keywords best match ``subject``, else ``"generic"``.

    A strong keyword beats a weak one, a longer phrase beats a shorter one, and a keyword
    further right wins ties, because English compounds put the head last ("food allergy").

    Args:
        subject: e.g. "food allergy", "favorite cuisine", "father's job".
        bank: templates to match against; the packaged bank is read when None (pass one
            when mapping many subjects).

    Returns:
        A family name from ``bank.names()``, e.g. ``"allergy"``.
    """
    bank = bank or load_template_bank()
    s = normalize_subject(subject)
    best: tuple[tuple[int, int, int], str] | None = None
    for m in bank.matchers:
        hits = list(m.pattern.finditer(s))
        if hits:
            score = (m.strong, m.words, hits[-1].end())
            if best is None or score > best[0]:
                best = (score, m.family)
    return best[1] if best else GENERIC


def is_core_subject(subject: str, family: FamilyTemplates) -> bool:
    """Whether ``subject`` is the family's own concept ("favorite music") rather than something
    that merely mentions it ("father's job"): only then do the family's subject-free templates fit.
    """
    s = normalize_subject(subject)
    rest = " ".join(w for w in s.split() if w not in _MODIFIERS)
    known = {normalize_subject(k) for k in family.keywords + family.subjects}
    return s in known or (bool(rest) and rest in known)
