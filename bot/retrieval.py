"""Question -> scored candidate chunks: dense search fused with BM25.

The dense side asks the store for the nearest chunks; the lexical side scores
the same chunks with BM25 (``bm25s``), which rescues questions that share a rare
word with the answer but not its phrasing. Scores are fused as
``dense + lexical_weight * bm25 / max_bm25``, so the dense cosine stays the
backbone (and abstention can reason about it) while words break ties. A "What
is X?" question gives a small bonus to passages that state what X is: a
bi-encoder ranks any sentence full of the same words about as high as the
definition itself.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from indexer.chunking import Chunk
from indexer.embedding import TextEmbedder
from indexer.store import VectorStore

__all__ = ["Candidate", "LexicalIndex", "Retriever", "contextualize", "defined_term", "defines"]


@dataclass(frozen=True)
class Candidate:
    chunk: Chunk
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score scaled to [0, 1] within this question's candidates
    score: float  # the fused score used for ranking


class LexicalIndex:
    """BM25 over chunk texts (with their headings), stemmed, English stopwords removed."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG when imported, which prints on every index build.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25s = bm25s
        self._stemmer = _make_stemmer()
        self.position = {c.id: i for i, c in enumerate(chunks)}
        self._model = None
        corpus = [c.embed_text for c in chunks]
        if corpus:
            tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self._stemmer, show_progress=False)
            self._model = bm25s.BM25()
            self._model.index(tokens, show_progress=False)

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every chunk for ``query`` (``None`` when the query has no indexed word)."""
        if self._model is None:
            return None
        tokens = self._bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)[0]
        vocab = self._model.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return None
        return np.asarray(self._model.get_scores(known), dtype=np.float32)


def _make_stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWords
    except ImportError:  # PyStemmer is a dependency; without it BM25 still works on surface forms
        return None


# A question that leans on the one before: it opens by continuing it, or points back at it.
# A bare "how"/"why" opens self-contained questions as often ("How many mg should I take?").
_FOLLOW_UP = re.compile(
    r"^(and|but|also|so|what about|how about|and what|what else|tell me more)\b|\b(it|its|they|them|their|this|that|these|those|there)\b",
    re.IGNORECASE,
)
# How many earlier questions a chain of follow-ups may reach back through.
_CONTEXT_DEPTH = 3


def contextualize(question: str, history: Sequence[str] | None, depth: int = _CONTEXT_DEPTH) -> str:
    """Read a short follow-up in the light of the previous question.

    "What about treatment?" after "What causes cramps?" is searched as
    "What causes cramps? What about treatment?"; a self-contained question is left alone.
    The previous question is itself read in the light of the one before it, so a chain
    ("How do I stop a cramp?" / "and what causes them?" / "what about at night?") keeps its topic.
    """
    earlier = [h for h in history or () if h and h.strip()]
    if not earlier or depth <= 0:
        return question
    words = question.split()
    if len(words) <= 4 or (len(words) <= 8 and _FOLLOW_UP.search(question)):
        previous = contextualize(earlier[-1].strip(), earlier[:-1], depth - 1)
        return f"{previous} {question}"
    return question
    previous = next((h for h in reversed(history) if h and h.strip()), "")
    words = question.split()
    if previous and (len(words) <= 4 or (len(words) <= 8 and _FOLLOW_UP.search(question))):
        return f"{previous.strip()} {question}"
    return question


_DEFINITION_QUESTION = re.compile(
    r"^\s*(?:what(?:'s| is| are)|define|definition of|meaning of)\s+(?:an?\s+|the\s+)?(?P<term>[\w' -]{2,60}?)\s*\??\s*$",
    re.IGNORECASE,
)


def defined_term(question: str) -> str | None:
    """The term a "What is X?" question asks to define, or ``None`` for other questions."""
    match = _DEFINITION_QUESTION.match(question)
    return match.group("term").strip().lower() if match else None


def defines(text: str, term: str) -> bool:
    """Whether ``text`` states what ``term`` is ("X is ...", "X (also called Y) is ...", "X refers to ...")."""
    stem = re.escape(term.rstrip("s"))
    pattern = rf"\b{stem}s?\b(?:\s*\([^)]*\))?\s+(?:is|are|refers? to|means?)\b"
    return re.search(pattern, text, re.IGNORECASE) is not None


class Retriever:
    """Holds the store, the model and the lexical index; ``retrieve`` is safe to call from many threads."""

    def __init__(
        self,
        store: VectorStore,
        embedder: TextEmbedder,
        *,
        candidates: int = 40,
        lexical_weight: float = 0.15,
        definition_bonus: float = 0.05,
        use_lexical: bool = True,
        lexical_max_chunks: int = 2_000_000,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.lexical_weight = lexical_weight
        self.definition_bonus = definition_bonus
        self.use_lexical = use_lexical
        self.lexical_max_chunks = lexical_max_chunks
        self._lexical: LexicalIndex | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model, the index (and its GPU copy, when searching there) and the lexical index
        now rather than on the first question."""
        vector = self.embedder.encode(["warm up"])
        self.store.search(vector, 1)
        self.lexical()

    def lexical(self) -> LexicalIndex | None:
        if not self.use_lexical:
            return None
        with self._lock:
            if self._lexical is None and self.store.count() <= self.lexical_max_chunks:
                self._lexical = LexicalIndex(self.store.all_chunks())
            return self._lexical

    def known_ids(self) -> dict[str, int] | None:
        """The ids of every chunk in the store (from the lexical index), or ``None`` when not at hand."""
        lexical = self.lexical()
        return lexical.position if lexical is not None else None

    def reset(self) -> None:
        """Drop derived state after the store changed (documents added or removed)."""
        with self._lock:
            self._lexical = None

    def embed(self, query: str) -> np.ndarray:
        return self.embedder.encode([query])[0]

    def retrieve(self, query: str, query_vector: np.ndarray | None = None) -> list[Candidate]:
        """Candidates for ``query``, best first by fused score."""
        vector = self.embed(query) if query_vector is None else query_vector
        hits = self.store.search(vector[None, :], self.candidates)[0]
        if not hits:
            return []
        lexical = self.lexical()
        bm25 = lexical.scores(query) if lexical is not None else None
        if bm25 is not None:
            raw = np.array([bm25[lexical.position[h.chunk.id]] if h.chunk.id in lexical.position else 0.0 for h in hits])
            top = float(bm25.max())
            scaled = raw / top if top > 0 else np.zeros_like(raw)
        else:
            scaled = np.zeros(len(hits))
        term = defined_term(query)
        fused = [
            Candidate(
                h.chunk,
                h.score,
                float(s),
                h.score + self.lexical_weight * float(s) + (self.definition_bonus if term and defines(h.chunk.text, term) else 0.0),
            )
            for h, s in zip(hits, scaled)
        ]
        fused.sort(key=lambda c: c.score, reverse=True)
        return fused
