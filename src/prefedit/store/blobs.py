"""Delta files of the store: one safetensors file per preference under ``<home>/deltas/<user>/``.

A file is written (and fsynced) before the database row that names it commits, and removed
after the row that named it is gone, so a row never points at a missing or partial file. A crash
in between can leave an orphan file, which no row names and nothing reads.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prefedit.deltas import Delta, load_delta, save_delta
from prefedit.errors import StoreError


class BlobDir:
    """Delta files below ``root``; paths in the database are relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def relpath(self, user_rowid: int, pref_id: str) -> str:
        # The user's numeric row id (never reused) keeps arbitrary user ids out of file names.
        return f"{user_rowid}/{pref_id}.safetensors"

    def write(self, rel: str, delta: Delta) -> int:
        """Write ``delta`` atomically and durably at ``rel``; returns the file size in bytes."""
        path = self.root / rel
        save_delta(delta, path)
        _fsync(path)
        _fsync(path.parent)
        return path.stat().st_size

    def read(self, rel: str) -> Delta:
        path = self.root / rel
        if not path.is_file():
            raise StoreError(
                f"the delta file {path} named by the store is missing",
                hint="forget and re-add this preference (prefedit user forget / prefedit user add)",
            )
        return load_delta(path)

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    def remove_user(self, user_rowid: int) -> None:
        shutil.rmtree(self.root / str(user_rowid), ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
