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
import operator
import re
import threading
from array import array
from typing import Collection, Iterable, NamedTuple, Sequence

import numpy as np

from indexer.chunking import Chunk
from indexer.embedding import TextEmbedder
from indexer.stores import VectorStore

__all__ = ["Candidate", "LexicalIndex", "Retriever", "contextualize", "defined_term", "defines", "is_follow_up"]


class Candidate(NamedTuple):
    """One chunk as retrieval scored it. A named tuple rather than a frozen dataclass: every
    question makes some 40 of them, and a frozen dataclass's ``__init__`` costs 2.5 times as
    much (one ``object.__setattr__`` per field)."""

    chunk: Chunk
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score scaled to [0, 1] within this question's candidates
    score: float  # the fused score used for ranking


class LexicalIndex:
    """BM25 over chunk texts (with their headings), stemmed, English stopwords removed.

    A question is tokenised and scored here rather than through ``bm25s.tokenize`` and
    ``BM25.get_scores``, which cost ten times more per question (progress-bar objects, a
    vocabulary built for one text, ``np.add.at``): the same tokens (bm25s's pattern,
    lower case, its English stopwords, then the stemmer) and the same float32 sums of
    the same precomputed BM25 weights, token by token, so the scores are identical.
    """

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s
        from bm25s.stopwords import STOPWORDS_EN

        # bm25s sets its own logger to DEBUG when imported, which prints on every index build.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._stemmer = _make_stemmer()
        self._stopwords = frozenset(STOPWORDS_EN)
        self.position = {c.id: i for i, c in enumerate(chunks)}
        self._ids = [c.id for c in chunks]  # the store's own id strings, by position
        self._model = None
        corpus = [c.embed_text for c in chunks]
        if corpus:
            tokens = bm25s.tokenize(corpus, stopwords=STOPWORDS_EN, stemmer=self._stemmer, show_progress=False)
            self._model = bm25s.BM25()
            self._model.index(tokens, show_progress=False)
            self._indptr: list[int] | None = None
            self._posting_lists: dict[int, tuple[array, array]] = {}
            self._word_ids: dict[str, int] = {}  # a question's word -> its vocabulary id, -1 if none
            try:
                weights = self._model.scores  # a CSC matrix: token id -> (chunk rows, BM25 weights)
                self._rows, self._weights = weights["indices"], weights["data"]
                self._chunk_count = int(weights["num_docs"])
                self._dtype = np.dtype(self._model.dtype)
                self._indptr = weights["indptr"].tolist()
            except (AttributeError, KeyError, TypeError):  # another bm25s layout: its own get_scores
                self._indptr = None

    def known(self, ids: Iterable[str]) -> tuple[str, ...]:
        """Those of ``ids`` that are chunks of the index, as the index's own string objects: a dict
        keyed by the store's chunk ids finds those by identity, without comparing their text
        (which, right after the model has run, means a cache miss per lookup)."""
        position, own = self.position, self._ids
        return tuple(own[position[i]] for i in ids if i in position)

    def tokens(self, query: str) -> list[str]:
        """The query's words as the index knows them: what ``bm25s.tokenize`` gives for one text."""
        words = [w for w in _BM25_TOKEN.findall(query.lower()) if w not in self._stopwords]
        return list(self._stemmer(words)) if self._stemmer is not None and words else words

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every chunk for ``query`` (``None`` when the query has no indexed word)."""
        ids = self._token_ids(query)
        return self._scores(ids) if ids else None

    def scaled(self, query: str, positions: Sequence[int]) -> list[float] | None:
        """``scores(query)`` of the chunks at ``positions`` (-1: a chunk the index lacks, scored 0.0)
        divided by the best score of any chunk, as the fusion weighs them; ``None`` when the
        query has no indexed word.

        Retrieval needs a few dozen of these, not every chunk's. On a small index the sums are
        made in plain Python over the query's postings: right after the model has run, each
        numpy call costs tens of microseconds (its code is out of the caches), more than the
        whole loop. The values are numpy's to the bit: float32 sums in the same order (an
        ``array("f")`` rounds each one to float32, and a float32 sum or quotient computed in
        float64 and rounded to float32 is the float32 result), the quotient in float32 as
        numpy takes a float32 array over a float, or in float64 when a chunk is missing (a
        float64 array, as numpy makes of float32 scores mixed with 0.0).
        """
        ids = self._token_ids(query)
        if not ids:
            return None
        postings = self._postings(ids)
        if postings is None:  # a large index or a frequent word: numpy over every chunk
            bm25 = self._scores(ids)
            if -1 in positions:
                raw = np.array([bm25[p] if p >= 0 else 0.0 for p in positions])
            else:
                raw = bm25[list(positions)]
            top = float(bm25.max())
            return (raw / top).tolist() if top > 0 else [0.0] * len(positions)
        sums = array("f", bytes(4 * self._chunk_count))
        touched: set[int] = set()
        for rows, weights in postings:  # in query order, repeats included, as in _scores
            for row, weight in zip(rows, weights):
                sums[row] += weight
            touched.update(rows)
        top = max(map(sums.__getitem__, touched), default=0.0)
        if len(touched) < self._chunk_count:  # chunks without a word of the query score 0.0
            top = max(top, 0.0)
        if not top > 0:
            return [0.0] * len(positions)
        if -1 in positions:
            return [sums[p] / top if p >= 0 else 0.0 for p in positions]
        return array("f", [sums[p] / top for p in positions]).tolist()

    def _token_ids(self, query: str) -> list[int]:
        """The vocabulary ids of ``tokens(query)`` that the index knows, in order, repeats included.

        A word's id depends on the word and the index only, so it is looked up once per word
        (stopword test, stemmer, vocabulary) and kept: questions reuse most of their words.
        """
        if self._model is None:
            return []
        known = self._word_ids  # never emptied while in use: a full one is replaced
        words = _BM25_TOKEN.findall(query.lower())
        fresh: dict[str, int] = {}
        missing = [w for w in dict.fromkeys(words) if w not in known]
        if missing:
            vocab = self._model.vocab_dict
            indexed = [w for w in missing if w not in self._stopwords]
            stems = self._stemmer(indexed) if self._stemmer is not None and indexed else indexed
            fresh = dict.fromkeys(missing, -1)  # stopwords, and words whose stem the index lacks
            fresh.update((w, vocab.get(t, -1)) for w, t in zip(indexed, stems))
            if len(known) > _WORD_IDS_KEPT:
                self._word_ids = dict(fresh)
            else:
                known.update(fresh)
        ids = [fresh[w] if w in fresh else known[w] for w in words]
        return [i for i in ids if i >= 0]

    def _scores(self, ids: list[int]) -> np.ndarray:
        if self._indptr is None or getattr(self._model, "nonoccurrence_array", None) is not None:
            return np.asarray(self._model.get_scores(ids), dtype=np.float32)  # BM25 variants that score absence
        scores = np.zeros(self._chunk_count, dtype=self._dtype)
        for token in ids:  # in query order, repeats included: bm25s's own order of float32 additions
            start, end = self._indptr[token], self._indptr[token + 1]
            scores[self._rows[start:end]] += self._weights[start:end]  # rows of one token are distinct
        return np.asarray(scores, dtype=np.float32)

    def _postings(self, ids: list[int]) -> list[tuple[array, array]] | None:
        """Each token's chunk rows and float32 weights as compact arrays (kept once made), or ``None``
        where ``_scores`` must do the sums: another bm25s layout or precision, a large index,
        or more postings than a loop beats numpy on."""
        indptr = self._indptr
        if (
            indptr is None
            or self._chunk_count > _PYTHON_SUMS_MAX_CHUNKS
            or self._dtype != np.float32
            or getattr(self._model, "nonoccurrence_array", None) is not None
            or sum(indptr[t + 1] - indptr[t] for t in ids) > _PYTHON_SUMS_MAX_POSTINGS
        ):
            return None
        lists = self._posting_lists
        if len(lists) > _POSTING_LISTS_KEPT:
            lists.clear()
        postings = []
        for token in ids:
            posting = lists.get(token)
            if posting is None:
                start, end = indptr[token], indptr[token + 1]
                rows, weights = array("q"), array("f")
                rows.frombytes(self._rows[start:end].astype(np.int64).tobytes())
                weights.frombytes(self._weights[start:end].astype(np.float32).tobytes())
                posting = lists[token] = (rows, weights)
            postings.append(posting)
        return postings


# Where ``LexicalIndex.scaled`` sums in Python rather than numpy: a loop over a few hundred
# postings takes microseconds; numpy's per-call cost only pays off on long posting lists.
_PYTHON_SUMS_MAX_CHUNKS = 100_000
_PYTHON_SUMS_MAX_POSTINGS = 4_096
_POSTING_LISTS_KEPT = 20_000  # tokens whose posting lists are kept as arrays
_WORD_IDS_KEPT = 100_000  # words of questions whose vocabulary id is kept


# bm25s.tokenize's default token pattern (scikit-learn's CountVectorizer).
_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _make_stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWords
    except ImportError:  # PyStemmer is a dependency; without it BM25 still works on surface forms
        return None


# A question that leans on the one before: it opens by continuing it ("and at night?", "what about
# treatment?"), points back at it ("is it permanent?"), or is a fragment with no question of its own
# ("in the shoulder?"). Anything else stands alone, however short: "What is spasticity?" after a
# question about ALS is a new topic, and searching it with the old one loses both.
_CONTINUES = re.compile(
    r"^(and|but|also|so|or|plus|then|what about|how about|what else|tell me more|same for)\b", re.IGNORECASE
)
_POINTS_BACK = re.compile(
    r"\b(it|its|they|them|their|theirs|this|these|those|such|he|she|him|her|his)\b", re.IGNORECASE
)
_ASKS = re.compile(
    r"^(what|what's|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"shall|may|might|must|has|have|had|tell|explain|describe|define|list|give|show)\b",
    re.IGNORECASE,
)
# How many earlier questions a chain of follow-ups may reach back through.
_CONTEXT_DEPTH = 3


def is_follow_up(question: str) -> bool:
    """Whether ``question`` needs the conversation to be understood (a real ellipsis)."""
    words = question.split()
    if _CONTINUES.search(question):
        return True
    if len(words) <= 8 and (
        _POINTS_BACK.search(question) or (len(words) <= 5 and re.search(r"\bthat\b", question, re.I))
    ):
        return True
    return len(words) <= 3 and not _ASKS.search(question)


def contextualize(question: str, history: Sequence[str] | None, depth: int = _CONTEXT_DEPTH) -> str:
    """Read a follow-up in the light of the previous question; a question that stands on its own is searched alone.

    "What about treatment?" after "What causes cramps?" is searched as
    "What causes cramps? What about treatment?"; "What is spasticity?" is searched as it is.
    The previous question is itself read in the light of the one before it, so a chain
    ("How do I stop a cramp?" / "and what causes them?" / "what about at night?") keeps its topic.
    """
    earlier = [h for h in history or () if h and h.strip()]
    if not earlier or depth <= 0 or not is_follow_up(question):
        return question
    previous = contextualize(earlier[-1].strip(), earlier[:-1], depth - 1)
    return f"{previous} {question}"


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
    return _definition_pattern(term).search(text) is not None


def _definition_pattern(term: str) -> re.Pattern[str]:
    """``defines``'s pattern for ``term``, compiled once per question rather than looked up per candidate."""
    stem = re.escape(term.rstrip("s"))
    return re.compile(rf"\b{stem}s?\b(?:\s*\([^)]*\))?\s+(?:is|are|refers? to|means?)\b", re.IGNORECASE)


