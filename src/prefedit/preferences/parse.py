"""Rule-based parsing of a preference statement into ``(subject, target)``.

``parse_statement("I'm allergic to shellfish.") == ("allergy", "shellfish")``. Rules are tried in
order; the first that yields a clean subject and target wins, and ``None`` means no rule fits
(callers then ask a model, see ``loaders.load_preferences(ask_model=...)``). A rule never returns
an empty string or a clause-length target.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from prefedit.preferences import lexicon as lx
from prefedit.preferences.describe import describe_self, describe_state, guess_like, words_in
from prefedit.preferences.phrasing import activity, clean_subject, clean_target, gerund, normalize_statement

Parsed = tuple[str, str]
Build = Callable[[re.Match[str]], "Parsed | None"]


@dataclass(frozen=True)
class Rule:
    """A pattern (matched at the start of the normalised statement) and how to read it."""

    pattern: re.Pattern[str]
    build: Build


def _pair(subject: str | None, target: str | None, *, strip_the: bool = True) -> Parsed | None:
    target = clean_target(target, strip_the=strip_the)
    subject = clean_subject(subject) if subject else None
    return (subject, target) if subject and target else None


def _fixed(subject: str, group: int = 1, *, act: bool = False, prefix: str = "") -> Build:
    """A builder giving ``subject`` and the (activity-formed) text of ``group``."""

    def build(m: re.Match[str]) -> Parsed | None:
        text = activity(m.group(group)) if act else m.group(group)
        return _pair(subject, prefix + text)

    return build


def _liked(m: re.Match[str]) -> Parsed | None:
    thing = activity(m.group(1))
    for pattern, subject in _CONSUMING:
        hit = re.match(pattern, thing, re.I)
        if hit:
            return _pair(subject, hit.group(1))
    return _pair(guess_like(thing), thing)


def _disliked(m: re.Match[str]) -> Parsed | None:
    return _pair("dislike", activity(m.group(1)))


def _favorite(m: re.Match[str]) -> Parsed | None:
    return _pair(f"favorite {m.group(1)}", m.group(2), strip_the=False)


def _favorite_reversed(m: re.Match[str]) -> Parsed | None:
    return _pair(f"favorite {m.group(2)}", m.group(1), strip_the=False)


def _my_x_is(m: re.Match[str]) -> Parsed | None:
    subject, value = m.group(1), m.group(2)
    if len(subject.split()) > 3 or re.match(_NOT_A_VALUE, value, re.I):
        return None
    if subject.lower() in lx.FAMILY_NOUNS and re.match(r"an? ", value, re.I):
        described = describe_self(value[value.index(" ") + 1 :])
        if described and described[0] == "job":
            return _pair(f"{subject}'s job", described[1])
    return _pair(subject, value)


def _named(m: re.Match[str]) -> Parsed | None:
    kind, name = re.sub(r"(?:'s|s'|')$", "", m.group(1)), m.group(2)
    if kind.endswith("s") and kind[:-1].lower() in lx.ANIMALS | lx.FAMILY_NOUNS:
        kind = kind[:-1]
    if words_in(kind.split()[-1], lx.ANIMALS):
        return _pair("pet", f"{kind} named {name}")
    return _pair(f"{kind}'s name", name)


def _have(m: re.Match[str]) -> Parsed | None:
    """``I have ...``: pets, family, vehicles, looks, health, collections."""
    thing = m.group(1)
    if re.match(r"(?:always|never|been|got|just|already|had|made|done|to|no|zero|not)\b", thing, re.I):
        return None
    collection = re.match(r"(?:a |an )?(?:\w+ )?collection of (.+)", thing, re.I)
    if collection:
        return _pair("hobby", "collecting " + collection.group(1))
    head = re.split(r" (?:in|on|at|for|with|from|of|who|that|which) ", thing, maxsplit=1)[0]
    last = head.split()[-1] if head.split() else ""
    for lexicon, subject, text in (
        (lx.ANIMALS, "pet", last), (lx.FAMILY_NOUNS, "family", last), (lx.VEHICLES, "vehicle", last),
        (lx.APPEARANCE_NOUNS, "appearance", last), (lx.HEALTH_NOUNS, "health condition", thing),
    ):
        if words_in(text, lexicon):
            keep_count = subject in ("pet", "family") and re.match(r"(?:two|three|four|five|six|\d+)\b", thing, re.I)
            return _pair(subject, thing if keep_count else re.sub(r"^(?:a|an|one)\s+", "", thing, flags=re.I))
    return None


def _own(m: re.Match[str]) -> Parsed | None:
    thing = m.group(1)
    if words_in(thing, lx.VEHICLES):
        return _pair("vehicle", thing)
    if words_in(thing, lx.HOUSING_NOUNS):
        where = re.search(r"\b(?:in|on) (.+)", thing)
        return _pair("location", where.group(1)) if where else _pair("home", thing)
    return _pair("possession", thing)


def _live(m: re.Match[str]) -> Parsed | None:
    place = m.group(2)
    if m.group(1).lower() == "with":
        inner = re.search(r"\bin (.+)", place, re.I)
        return _pair("location", inner.group(1)) if inner else _pair("household", place)
    if re.match(r"(?:at )?home\b", place, re.I) or m.group(1).lower() == "at":
        return _pair("living situation", place)
    if words_in(place.split()[-1] if place.split() else "", lx.HOUSING_NOUNS) and re.match(r"an?\b", place, re.I):
        return _pair("home", place)
    return _pair("location", place)


def _born(m: re.Match[str]) -> Parsed | None:
    when = m.group(1)
    if re.search(r"\d|\b(?:early|late|mid|century|decade|year|eighties|nineties)\b", when, re.I):
        return _pair("birth year", when)
    return _pair("birthplace", when)


def _raised(m: re.Match[str]) -> Parsed | None:
    place = m.group(1)
    if re.search(r"\b(?:household|family|home|parent)\b", place, re.I):
        return _pair("upbringing", place)
    return _pair("hometown", place)


def _age(m: re.Match[str]) -> Parsed | None:
    return _pair("age", f"{m.group(1)} years old")


def _play(m: re.Match[str]) -> Parsed | None:
    thing = m.group(1)
    if words_in(thing, lx.INSTRUMENTS):
        return _pair("instrument", thing)
    if words_in(thing, lx.SPORTS) and len(thing.split()) <= 3:
        return _pair("sport", thing)
    return _pair("hobby", "playing " + re.sub(r"^(?:a lot of|lots of)\s+", "", thing, flags=re.I))


def _verb(m: re.Match[str]) -> Parsed | None:
    verb, rest = m.group(1), m.group(2) or ""
    if verb.lower() == "volunteer":
        place = re.sub(r"^(?:my time )?(?:at|in|with|for)\s+", "", rest, flags=re.I)
        return _pair("volunteer work", place or "volunteering")
    return _pair("hobby", f"{gerund(verb)} {rest}".strip())


def _spare_time(m: re.Match[str]) -> Parsed | None:
    rest = "i " + m.group(1)
    for rule in HOBBY_RULES:
        hit = rule.pattern.match(rest)
        if hit and (out := rule.build(hit)):
            return ("hobby", out[1]) if out[0] not in ("favorite music", "instrument", "sport") else out
    plain = re.match(r"i (?:do|attend|go to|enjoy|like|love) (.+)", rest, re.I)
    return _pair("hobby", activity(plain.group(1))) if plain else None


def _want_to_be(m: re.Match[str]) -> Parsed | None:
    return _pair("career goal", re.sub(r"^(?:a|an)\s+", "", m.group(1), flags=re.I))


def _r(pattern: str, build: Build) -> Rule:
    return Rule(re.compile(pattern, re.I), build)


_NOT_A_VALUE = r"(?:very|so|really|too|always|never|constantly|not|also|coming|going|getting|being|doing|trying|moving|to)\b"
_CONSUMING = (
    (r"listening to (.+)", "favorite music"),
    (r"drinking (.+)", "favorite drink"),
    (r"eating (?!out\b)(.+)", "favorite food"),
    (r"(?:the )?band (.+)", "favorite band"),
)
_TIME = r"(?:full[- ]?time |part[- ]?time )?"
_LIKE = r"(?:like|love|enjoy|adore|am into|am interested in|am passionate about|am obsessed with|am crazy about|am addicted to)"
_HATE = r"(?:do not (?:like|enjoy|love|care for)|cannot stand|hate|dislike|detest|despise|loathe|am not a fan of)"
_AFRAID = r"i am (?:deathly |very |really |so |extremely |terribly )?(?:afraid|scared|terrified|frightened|fearful) of (.+)"
_HOBBY_VERB = r"^i (" + "|".join(sorted(lx.HOBBY_VERBS - {"play"}, key=len, reverse=True)) + r")\b(?: (.+))?$"

HOBBY_RULES: tuple[Rule, ...] = (
    _r(r"^i play (.+)", _play),
    _r(r"^i (?:work out|workout|exercise|lift weights)\b(.*)", lambda m: _pair("hobby", "working out" + m.group(1))),
    _r(r"^i go (\w+ing)\b(.*)", lambda m: _pair("hobby", m.group(1) + m.group(2))),
    _r(r"^i do (\w+ing\b.*|yoga.*|crafts.*|puzzles.*)", _fixed("hobby")),
    _r(r"^i listen to (.+)", _fixed("favorite music")),
    _r(_HOBBY_VERB, _verb),
)

RULES: tuple[Rule, ...] = (
    # health and diet first: "I am allergic to ..." must not read as a trait
    _r(r"^i am (?:severely |very |deathly |highly )?allergic to (.+)", _fixed("allergy")),
    _r(r"^i have (?:an? |severe |bad )*allerg(?:y|ies) to (.+)", _fixed("allergy")),
    _r(r"^i have (?:an? |severe |bad )*(.+?) allerg(?:y|ies)$", _fixed("allergy")),
    _r(r"^i am (\w+) intolerant", _fixed("food intolerance")),
    _r(r"^i am (?:a |an )?(?:strict |committed |lifelong |proud )?(vegan|vegetarian|pescatarian|pescetarian|flexitarian|carnivore)\b", _fixed("diet")),
    _r(r"^i (?:eat|follow|am on|keep) (?:a |an )?(keto|paleo|gluten[- ]free|low[- ]carb|kosher|halal|plant[- ]based|vegan|vegetarian|mediterranean|dairy[- ]free)\b", _fixed("diet")),
    _r(r"^i (?:do not|never|cannot|can not) eat (?:anything )?(.+)", _fixed("dietary restriction", prefix="no ")),
    _r(r"^i (?:do not|never) drink (?!or\b)(.+)", _fixed("drinking habit", prefix="no ")),
    _r(r"^i (?:do not|never) drink(?: or .*)?$", lambda m: ("drinking habit", "no alcohol")),
    _r(_AFRAID, _fixed("fear")),
    _r(r"^i have (?:a |an )?(?:fear|phobia) of (.+)", _fixed("fear")),
    _r(r"^i (?:code|program|develop|write code|write software|write programs) (?:mostly |mainly )?(?:in|with|using) (.+)", _fixed("programming language")),
    _r(r"^i speak (.+?)(?: fluently)?$", _fixed("language")),
    _r(r"^i am fluent in (.+)", _fixed("language")),
    _r(r"^i am (?:a )?native (\w+) speaker", _fixed("native language")),
    # favorites and possessives
    _r(r"^my favorite (.+?) (?:is|are|was|would be|has to be) (.+)", _favorite),
    _r(r"^(.+?) (?:is|are) my (?:favorite|preferred|go-to) (.+)", _favorite_reversed),
    _r(r"^my (?:pet |little )?(.+?)(?: s)? name is (.+)", _named),
    _r(r"^my (.+?) is (?:named|called) (.+)", _named),
    _r(r"^my dream (?:job )?is to (?:be|become) (.+)", _want_to_be),
    _r(r"^my dream(?: in life)? is to (.+)", lambda m: _pair("dream", activity("to " + m.group(1)))),
    _r(r"^my (.+?) (?:works|worked) as (?:a |an )?(.+)", lambda m: _pair(f"{m.group(1)}'s job", m.group(2))),
    _r(r"^my (.+?) (?:is|are|was|were) (.+)", _my_x_is),
    # where and who
    _r(r"^i (?:live|am living|reside) (with|in|on|at|near) (.+)", _live),
    _r(r"^i (?:have )?(?:just )?(?:moved|relocated) to (.+)", _fixed("location")),
    _r(r"^i am (?:originally )?from (.+)", _fixed("hometown")),
    _r(r"^i (?:grew up|was raised|was brought up|was born and raised) (?:in|on|near) (.+)", _raised),
    _r(r"^i was born in (.+)", _born),
    _r(r"^i am (\d{1,3})(?: years? old| yrs? old| y/?o)?\b", _age),
    _r(r"^i (?:just )?turned (\d{1,3})\b", _age),
    _r(r"^i work " + _TIME + r"as (?:a |an )?(.+)", _fixed("job")),
    _r(r"^i am employed as (?:a |an )?(.+)", _fixed("job")),
    _r(r"^i (?:just )?(?:got|started|have|found|took) (?:a |my )?(?:new |first |" + _TIME + r")?job (?:as|at|in|working (?:at|in|as)) (?:a |an )?(.+)", _fixed("job")),
    _r(r"^i work " + _TIME + r"(?:at|for|in) .+? as (?:a |an )?(.+)", _fixed("job")),
    _r(r"^i work " + _TIME + r"(?:at|for|in) (.+)", _fixed("workplace")),
    _r(r"^i do not work$", lambda m: ("job", "unemployed")),
    _r(r"^i teach (.+)", _fixed("job", prefix="teaching ")),
    _r(r"^i am (?:on|in) (?:the |a |my school's |my )?(\w+(?: \w+)?) team\b", _fixed("sport")),
    _r(r"^i am in the (army|navy|military|marines|air force|coast guard|national guard)\b", _fixed("job")),
    _r(r"^(?:when i grow up )?i (?:want|hope|plan|would like|wish|dream|aspire) to (?:be|become) (.+)", _want_to_be),
    _r(r"^i am (?:in \w+|studying|training|working|going to school) to (?:be|become) (.+)", _want_to_be),
    _r(r"^i am (?:currently )?in (college|high school|middle school|grad school|university|kindergarten|(?:the )?\w+ grade)\b", _fixed("education")),
    _r(r"^i (?:graduated|have a degree|hold a degree) (?:from |in )?(.+)", _fixed("education")),
    _r(r"^i am (?:attending|enrolled in|enrolled at|studying at|going to) ((?:.+? )?(?:school|college|university|academy|institute)\b.*)", _fixed("school")),
    _r(r"^i (?:attend|go to|am enrolled at|am a student at) ((?:.+? )?(?:school|college|university|academy|institute)\b.*)", _fixed("school")),
    _r(r"^i (?:study|am studying|major in|am majoring in) (.+)", _fixed("field of study")),
    _r(r"^i am (?:a |an )(.+?) major\b", _fixed("field of study")),
    _r(r"^i (?:want|plan|hope|would like) to (.+)", lambda m: _pair("goal", activity("to " + m.group(1)))),
    _r(r"^i drive (?:a |an )?(.+)", _fixed("car")),
    _r(r"^i (?:ride|take) (?:the |a )?(bus|train|subway|metro|tram|ferry|bike|bicycle|motorcycle|scooter)\b", _fixed("commute")),
    _r(r"^i have (?:a |an |one |two |three )?(?:pet )?(.+?) (?:named|called) (.+)", _named),
    _r(r"^i have (?:a |an |one )?pet (.+)", _fixed("pet")),
    _r(r"^i (?:volunteer|do volunteer work) (?:my time )?(?:at|in|with|for) (.+)", _fixed("volunteer work")),
    _r(r"^i go to (church|mass|temple|mosque|synagogue|services)\b(.*)", lambda m: _pair("religious practice", f"going to {m.group(1)}{m.group(2)}")),
    _r(r"^i go to the gym\b(.*)", lambda m: _pair("hobby", "going to the gym" + m.group(1))),
    _r(r"^i am in an? (.+? relationship)\b", _fixed("relationship status")),
    _r(r"^i do not want (kids|children|a family)\b", lambda m: ("family plans", f"no {m.group(1)}")),
    _r(r"^i (?:started|began) (\w+ing\b.+)", _fixed("hobby")),
    _r(r"^i have an? (?:\w+ )?belt in (.+)", _fixed("hobby")),
    _r(r"^i have (?:a |an )?(?:big |huge |massive |real )?sweet tooth", lambda m: ("favorite food", "sweets")),
    _r(r"^i (?:support|root for|cheer for) (.+)", _fixed("favorite team")),
    _r(r"^i (?:usually )?(?:wake up|get up) (?:at|around|by) (.+)", _fixed("wake-up time")),
    _r(r"^i (?:usually )?(?:go to bed|go to sleep|sleep) (?:at|around|by) (.+)", _fixed("bedtime")),
    _r(r"^i use (?:an? )?((?:" + "|".join(sorted(lx.TECH)) + r")\b.*)", _fixed("device")),
    _r(r"^i am on a (?:(tight|strict|limited|small|modest) )?budget", lambda m: ("budget", f"{m.group(1) or 'limited'} budget")),
    _r(r"^i (?:shop|buy (?:my|most of my) clothes) at (.+)", _fixed("favorite store")),
    _r(r"^i (?:wear|dress in) (.+)", _fixed("clothing style")),
    _r(r"^for (?:vacation|vacations|holidays),? i (?:like|love|enjoy|prefer) (.+)", _fixed("vacation preference", act=True)),
    _r(r"^i believe in (.+)", _fixed("belief")),
    _r(r"^i do not believe in (god|religion)", lambda m: ("religion", "atheist")),
    _r(r"^i (?:would )?prefer (.+?)(?: (?:over|to|rather than|instead of) .+)?$", lambda m: _pair(guess_like(activity(m.group(1)), "preference"), activity(m.group(1)))),
    # likes and dislikes
    _r(r"^i " + _HATE + r" (.+)", _disliked),
    _r(r"^i (?:am a (?:big |huge |massive |die[- ]hard )?fan of) (.+)", _liked),
    _r(r"^i " + _LIKE + r" (.+)", _liked),
    _r(r"^i drink (.+)", _fixed("favorite drink")),
    _r(r"^(?:in my (?:spare|free|down) ?time|when i have (?:some )?(?:spare|free) time|on (?:the )?weekends|for fun|in the evenings|after work),? i (.+)", _spare_time),
    _r(r"^i spend (?:my|a lot of|most of my|all my|all of my) (?:free |spare )?time (.+)", _fixed("hobby", act=True)),
    _r(r"^i (?:own|have) (?:a |an )?(?:large |huge |big |small |growing )?(.+?) collection$", lambda m: _pair("hobby", "collecting " + m.group(1).rstrip("s") + "s")),
    *HOBBY_RULES,
    _r(r"^i have (.+)", _have),
    _r(r"^i own (.+)", _own),
    # self-descriptions last: "I am a nurse", "I am shy"
    _r(r"^i am (?:proud to be |happy to be )?(?:a |an )(.+)", lambda m: describe_self(m.group(1))),
    _r(r"^i am (.+)", lambda m: describe_state(m.group(1))),
)


def parse_statement(text: str) -> Parsed | None:
    """Read ``(subject, target)`` from a first-person preference statement.

    Args:
        text: e.g. "I'm allergic to shellfish." or "My favorite color is blue".

    Returns:
        ``(subject, target)`` such as ``("allergy", "shellfish")`` or
        ``("favorite color", "blue")``; None when no rule fits.
    """
    statement = normalize_statement(text)
    for rule in RULES:
        match = rule.pattern.match(statement)
        if match is None:
            continue
        parsed = rule.build(match)
        if parsed is not None:
            return parsed
    return None
