"""Facets: groups of a user's preferences that are about the same area of life.

Average-linkage agglomerative clustering on sentence-embedding cosine similarity, in numpy:
two groups merge while their mean pairwise similarity is at least ``threshold``. Output is
deterministic (ties go to the lowest indices) and ordered by each group's first preference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefedit.config import check_range
from prefedit.preferences.types import Preference

DEFAULT_FACET_THRESHOLD = 0.35


def facet_text(pref: Preference) -> str:
    """What is embedded for a preference.

    "My <subject> is <target>." rather than the raw statement: statements share a style ("I'm
    a ...") that pulls unrelated facts together. On UPQA dev (6 families x 2 items, 40 draws)
    this text at threshold 0.35 gave pair precision 0.87 / recall 0.82; the statement gave 0.69 / 0.51.
    """
    return f"My {pref.subject} is {pref.target}."


def agglomerate(sim: np.ndarray, threshold: float) -> list[list[int]]:
    """Average-linkage clustering of a symmetric similarity matrix.

    Args:
        sim: ``(n, n)`` similarities (cosine for unit vectors).
        threshold: groups merge while their average similarity is ``>= threshold``.

    Returns:
        Groups of indices, each sorted, ordered by their smallest index.
    """
    n = sim.shape[0]
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}
    s = np.array(sim, dtype=np.float64, copy=True)
    np.fill_diagonal(s, -np.inf)
    while len(groups) > 1:
        flat = int(np.argmax(s))
        i, j = divmod(flat, n)
        if s[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        # Lance-Williams update for average linkage: size-weighted mean of the two rows
        ni, nj = len(groups[i]), len(groups[j])
        merged = (ni * s[i] + nj * s[j]) / (ni + nj)
        s[i], s[:, i] = merged, merged
        s[i, i] = -np.inf
        s[j], s[:, j] = -np.inf, -np.inf
        groups[i] = sorted(groups[i] + groups.pop(j))
    return sorted(groups.values(), key=lambda g: g[0])


def facet_groups(
    prefs: Sequence[Preference], embedder: Any, threshold: float = DEFAULT_FACET_THRESHOLD
) -> list[list[Preference]]:
    """Group ``prefs`` into facets by embedding similarity.

    Args:
        prefs: one user's preferences.
        embedder: anything with ``encode(texts) -> (n, d)`` unit-norm rows (``Embedder``).
        threshold: average cosine at or above which groups merge; higher gives more, smaller facets.

    Returns:
        Lists of preferences, in input order within and across groups.
    """
    check_range("threshold", threshold, -1.0, 1.0)
    if not prefs:
        return []
    vectors = np.asarray(embedder.encode([facet_text(p) for p in prefs]), dtype=np.float64)
    return [[prefs[i] for i in group] for group in agglomerate(vectors @ vectors.T, threshold)]
