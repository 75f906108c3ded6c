"""The preference store: users (hashed tokens), preferences and their deltas under PREFEDIT_HOME.

``Store.open()`` gives the store at ``$PREFEDIT_HOME`` (default ``~/.prefedit``): a SQLite database
``store.sqlite3`` plus one delta file per preference in ``deltas/``. Every change is one
transaction: delta files are written before the rows naming them commit, and removed only after
the rows are gone. Editing (computing deltas) is not done here; see ``store.personalizer``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from prefedit.deltas import Delta
from prefedit.errors import DataError, DeltaMismatchError, NotFoundError, StoreError
from prefedit.preferences.types import Preference
from prefedit.settings import Settings, get_settings
from prefedit.store.blobs import BlobDir
from prefedit.store.db import Database
from prefedit.store.records import MAX_PREFERENCES_PER_USER, PreferenceRecord, UserRecord, check_user_id
from prefedit.store.tokens import hash_token, new_token

DB_NAME = "store.sqlite3"


class AlreadyExistsError(StoreError):
    """A user (or other named thing) to be created exists already."""


class Store:
    """Users, preferences and delta files below ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = home.expanduser()
        self.db = Database(self.home / DB_NAME)
        self.blobs = BlobDir(self.home / "deltas")

    @classmethod
    def open(cls, home: str | Path | None = None, *, settings: Settings | None = None) -> Store:
        """The store at ``home``, or at ``$PREFEDIT_HOME`` (default ``~/.prefedit``)."""
        return cls(Path(home) if home is not None else (settings or get_settings()).home_dir)

    def close(self) -> None:
        self.db.close()

    # -- users -------------------------------------------------------------------------------

    def create_user(self, user_id: str) -> str:
        """Create ``user_id``; returns its bearer token (shown once, stored hashed)."""
        check_user_id(user_id)
        secret = new_token()
        with self.db.transaction() as conn:
            if _user_row(conn, user_id) is not None:
                raise AlreadyExistsError(f"user {user_id!r} exists already", hint=f"issue a new token with `prefedit user token {user_id}`")
            conn.execute(
                "INSERT INTO users (id, token_hash, created) VALUES (?, ?, ?)",
                (user_id, hash_token(secret), int(time.time())),
            )
        return secret

    def ensure_user(self, user_id: str) -> None:
        """Create ``user_id`` without a token when missing."""
        check_user_id(user_id)
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO users (id, created) VALUES (?, ?)", (user_id, int(time.time())))

    def issue_token(self, user_id: str) -> str:
        """A new token for ``user_id``; the previous one stops working."""
        secret = new_token()
        with self.db.transaction() as conn:
            _require_user(conn, user_id)
            conn.execute("UPDATE users SET token_hash = ? WHERE id = ?", (hash_token(secret), user_id))
        return secret

    def user_for_token(self, token: str) -> str | None:
        """The user whose token this is, or None."""
        with self.db.reading() as conn:
            row = conn.execute("SELECT id FROM users WHERE token_hash = ?", (hash_token(token),)).fetchone()
        return None if row is None else str(row["id"])

    def delete_user(self, user_id: str) -> None:
        """Remove ``user_id`` with all their preferences and delta files."""
        with self.db.transaction() as conn:
            rowid = _require_user(conn, user_id)["rowid"]
            conn.execute("DELETE FROM users WHERE rowid = ?", (rowid,))
        self.blobs.remove_user(rowid)

    def users(self) -> list[UserRecord]:
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT u.id, u.created, u.token_hash IS NOT NULL AS has_token, COUNT(p.seq) AS n "
                "FROM users u LEFT JOIN preferences p ON p.user_rowid = u.rowid GROUP BY u.rowid ORDER BY u.id"
            ).fetchall()
        return [UserRecord(r["id"], r["created"], r["n"], bool(r["has_token"])) for r in rows]

    def has_user(self, user_id: str) -> bool:
        with self.db.reading() as conn:
            return _user_row(conn, user_id) is not None

    def user_state(self, user_id: str) -> tuple[int, int]:
        """``(row id, version)``: changes whenever ``user_id``'s preferences change or the user is
        re-created (for cache invalidation, also across processes)."""
        with self.db.reading() as conn:
            row = _require_user(conn, user_id)
        return int(row["rowid"]), int(row["version"])

    # -- preferences -------------------------------------------------------------------------

    def preferences(self, user_id: str, *, active_only: bool = False) -> list[PreferenceRecord]:
        """``user_id``'s preferences, oldest first (superseded ones too unless ``active_only``)."""
        with self.db.reading() as conn:
            _require_user(conn, user_id)
            records = _preference_rows(conn, user_id)
        return [r for r in records if r.active] if active_only else records

    def preference(self, user_id: str, pref_id: str) -> PreferenceRecord:
        for record in self.preferences(user_id):
            if record.id == pref_id:
                return record
        raise NotFoundError(f"user {user_id!r} has no preference {pref_id!r}", hint=f"list them with `prefedit user list {user_id}`")

    def check_supersedes(self, user_id: str, pref_id: str | None) -> None:
        """Raise unless ``pref_id`` is None or an active preference of ``user_id``."""
        with self.db.reading() as conn:
            _check_supersedes(conn, _require_user(conn, user_id)["rowid"], user_id, pref_id)

    def add_preferences(self, user_id: str, items: Sequence[tuple[Preference, Delta]], *, create_user: bool = False) -> list[PreferenceRecord]:
        """Store preferences with their deltas (and the user, with ``create_user``), all or nothing."""
        written: list[str] = []
        if create_user:
            check_user_id(user_id)
        try:
            with self.db.transaction() as conn:
                if create_user:
                    conn.execute("INSERT OR IGNORE INTO users (id, created) VALUES (?, ?)", (user_id, int(time.time())))
                user = _require_user(conn, user_id)
                _check_capacity(conn, user, len(items))
                _check_fingerprints(conn, user, [d for _, d in items])
                now = int(time.time())
                for pref, delta in items:
                    _check_supersedes(conn, user["rowid"], user_id, pref.supersedes)
                    rel = self.blobs.relpath(user["rowid"], pref.id)
                    written.append(rel)
                    nbytes = self.blobs.write(rel, delta)
                    _insert_preference(conn, user["rowid"], pref, now)
                    _insert_delta(conn, pref.id, rel, delta, nbytes, now)
                _bump_version(conn, user["rowid"])
        except BaseException:
            for rel in written:
                self.blobs.remove(rel)
            raise
        ids = {p.id for p, _ in items}
        return [r for r in self.preferences(user_id) if r.id in ids]

    def forget(self, user_id: str, pref_id: str) -> PreferenceRecord:
        """Remove a preference and its delta. If it had superseded another, that one is active again;
        a preference that superseded it now supersedes what it superseded."""
        with self.db.transaction() as conn:
            user = _require_user(conn, user_id)
            record = next((r for r in _preference_rows(conn, user_id) if r.id == pref_id), None)
            if record is None:
                raise NotFoundError(f"user {user_id!r} has no preference {pref_id!r}", hint=f"list them with `prefedit user list {user_id}`")
            rel = conn.execute("SELECT path FROM deltas WHERE preference_id = ?", (pref_id,)).fetchone()
            conn.execute("UPDATE preferences SET supersedes = ? WHERE supersedes = ?", (record.supersedes, pref_id))
            conn.execute("DELETE FROM preferences WHERE id = ?", (pref_id,))
            _bump_version(conn, user["rowid"])
        if rel is not None:
            self.blobs.remove(rel["path"])
        return record

    # -- deltas ------------------------------------------------------------------------------

    def active_deltas(self, user_id: str, *, fingerprint: str | None = None) -> list[Delta]:
        """The deltas of ``user_id``'s active preferences, oldest first.

        Raises:
            DeltaMismatchError: one was made for a base model other than ``fingerprint``.
        """
        with self.db.reading() as conn:
            active = [r.id for r in _preference_rows(conn, user_id) if r.active]
            rows = {r["preference_id"]: r for r in conn.execute(
                "SELECT d.preference_id, d.path, d.fingerprint FROM deltas d JOIN preferences p ON p.id = d.preference_id "
                "JOIN users u ON u.rowid = p.user_rowid WHERE u.id = ?", (user_id,))}
        for pref_id in active:
            if pref_id not in rows:
                raise StoreError(f"preference {pref_id!r} of user {user_id!r} has no delta", hint="forget it and add it again")
            if fingerprint is not None and rows[pref_id]["fingerprint"] != fingerprint:
                raise _mismatch(user_id, rows[pref_id]["fingerprint"], fingerprint)
        return [self.blobs.read(rows[pref_id]["path"]) for pref_id in active]

    def stored_bytes(self, user_id: str) -> int:
        """Bytes of delta files stored for ``user_id``."""
        with self.db.reading() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(d.nbytes), 0) AS n FROM deltas d JOIN preferences p ON p.id = d.preference_id "
                "WHERE p.user_rowid = ?", (_require_user(conn, user_id)["rowid"],)).fetchone()
        return int(row["n"])


