"""Per-index statistics of what "unrelated" and "dense" look like, stored in the manifest.

Two statistics of the corpus, computed at build time, travel with the index:

* the *noise ceiling*: a fixed set of trivia questions that no sensible corpus
  answers is asked against the index; the 95th percentile of their best scores;
* the *neighbour density*: how similar a sentence of this corpus is to its
  nearest other sentence (10th percentile).

They no longer set the refusal threshold. Both depend on the corpus: the noise
ceiling rises with the breadth of a text (a speech touches cars, prices and
energy, so trivia probes score 0.41 on it), and both move when unrelated
documents join the index. A threshold built on them refused answerable
questions on broad texts and changed answers when documents were added. The bot
now refuses on one bar of the model's cosine (``Settings.min_score``), chosen
leave-one-document-out on the development documents (docs/quality.md); these
statistics stay in the manifest as diagnostics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Mapping

import numpy as np

from .embedding import TextEmbedder

__all__ = ["Calibration", "PROBE_QUESTIONS", "UNCALIBRATED_NOISE", "calibrate", "probe_scores"]

# The noise ceiling assumed for an index whose manifest holds no calibration (built before
# calibration existed, or by hand): a typical value for all-MiniLM-L6-v2 on a small text.
UNCALIBRATED_NOISE = 0.25


@dataclass(frozen=True)
class Calibration:
    """What "unrelated" looks like for one index and model; stored in the manifest as a dict."""

    noise_p95: float  # 95th percentile of the probe questions' best scores
    neighbour_p10: float | None = None  # None: too few sentences to measure the density
    method: str = "probe-questions-v1"
    probes: int = 0
    noise_mean: float = 0.0
    noise_std: float = 0.0
    noise_max: float = 0.0

    def to_dict(self) -> dict:
        """The manifest's form (its keys are the field names)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibration:
        """Read a manifest's calibration; an index without one gets ``UNCALIBRATED_NOISE`` and no density."""
        if data.get("noise_p95") is None:
            return cls(noise_p95=UNCALIBRATED_NOISE, method="none")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


PROBE_QUESTIONS: tuple[str, ...] = (
    "Who won the football world cup in 2014?",
    "What is the capital city of Australia?",
    "How do I bake sourdough bread at home?",
    "What is the best smartphone to buy this year?",
    "How many moons does Jupiter have?",
    "Who painted the Mona Lisa?",
    "What is the exchange rate between the euro and the dollar?",
    "How do I change a flat tyre on my bicycle?",
    "What time does the train to London leave?",
    "Recommend a good science fiction novel.",
    "How do I install Python on Windows?",
    "What is the tallest mountain in Africa?",
    "How long should I boil an egg?",
    "Who wrote the play Hamlet?",
    "What is the population of Brazil?",
    "How do airplanes stay in the air?",
    "What is the weather forecast for tomorrow?",
    "How do I train my puppy to sit?",
    "What are the rules of chess castling?",
    "Which band released the album Abbey Road?",
    "How do I reset my router password?",
    "What is the speed of light in a vacuum?",
    "When did the Roman Empire fall?",
    "How do I grow tomatoes on a balcony?",
    "What is a good name for a cat?",
    "How much does a used car cost?",
    "Which planet is closest to the sun?",
    "How do I write a cover letter for a job?",
    "What is the plot of the movie Titanic?",
    "How many calories are in a banana?",
    "How do I knit a scarf?",
    "What is bitcoin mining?",
    "Who is the fastest runner in history?",
    "How do volcanoes form?",
    "What language is spoken in Brazil?",
    "How do I make a paper airplane?",
    "What is the difference between a violin and a viola?",
    "How often should I water a cactus?",
    "What are the opening hours of the museum?",
    "How do solar panels generate electricity?",
)


def probe_scores(embedder: TextEmbedder, corpus_vectors: np.ndarray) -> np.ndarray:
    """Best cosine of each probe question against the corpus vectors."""
    if len(corpus_vectors) == 0:
        return np.zeros(len(PROBE_QUESTIONS), dtype=np.float32)
    probes = embedder.encode(list(PROBE_QUESTIONS))
    return (probes @ np.asarray(corpus_vectors, dtype=np.float32).T).max(axis=1)


# Below this many sentences the neighbour statistic says little; only the noise ceiling is used.
MIN_SENTENCES_FOR_DENSITY = 30
# Sentences compared pairwise for the neighbour statistic (a sample above this).
DENSITY_SAMPLE = 4000


def neighbour_p10(sentence_vectors: np.ndarray, seed: int = 0) -> float | None:
    """10th percentile of each sentence's similarity to its nearest other sentence."""
    n = len(sentence_vectors)
    if n < MIN_SENTENCES_FOR_DENSITY:
        return None
    if n > DENSITY_SAMPLE:
        sentence_vectors = sentence_vectors[np.random.default_rng(seed).choice(n, DENSITY_SAMPLE, replace=False)]
    vectors = np.asarray(sentence_vectors, dtype=np.float32)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    return float(np.quantile(similarity.max(axis=1), 0.10))


def calibrate(
    embedder: TextEmbedder, corpus_vectors: np.ndarray, sentence_vectors: np.ndarray | None = None
) -> Calibration:
    """Noise and density statistics of this corpus for this model, stored in the manifest."""
    scores = probe_scores(embedder, corpus_vectors)
    density = neighbour_p10(sentence_vectors) if sentence_vectors is not None else None
    return Calibration(
        noise_p95=round(float(np.quantile(scores, 0.95)), 4),
        neighbour_p10=None if density is None else round(density, 4),
        probes=len(scores),
        noise_mean=round(float(scores.mean()), 4),
        noise_std=round(float(scores.std()), 4),
        noise_max=round(float(scores.max()), 4),
    )