_SCORE = operator.attrgetter("score")


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

    def retrieve(
        self, query: str, query_vector: np.ndarray | None = None, documents: Collection[str] | None = None
    ) -> list[Candidate]:
        """Candidates for ``query``, best first by fused score; only from ``documents`` when given."""
        vector = self.embed(query) if query_vector is None else query_vector
        chunks, dense = self._search(vector, documents)
        if not chunks:
            return []
        lexical = self.lexical()
        scaled = None
        if lexical is not None:
            position = lexical.position
            scaled = lexical.scaled(query, [position.get(c.id, -1) for c in chunks])
        if scaled is None:
            scaled = [0.0] * len(chunks)
        term = defined_term(query)
        defining = _definition_pattern(term) if term else None
        weight, bonus = self.lexical_weight, self.definition_bonus
        fused = [
            Candidate(c, d, s, d + weight * s + (bonus if defining is not None and defining.search(c.text) else 0.0))
            for c, d, s in zip(chunks, dense, scaled)
        ]
        fused.sort(key=_SCORE, reverse=True)
        return fused

    def _search(self, vector: np.ndarray, documents: Collection[str] | None) -> tuple[list[Chunk], list[float]]:
        """The store's nearest chunks and their cosines; within ``documents``, searched wider until
        enough of theirs come back (or the whole index has been seen), so a small chosen document
        is not crowded out."""
        if documents is None:
            return self.store.nearest(vector, self.candidates)
        wanted, n, total = set(documents), self.candidates, self.store.count()
        while True:
            chunks, scores = self.store.nearest(vector, n)
            kept = [(c, s) for c, s in zip(chunks, scores) if c.doc in wanted]
            if len(kept) >= self.candidates or n >= total:
                kept = kept[: self.candidates]
                return [c for c, _ in kept], [s for _, s in kept]
            n = min(total, n * 8)
