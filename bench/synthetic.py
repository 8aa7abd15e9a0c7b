"""Synthetic collections for the scale benchmark: clustered random unit vectors.

Uniform random vectors in 384 dimensions are a poor stand-in for text
embeddings: every point is almost equally far from every other, so approximate
search looks either useless or (with few points) trivially exact. Real embeddings
crowd into topics and sub-topics. The generator below draws a hierarchy (topic
centre, sub-topic offset, per-passage noise), then normalises, so that nearest
neighbours are meaningfully nearer than the rest but not duplicates. Queries are
data points pushed off by noise, the way a question lands near, not on, its answer.

The vectors are generated, not embedded: the figures measure the index, not the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticSpec", "clustered_unit_vectors", "queries_near", "unit_rows"]


@dataclass(frozen=True)
class SyntheticSpec:
    """Shape of the synthetic collection.

    The defaults were tuned so that similarities look like MiniLM's on the eval
    sets: a query's best match scores about 0.6 and its tenth about 0.4, a
    passage's nearest neighbour about 0.65 (docs/performance.md has the comparison).
    """

    dim: int = 384
    points_per_topic: int = 2_000
    subtopics_per_topic: int = 20
    subtopic_spread: float = 0.9  # norm of a sub-topic's offset from its topic centre
    noise: float = 1.1  # norm of a passage's own noise around its sub-topic
    query_noise: float = 1.4  # norm of the noise that moves a query off its data point


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32, in place where possible)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    x /= norms
    return x


def _random_directions(rng: np.random.Generator, n: int, dim: int, length: float) -> np.ndarray:
    """``n`` random vectors of norm ``length`` (directions uniform on the sphere)."""
    return unit_rows(rng.standard_normal((n, dim), dtype=np.float32)) * np.float32(length)


def clustered_unit_vectors(
    n: int, spec: SyntheticSpec | None = None, *, seed: int = 0, block: int = 100_000
) -> np.ndarray:
    """``n`` unit vectors, float32 ``(n, spec.dim)``, drawn topic by sub-topic; same seed, same vectors."""
    spec = spec or SyntheticSpec()
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    topics = max(1, -(-n // spec.points_per_topic))
    centres = _random_directions(rng, topics, spec.dim, 1.0)
    subs = centres.repeat(spec.subtopics_per_topic, axis=0) + _random_directions(
        rng, topics * spec.subtopics_per_topic, spec.dim, spec.subtopic_spread
    )
    out = np.empty((n, spec.dim), dtype=np.float32)
    for start in range(0, n, block):  # in blocks, so 1M points never need a second full-size temporary
        stop = min(start + block, n)
        which = rng.integers(0, len(subs), size=stop - start)
        out[start:stop] = subs[which] + _random_directions(rng, stop - start, spec.dim, spec.noise)
        unit_rows(out[start:stop])
    return out


def queries_near(data: np.ndarray, nq: int, spec: SyntheticSpec | None = None, *, seed: int = 1) -> np.ndarray:
    """``nq`` unit query vectors, each a random data point moved off by ``spec.query_noise``."""
    spec = spec or SyntheticSpec()
    if len(data) == 0:
        raise ValueError("cannot draw queries near an empty collection")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(data), size=nq)
    return unit_rows(data[picks] + _random_directions(rng, nq, data.shape[1], spec.query_noise))
