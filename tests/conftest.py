"""Shared fixtures: tiny random models per family (seeded, no download) and the real SmolLM2.

Tests that load SmolLM2 carry the ``smollm2`` marker (``make test`` runs them too).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFEDIT_NO_PROGRESS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """User data never goes to the real ~/.prefedit in tests (caches stay shared: they are disposable)."""
    monkeypatch.setenv("PREFEDIT_HOME", str(tmp_path_factory.mktemp("home")))


_TINY: dict[str, object] = {}


@pytest.fixture(scope="session")
def tiny():
    """``tiny("llama")`` -> a session-cached tiny LoadedModel (do not leave deltas applied)."""
    from prefedit.testing import tiny_model

    def get(family: str = "llama"):
        if family not in _TINY:
            _TINY[family] = tiny_model(family)
        return _TINY[family]

    return get


@pytest.fixture(scope="session")
def smollm2():
    """The real default model (converted once into the cache)."""
    from prefedit.models import load_model

    return load_model()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
