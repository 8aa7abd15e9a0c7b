"""A tiny deterministic embedder for fast tests: hashed bag of stemmed words.

Texts that share words get similar vectors, which is enough to test retrieval,
abstention and deduplication without loading a real model.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the is are was of to in on and or what how why do does can i my it for with be".split())


class FakeEmbedder:
    def __init__(self, dimension: int = 64, name: str = "fake-hash-64") -> None:
        self._dimension = dimension
        self.name = name
        self.calls = 0  # encode calls
        self.texts_encoded = 0  # texts embedded, across calls

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            if word in _STOP:
                continue
            stem = word[:5]
            h = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8).digest(), "little")
            v[h % self._dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0:
            v[0] = 1.0  # a fixed direction for texts with no content words
            return v
        return v / norm

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])
