"""The store's SQLite schema, its version (``PRAGMA user_version``) and the migrations to reach it.

Each migration is the SQL that takes the database from version ``n - 1`` to ``n``; opening a
store runs the missing ones in one transaction. A database written by a newer prefedit is refused.
"""

from __future__ import annotations

import sqlite3

from prefedit.errors import StoreError

SCHEMA_VERSION = 1

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        # ``version`` increases on every change to a user's preferences, so a server can tell
        # that its cached delta is stale even when another process (the CLI) made the change.
        """CREATE TABLE users (
            rowid INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            token_hash TEXT UNIQUE,
            created INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE preferences (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            user_rowid INTEGER NOT NULL REFERENCES users(rowid) ON DELETE CASCADE,
            statement TEXT NOT NULL,
            subject TEXT NOT NULL,
            target TEXT NOT NULL,
            created INTEGER NOT NULL,
            supersedes TEXT REFERENCES preferences(id)
        )""",
        "CREATE INDEX preferences_user ON preferences(user_rowid, seq)",
        """CREATE TABLE deltas (
            preference_id TEXT PRIMARY KEY REFERENCES preferences(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            editor TEXT NOT NULL,
            method TEXT NOT NULL,
            config TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            nbytes INTEGER NOT NULL,
            created INTEGER NOT NULL
        )""",
    ),
}


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the database at ``path`` to :data:`SCHEMA_VERSION` (atomically), or refuse a newer one."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store {path} has schema version {current}, newer than this prefedit supports ({SCHEMA_VERSION})",
                hint="upgrade prefedit (pip install -U prefedit), or point --home at another directory",
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for sql in MIGRATIONS[version]:
                conn.execute(sql)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