def _user_row(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT rowid, id, version FROM users WHERE id = ?", (user_id,)).fetchone()  # type: ignore[no-any-return]


def _require_user(conn: sqlite3.Connection, user_id: str) -> sqlite3.Row:
    row = _user_row(conn, user_id)
    if row is None:
        raise NotFoundError(f"no user {user_id!r}", hint="create it with `prefedit user add USER STATEMENT` or POST /v1/users")
    return row


def _preference_rows(conn: sqlite3.Connection, user_id: str) -> list[PreferenceRecord]:
    rows = conn.execute(
        "SELECT p.* FROM preferences p JOIN users u ON u.rowid = p.user_rowid WHERE u.id = ? ORDER BY p.seq", (user_id,)
    ).fetchall()
    replaced = {r["supersedes"] for r in rows if r["supersedes"]}
    return [
        PreferenceRecord(r["id"], user_id, r["statement"], r["subject"], r["target"], r["created"], r["supersedes"], r["id"] not in replaced)
        for r in rows
    ]


def _check_supersedes(conn: sqlite3.Connection, user_rowid: int, user_id: str, pref_id: str | None) -> None:
    if pref_id is None:
        return
    row = conn.execute("SELECT user_rowid FROM preferences WHERE id = ?", (pref_id,)).fetchone()
    if row is None or row["user_rowid"] != user_rowid:
        raise NotFoundError(f"user {user_id!r} has no preference {pref_id!r} to supersede", hint=f"list them with `prefedit user list {user_id}`")
    later = conn.execute("SELECT id FROM preferences WHERE supersedes = ?", (pref_id,)).fetchone()
    if later is not None:
        raise DataError(f"preference {pref_id!r} is already superseded by {later['id']!r}", hint=f"supersede {later['id']!r} instead")


def _check_capacity(conn: sqlite3.Connection, user: sqlite3.Row, adding: int) -> None:
    count = conn.execute("SELECT COUNT(*) FROM preferences WHERE user_rowid = ?", (user["rowid"],)).fetchone()[0]
    if count + adding > MAX_PREFERENCES_PER_USER:
        raise StoreError(
            f"user {user['id']!r} has {count} preferences; adding {adding} would pass the limit of {MAX_PREFERENCES_PER_USER}",
            hint="forget some first (prefedit user forget USER PREF_ID)",
        )


def _check_fingerprints(conn: sqlite3.Connection, user: sqlite3.Row, deltas: Sequence[Delta]) -> None:
    prints = {d.info.fingerprint for d in deltas}
    stored = conn.execute(
        "SELECT DISTINCT d.fingerprint FROM deltas d JOIN preferences p ON p.id = d.preference_id WHERE p.user_rowid = ?", (user["rowid"],)
    ).fetchall()
    prints |= {r["fingerprint"] for r in stored}
    if len(prints) > 1:
        new = next(iter({d.info.fingerprint for d in deltas}))
        old = next(iter(prints - {new}))
        raise _mismatch(user["id"], old, new)


def _mismatch(user_id: str, stored: str, model: str) -> DeltaMismatchError:
    return DeltaMismatchError(
        f"user {user_id!r} has edits made for base model {stored}, but this model is {model}",
        hint="use the base model the preferences were added with (--model), or forget them and add them again on this one",
    )


def _insert_preference(conn: sqlite3.Connection, user_rowid: int, pref: Preference, now: int) -> None:
    conn.execute(
        "INSERT INTO preferences (id, user_rowid, statement, subject, target, created, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (pref.id, user_rowid, pref.statement, pref.subject, pref.target, now, pref.supersedes),
    )


def _insert_delta(conn: sqlite3.Connection, pref_id: str, rel: str, delta: Delta, nbytes: int, now: int) -> None:
    conn.execute(
        "INSERT INTO deltas (preference_id, path, editor, method, config, fingerprint, nbytes, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (pref_id, rel, delta.info.editor, str(delta.info.extra.get("method", delta.info.editor)),
         json.dumps(delta.info.config, sort_keys=True, default=str), delta.info.fingerprint, nbytes, now),
    )


def _bump_version(conn: sqlite3.Connection, user_rowid: int) -> None:
    conn.execute("UPDATE users SET version = version + 1 WHERE rowid = ?", (user_rowid,))
