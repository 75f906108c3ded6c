"""The embed judge: the best MiniLM cosine between any accepted target and the answer (whole or
one of its sentences) must reach a threshold calibrated on labelled pairs written for prefedit
(``data/judge_calibration.json``): the threshold with the highest accuracy on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from prefedit.bench.judges import JudgeInput

_SPLIT = re.compile(r"(?<=[.!?;:\n])\s+|\n+")


def load_calibration() -> list[dict[str, Any]]:
    """The labelled (target, answer, label) pairs shipped with prefedit."""
    text = resources.files("prefedit.data").joinpath("judge_calibration.json").read_text(encoding="utf-8")
    return list(json.loads(text)["pairs"])


def best_threshold(scores: Sequence[float], labels: Sequence[int]) -> tuple[float, float]:
    """(threshold, accuracy): the midpoint between sorted scores that classifies best (>= is positive)."""
    s = np.sort(np.asarray(scores, dtype=float))
    cands = [s[0] - 1e-6, *((s[:-1] + s[1:]) / 2), s[-1] + 1e-6]
    sc, lab = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    accs = [float(((sc >= t) == lab).mean()) for t in cands]
    best = int(np.argmax(accs))
    return float(cands[best]), accs[best]


class EmbedJudge:
    """Sentence-embedding judge; ``embedder`` needs ``encode(texts) -> unit rows`` (default: MiniLM)."""

    name = "embed"

    def __init__(self, embedder: Any = None, calibration: Sequence[dict[str, Any]] | None = None) -> None:
        if embedder is None:
            from prefedit.preferences.embed import Embedder

            embedder = Embedder()
        self.embedder = embedder
        self._calibration = list(calibration) if calibration is not None else None
        self.threshold: float | None = None
        self.calibration_accuracy: float | None = None

    def scores(self, inputs: Sequence[JudgeInput]) -> list[float]:
        """Best cosine per input over (accepted target) x (answer, its sentences)."""
        chunks = [[x.answer, *[c for c in _SPLIT.split(x.answer) if c.strip()]] for x in inputs]
        texts = list(dict.fromkeys([t for c in chunks for t in c if t.strip()] + [t for x in inputs for t in x.accepted]))
        if not texts:
            return [0.0] * len(inputs)
        vec = dict(zip(texts, self.embedder.encode(texts), strict=True))
        out = []
        for x, ch in zip(inputs, chunks, strict=True):
            a = [vec[c] for c in ch if c.strip()]
            t = [vec[s] for s in x.accepted if s.strip()]
            out.append(float(np.max(np.stack(a) @ np.stack(t).T)) if a and t else 0.0)
        return out

    def calibrate(self) -> float:
        """Fit the threshold once (deterministic)."""
        if self.threshold is None:
            pairs = self._calibration if self._calibration is not None else load_calibration()
            sc = self.scores([JudgeInput(answer=p["answer"], accepted=(p["target"],)) for p in pairs])
            self.threshold, self.calibration_accuracy = best_threshold(sc, [int(p["label"]) for p in pairs])
        return self.threshold

    def judge(self, inputs: Sequence[JudgeInput]) -> list[bool | None]:
        threshold = self.calibrate()
        return [s >= threshold for s in self.scores(inputs)]

    def info(self) -> dict[str, Any]:
        self.calibrate()
        return {"threshold": self.threshold, "calibration_accuracy": self.calibration_accuracy, "model": "all-MiniLM-L6-v2"}
