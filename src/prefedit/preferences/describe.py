"""Subjects for things the parser cannot read from the verb alone.

``describe_self`` reads "I am a/an X" ("nurse" -> job, "vegan" -> diet, "12 year old girl" ->
age), ``describe_state`` reads "I am X" ("married", "shy"), ``guess_like`` names what a liked
thing is about ("tacos" -> favorite food).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from prefedit.preferences import lexicon as lx
from prefedit.preferences.phrasing import clean_target

_JOB_SUFFIX = re.compile(r"(?:er|or|ist|ian|ant|ent|eer|man|woman|ic|ess)$")
_JOB_WORDS = frozenset(
    """nurse doctor chef cook pilot surgeon vet model judge soldier marine guide nanny maid
    ceo cop clerk coach athlete intern architect entrepreneur barista tutor medic actor
    actress police officer""".split()
)
_FAN_WORDS = frozenset("lover fan enthusiast addict buff nut junkie aficionado connoisseur geek nerd freak".split())
_QUALIFIERS = frozenset("avid keen passionate enthusiastic devoted dedicated serious amateur casual huge big massive die-hard true real total".split())
_NOT_TRAITS = frozenset(
    """allergic afraid scared terrified from into in on at here there back about able not
    going trying planning working looking moving getting a an the also""".split()
)
_DISABILITY = re.compile(r"^(?:partly |partially |legally |completely )?(deaf|blind|disabled|paralyzed|paralysed|mute|hard of hearing|in a wheelchair)$")
_JOB_STATES = frozenset({"retired", "unemployed", "self-employed", "self employed", "ex military", "ex-military", "a veteran", "veteran"})


def words_in(text: str, lexicon: Collection[str]) -> bool:
    """Whether any word of ``text`` (or its singular) is in ``lexicon``."""
    for word in re.findall(r"[a-z0-9&+#'-]+", text.lower()):
        if word in lexicon or (word.endswith("s") and word[:-1] in lexicon):
            return True
    return False


def guess_like(thing: str, default: str = "hobby") -> str:
    """The subject for a liked ``thing``: an activity is a hobby, "tacos" a favorite food."""
    low = thing.lower().strip()
    first = low.split()[0] if low.split() else ""
    if first.endswith("ing") or low in {"music", "film", "films", "movies", "food", "sports", "games", "art", "books", "travel"}:
        return "hobby"
    for lexicon, subject in (
        (lx.DRINKS, "favorite drink"), (lx.FOODS, "favorite food"), (lx.MUSIC, "favorite music"),
        (lx.SPORTS, "favorite sport"), (lx.FILMS, "favorite movies"), (lx.BOOKS, "favorite books"),
        (lx.GAMES, "favorite games"),
    ):
        if words_in(low, lexicon):
            return subject
    head = low.split()[-1] if low.split() else ""
    for lexicon, subject in (
        (lx.ANIMALS, "favorite animal"), (lx.COLORS, "favorite color"),
        (lx.SEASONS, "favorite season"), (lx.VEHICLES, "favorite car"),
    ):
        if len(low.split()) <= 3 and words_in(head, lexicon):
            return subject
    return default


def _fan_of(words: list[str]) -> tuple[str, str] | None:
    """ "huge coffee lover" -> ("favorite drink", "coffee")."""
    if len(words) < 2 or words[-1] not in _FAN_WORDS:
        return None
    thing = " ".join(w for w in words[:-1] if w not in _QUALIFIERS)
    target = clean_target(thing)
    return (guess_like(thing, "interest"), target) if target else None


def _hobbyist(words: list[str]) -> tuple[str, str] | None:
    """ "avid runner" -> ("hobby", "running"); a bare "baker" stays a job."""
    last = words[-1]
    if last not in lx.HOBBYISTS:
        return None
    qualified = len(words) > 1 and words[0] in _QUALIFIERS
    if qualified or last in {"runner", "jogger", "gamer", "reader", "bookworm", "hiker", "kayaker", "surfer", "climber", "skier", "skater", "golfer", "knitter", "camper", "birdwatcher", "traveler", "traveller"}:
        return ("hobby", lx.HOBBYISTS[last])
    return None


def _looks_like_job(words: list[str]) -> bool:
    last = words[-1]
    if last in lx.NOT_JOBS:
        return False
    return last in _JOB_WORDS or words[0] == "professional" or bool(_JOB_SUFFIX.search(last))


def _category(low: str, words: list[str]) -> str | None:
    """The subject for a self-description, in priority order (age before gender, ...)."""
    last = words[-1]
    checks: tuple[tuple[bool, str], ...] = (
        (bool(re.search(r"\b(?:year|yr)s?[- ]old\b", low)), "age"),
        (words_in(low, lx.DIETS) or last == "eater", "diet"),
        (words_in(low, lx.RELIGIONS), "religion"),
        (last in {"feminist", "environmentalist", "pacifist", "humanist", "conservative", "liberal", "democrat", "republican"}, "belief"),
        (low in lx.SLEEP_NOUNS, "sleep schedule"),
        (last in lx.PERSONALITY_NOUNS or low in {"party animal", "people person", "social butterfly", "free spirit", "neat freak"}, "personality"),
        (words_in(low, lx.FAMILY_NOUNS), "family"),
        (words_in(low, lx.AGE_WORDS), "age"),
        (last in lx.GENDER_WORDS and len(words) <= 2, "gender"),
        (bool({"student", "freshman", "sophomore", "graduate", "undergrad", "undergraduate"} & set(words)), "education"),
        (len(words) == 1 and last in lx.NATIONALITIES, "nationality"),
    )
    for hit, subject in checks:
        if hit:
            return subject
    return "job" if _looks_like_job(words) else None


def describe_self(text: str) -> tuple[str, str] | None:
    """Subject and target for "I am a/an <text>"."""
    target = clean_target(text)
    if target is None:
        return None
    words = target.lower().split()
    special = _fan_of(words) or _hobbyist(words)
    if special:
        return special
    return (_category(target.lower(), words) or "identity", target)


def describe_state(text: str) -> tuple[str, str] | None:
    """Subject and target for "I am <text>" without an article: "married", "very shy"."""
    low = text.lower().strip()
    low = re.sub(r"^(?:" + "|".join(lx.INTENSIFIERS) + r")\s+", "", low)
    first = low.split()[0] if low.split() else ""
    married_to = re.match(r"married to (.+)", low)
    if married_to:
        spouse = clean_target(married_to.group(1))
        return ("spouse", spouse) if spouse else None
    if first in lx.RELATIONSHIP_STATES:
        return ("relationship status", first)
    if re.fullmatch(r"(?:not )?(?:religious|spiritual)", low) or low in lx.RELIGIONS:
        return ("religion", low)
    if low in lx.DIETS:
        return ("diet", low)
    if low in lx.NATIONALITIES:
        return ("nationality", low)
    if low == "pregnant" or low.startswith("pregnant with"):
        return ("family", clean_target(low) or "pregnant")
    if low in _JOB_STATES:
        return ("job", low.removeprefix("a "))
    if _DISABILITY.match(low):
        return ("disability", low)
    if low in lx.GENDER_WORDS:
        return ("gender", low)
    if re.fullmatch(r"[a-z-]+", low) and low not in _NOT_TRAITS and not low.endswith("ing"):
        return ("personality trait", low)
    return None
