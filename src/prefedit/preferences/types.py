"""The Preference and Cluster types."""

from __future__ import annotations

from dataclasses import dataclass, field

QUERY_TYPES = ("explicit", "paraphrased", "implicit", "recommendation")


@dataclass(frozen=True, kw_only=True)
class Preference:
    """One thing a user told us about themselves.

    ``subject`` is what the preference is about ("hobby"), ``target`` the short answer
    ("rock climbing"). ``questions`` maps a query type (see ``QUERY_TYPES``) to a question
    that the personalized model should answer with the target in mind.
    """

    id: str
    statement: str
    subject: str
    target: str
    user_id: str = "default"
    questions: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    supersedes: str | None = None
    # Cluster variants given in the data (the reference's 9-way clusters); these count for the
    # match judge because they come from the data, never from a method.
    given_subjects: tuple[str, ...] = ()
    given_questions: tuple[str, ...] = ()
    given_targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from prefedit.errors import DataError

        for name in ("statement", "subject", "target"):
            if not str(getattr(self, name)).strip():
                raise DataError(f"preference {self.id!r}: {name} is empty")

    @property
    def explicit_question(self) -> str:
        return self.questions.get("explicit") or f"What is my {self.subject}?"


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """Variants of one preference used to plan edits: subject synonyms, questions, answers."""

    preference: Preference
    subjects: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # which builders contributed (given, templates, self, openai)
    # Questions that need the preference without asking for it. Not edit prompts: their answer
    # is not the target. Kept for evaluation and for methods that train on them.
    implicit: tuple[str, ...] = ()
    recommendation: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MultiTurnItem:
    """One multi-turn case: the preference is stated (or edited in), turns pass, then ``question``.

    ``preference.target``, its aliases and given targets are what the match judge accepts.
    """

    id: str
    preference: Preference
    question: str
