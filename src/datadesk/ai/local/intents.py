"""What a question asks: a nearest-neighbour classifier over example phrasings (local/examples.py).

A question's named things are masked first (X, Y, T, P), so "who owns invoices" and "who is responsible
for the subscriptions table" look alike. Two views of similarity are blended: sentence embeddings (meaning,
paraphrase) when the model is installed, and character n-grams (typos, word order around X), which also
serve alone without the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from datadesk.ai.local.examples import EXAMPLES
from datadesk.embedding import Embedder, embedder

NGRAMS = (2, 3, 4)
# "the X dashboard" and "X" ask the same: the kind word after a named thing only chose which thing it is.
_KIND_AFTER_NAME = re.compile(r"\b([XYZW]) (?:table|view|dashboard|model|term|document|doc|report)\b")
NEIGHBOURS = 3
EMBEDDING_WEIGHT = 0.6


@dataclass(frozen=True)
class Guess:
    intent: str
    score: float
    runner_up: str
    margin: float


class _CharNgrams:
    """TF-IDF over character n-grams of the padded text, unit length."""

    def __init__(self, texts: list[str]) -> None:
        grams = [self._grams(t) for t in texts]
        self.index: dict[str, int] = {}
        for found in grams:
            for gram in found:
                self.index.setdefault(gram, len(self.index))
        df = np.zeros(len(self.index), dtype=np.float32)
        for found in grams:
            for gram in set(found):
                df[self.index[gram]] += 1
        self.idf = np.log((1 + len(texts)) / (1 + df)) + 1
        self.matrix = np.stack([self.vector(t) for t in texts])

    @staticmethod
    def _grams(text: str) -> list[str]:
        padded = f" {' '.join(text.lower().split())} "
        return [padded[i : i + n] for n in NGRAMS for i in range(len(padded) - n + 1)]

    def vector(self, text: str) -> np.ndarray:
        v = np.zeros(len(self.index), dtype=np.float32)
        for gram in self._grams(text):
            i = self.index.get(gram)
            if i is not None:
                v[i] += 1
        v *= self.idf
        return v / max(float(np.linalg.norm(v)), 1e-9)


class IntentModel:
    def __init__(self, model: Embedder | None) -> None:
        self.labels = [intent for intent, phrases in EXAMPLES.items() for _ in phrases]
        self.texts = [fold(phrase) for phrases in EXAMPLES.values() for phrase in phrases]
        self.rows = {i: np.array([n for n, label in enumerate(self.labels) if label == i]) for i in EXAMPLES}
        self.chars = _CharNgrams(self.texts)
        self.model = model
        self.vectors = model.embed(self.texts) if model is not None else None

    def classify(self, masked: str) -> Guess:
        return self._classify(fold(masked))

    @lru_cache(maxsize=512)  # noqa: B019 - one model per process; a question's steps classify the same text
    def _classify(self, masked: str) -> Guess:
        similarity = self.chars.matrix @ self.chars.vector(masked)
        if self.model is not None and self.vectors is not None:
            meaning = self.vectors @ self.model.embed([masked])[0]
            similarity = EMBEDDING_WEIGHT * meaning + (1 - EMBEDDING_WEIGHT) * similarity
        # The mean of an intent's few nearest examples: one stray look-alike does not decide.
        scores = []
        for intent, rows in self.rows.items():
            nearest = np.sort(similarity[rows])[-NEIGHBOURS:]
            scores.append((float(nearest.mean()), intent))
        scores.sort(reverse=True)
        (best, intent), (second, runner_up) = scores[0], scores[1]
        return Guess(intent, best, runner_up, best - second)


def fold(text: str) -> str:
    """The kind word right after a masked name dropped: "who owns the X dashboard" reads as "who owns the X"."""
    return _KIND_AFTER_NAME.sub(r"\1", text)


@lru_cache(maxsize=1)
def model() -> IntentModel:
    return IntentModel(embedder())
