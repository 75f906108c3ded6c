"""What the store hands out: users, preferences and drafts (a preference before it is edited), with
the size limits every input is checked against (the CLI and the server share them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prefedit.errors import DataError

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
PREF_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_USER_ID = 64
MAX_STATEMENT = 1000
MAX_SUBJECT = 100
MAX_TARGET = 200
MAX_PREFERENCES_PER_USER = 1000
MAX_IMPORT = 200


@dataclass(frozen=True)
class UserRecord:
    """A user: id, creation time (unix seconds), number of stored preferences, and whether a token exists."""

    id: str
    created: int
    preferences: int
    has_token: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "preferences": self.preferences, "has_token": self.has_token}


@dataclass(frozen=True)
class PreferenceRecord:
    """A stored preference. ``active`` is False once a later preference supersedes it."""

    id: str
    user: str
    statement: str
    subject: str
    target: str
    created: int
    supersedes: str | None
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "subject": self.subject,
            "target": self.target,
            "created": self.created,
            "supersedes": self.supersedes,
            "active": self.active,
        }


@dataclass(frozen=True)
class PreferenceDraft:
    """A preference as a user states it; ``subject``/``target`` are parsed from the statement when omitted."""

    statement: str
    subject: str | None = None
    target: str | None = None
    supersedes: str | None = None

    def __post_init__(self) -> None:
        check_text("statement", self.statement, MAX_STATEMENT)
        if self.subject is not None:
            check_text("subject", self.subject, MAX_SUBJECT)
        if self.target is not None:
            check_text("target", self.target, MAX_TARGET)
        if self.supersedes is not None:
            check_pref_id(self.supersedes)


def check_text(name: str, value: object, limit: int) -> None:
    """Raise DataError unless ``value`` is a non-blank string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise DataError(f"{name} is {len(value)} characters long; the limit is {limit}")


def check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not re.match(USER_ID_PATTERN, user_id):
        raise DataError(
            f"invalid user id {user_id!r}",
            hint="use 1-64 characters: letters, digits and _ . @ -, starting with a letter or digit",
        )


def check_pref_id(pref_id: str) -> None:
    if not isinstance(pref_id, str) or not re.match(PREF_ID_PATTERN, pref_id):
        raise DataError(f"invalid preference id {pref_id!r}", hint="ids look like pref_0123456789abcdef; see `prefedit user list USER`")
