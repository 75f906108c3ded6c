"""Small text helpers shared by the statement parser: normalising, gerunds, target clean-up."""

from __future__ import annotations

import re

from prefedit.preferences.lexicon import CLAUSE_BREAKS, HOBBY_VERBS

_CONTRACTIONS = (
    (r"\bi\s?['’]\s?m\b", "i am"),
    (r"^im\b", "i am"),
    (r"\bi\s?['’]\s?ve\b", "i have"),
    (r"\bi\s?['’]\s?d\b", "i would"),
    (r"\bi\s?['’]\s?ll\b", "i will"),
    (r"\b(do|does|did|is|are|was|were|have|has|would|could|should)n\s?['’ ]?\s?t\b", r"\1 not"),
    (r"\bcan\s?['’ ]\s?t\b|\bcant\b", "cannot"),
    (r"\bwon\s?['’]\s?t\b", "will not"),
    (r"\bfavou?rite\b|\bfave\b", "favorite"),
)
_FILLERS = re.compile(
    r"^(?:(?:hey there|hi there|hey|hi|hello|well|so|also|and|but|now|oh|yes|yeah|ok|okay|"
    r"honestly|actually|btw|by the way|fun fact|as you know)\b[,!.:]?\s+)+",
    re.I,
)
_AFTER_I = re.compile(
    r"^i (?:(?:really|also|just|still|absolutely|truly|totally|definitely|actually|currently|now|"
    r"sometimes|always|usually|often|mostly|generally|simply|genuinely|seriously|literally|"
    r"honestly|kind of|sort of|very much|only|mainly|primarily|even|already|recently|"
    r"do(?= (?:like|love|enjoy|hate|prefer|want|have|eat|drink|play|speak|live|work)\b))\s+)+",
    re.I,
)
_AFTER_I_AM = re.compile(
    r"^i am (?:(?:also|currently|now|still|actually|really|just|definitely|totally|literally|"
    r"basically|already|officially|finally|proudly)\s+)+",
    re.I,
)
_PRONOUNS = {"my": "your", "me": "you", "i": "you", "mine": "yours", "myself": "yourself", "i am": "you are"}
_PRONOUN_RE = re.compile(r"\b(i am|my|me|i|mine|myself)\b", re.I)
_LEADING = re.compile(r"^(?:(?:a lot of|lots of|a few|plenty of|tons of|some|many|both|all|an|a)\s+)+", re.I)
_THE = re.compile(r"^the\s+", re.I)
_AGO = re.compile(r" (?:a|one|two|three|four|five|six|\d+|a few|several|many) (?:years?|months?|weeks?|days?) ago\b.*$", re.I)
_IRREGULAR = {
    "be": "being", "see": "seeing", "ski": "skiing", "die": "dying", "lie": "lying",
    "tie": "tying", "canoe": "canoeing", "workout": "working out", "visit": "visiting",
}
MAX_TARGET_WORDS = 12


def normalize_statement(text: str) -> str:
    """Expand contractions, drop greetings and filler adverbs, strip end punctuation."""
    t = " ".join(text.replace("’", "'").split())
    t = t.strip(" \t\"'“”")
    for pattern, repl in _CONTRACTIONS:
        t = re.sub(pattern, repl, t, flags=re.I)
    t = _FILLERS.sub("", t)
    t = re.sub(r"^both my\b", "my", t, flags=re.I)
    t = re.sub(r"^l (?=also |love |like |am |have )", "i ", t, flags=re.I)  # a common OCR/typo form of "I"
    t = _AFTER_I.sub("i ", t)
    t = _AFTER_I_AM.sub("i am ", t)
    return t.rstrip(" .!?;:,\"'”)")


def gerund(verb: str) -> str:
    """The -ing form of a base verb: ``swim -> swimming``, ``dance -> dancing``."""
    v = verb.lower()
    if v in _IRREGULAR:
        return _IRREGULAR[v]
    if v.endswith("ing") and len(v) > 4:
        return verb
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith(("ee", "oe", "ye")):
        return v + "ing"
    if v.endswith("e") and len(v) > 2:
        return v[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", v):
        return v + v[-1] + "ing"
    return v + "ing"


def activity(text: str) -> str:
    """Turn an infinitive phrase into an activity: ``to go hiking`` -> ``hiking``."""
    words = text.split()
    if len(words) > 1 and words[0].lower() == "to":
        words = [gerund(words[1]), *words[2:]]
    if len(words) > 1 and words[0].lower() == "going" and words[1].lower().endswith("ing"):
        words = words[1:]
    for i in range(1, len(words) - 1):
        if words[i].lower() == "and" and words[i + 1].lower() in HOBBY_VERBS | {"drink", "eat", "go", "listen", "relax"}:
            words[i + 1] = gerund(words[i + 1])
    return " ".join(words)


def swap_pronouns(text: str) -> str:
    """Speak to the user: ``my`` -> ``your``, ``I`` -> ``you``."""
    return _PRONOUN_RE.sub(lambda m: _PRONOUNS[m.group(1).lower()], text)


def clean_target(text: str | None, *, strip_the: bool = True) -> str | None:
    """Cut a target at the first new clause, drop leading articles and swap pronouns.

    ``strip_the=False`` keeps a leading "the", which belongs to titles ("The Office").
    Returns None when nothing useful is left or the target is too long to be a short answer.
    """
    if not text:
        return None
    padded = " " + text.strip() + " "
    lower = padded.lower()
    cuts = [lower.find(b) for b in CLAUSE_BREAKS if lower.find(b) > 0]
    t = padded[: min(cuts)] if cuts else padded
    t = _AGO.sub("", t)
    t = _LEADING.sub("", t.strip())
    t = _THE.sub("", t) if strip_the else t
    t = swap_pronouns(t).strip(" \t.,;:!?\"'")
    if not t or len(t.split()) > MAX_TARGET_WORDS or not re.search(r"\w", t):
        return None
    return t


def clean_subject(text: str) -> str | None:
    """A short lower-case noun phrase, or None."""
    t = re.sub(r"\b(?:type|kind|sort|genre) of\s+", "", text.strip().lower())
    t = swap_pronouns(t).strip(" .,;:!?\"'")
    if not t or len(t.split()) > 5:
        return None
    return t
