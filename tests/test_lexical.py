"""The lexical side scores a question exactly as bm25s's own tokenizer and ``get_scores`` would:
same tokens, same BM25 weights, same float32 sums (it only skips their per-call overhead)."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np
import pytest

from bot.retrieval import LexicalIndex
from indexer.chunking import chunk_text

ROOT = Path(__file__).resolve().parent.parent
EDGE_QUESTIONS = [
    "",
    "the and of",  # stopwords only
    "cramp cramp cramps CRAMPING",  # repeats add up, in order
    "What is a muscle spasm?",
    "Naïve résumé: café über 42 x1 a",  # accents, digits, one-letter words
    "Congress Congress shall make no law",
    "zzzqqq unknownword",  # no indexed word
    "肌肉痉挛 is what?",
]


def _chunks():
    texts = {
        "muscle_spasms.txt": (ROOT / "corpus" / "muscle_spasms.txt").read_text(encoding="utf-8"),
        "us_constitution.txt": (ROOT / "eval" / "constitution" / "us_constitution.txt").read_text(encoding="utf-8"),
    }
    return [c for name, text in texts.items() for c in chunk_text(text, name)]


def _questions() -> list[str]:
    lines = [
        line
        for name in ("muscle_spasms.jsonl", "us_constitution.jsonl")
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [json.loads(line)["q"] for line in lines] + EDGE_QUESTIONS


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex(_chunks())


def _reference_scores(index: LexicalIndex, question: str) -> np.ndarray | None:
    """What the scores were before: bm25s.tokenize on the one question, then BM25.get_scores."""
    tokens = bm25s.tokenize([question], stopwords="en", stemmer=index._stemmer, return_ids=False, show_progress=False)
    known = [t for t in tokens[0] if t in index._model.vocab_dict]
    return np.asarray(index._model.get_scores(known), dtype=np.float32) if known else None


def test_question_tokens_are_bm25s_tokens(lexical):
    for question in _questions():
        expected = bm25s.tokenize(
            [question], stopwords="en", stemmer=lexical._stemmer, return_ids=False, show_progress=False
        )[0]
        assert lexical.tokens(question) == list(expected), question


def test_scores_are_bm25s_scores_bit_for_bit(lexical):
    questions = _questions()
    assert len(questions) > 150
    scored = 0
    for question in questions:
        ours, reference = lexical.scores(question), _reference_scores(lexical, question)
        if reference is None:
            assert ours is None, question
            continue
        scored += 1
        assert ours.dtype == np.float32 and ours.shape == (len(lexical.position),)
        assert np.array_equal(ours, reference), question
    assert scored > 150


def test_a_bm25s_without_the_expected_weights_layout_falls_back_to_its_own_scores(monkeypatch):
    """Another bm25s version may keep its weights elsewhere: the index still builds and scores with bm25s."""
    indexed = bm25s.BM25.index

    def index_elsewhere(self, *args, **kwargs):
        indexed(self, *args, **kwargs)
        del self.scores

    monkeypatch.setattr(bm25s.BM25, "index", index_elsewhere)
    monkeypatch.setattr(bm25s.BM25, "get_scores", lambda self, ids: np.full(7, float(len(ids)), dtype=np.float32))
    index = LexicalIndex(_chunks())
    question = "muscle cramps cramps"
    known = [t for t in index.tokens(question) if t in index._model.vocab_dict]
    assert len(known) == 3
    assert np.array_equal(index.scores(question), np.full(7, 3.0, dtype=np.float32))


def test_an_empty_index_scores_nothing():
    assert LexicalIndex([]).scores("muscle cramps") is None


def _numpy_scaled(index: LexicalIndex, question: str, positions: list[int]) -> list[float] | None:
    """What retrieval computed before ``scaled``: numpy over every chunk's score."""
    bm25 = index.scores(question)
    if bm25 is None:
        return None
    if -1 in positions:
        raw = np.array([bm25[p] if p >= 0 else 0.0 for p in positions])
    else:
        raw = bm25[positions]
    top = float(bm25.max())
    return (raw / top).tolist() if top > 0 else [0.0] * len(positions)


@pytest.mark.parametrize("missing", [False, True])
def test_scaled_scores_are_numpys_to_the_bit(lexical, missing):
    """The Python sums over the postings give numpy's float32 values exactly, with a chunk the
    index lacks (float64 quotients) or without (float32 ones)."""
    rng = np.random.default_rng(7)
    count = len(lexical.position)
    for question in _questions():
        positions = rng.choice(count, size=40, replace=False).tolist()
        if missing:
            positions[int(rng.integers(40))] = -1
        ours, reference = lexical.scaled(question, positions), _numpy_scaled(lexical, question, positions)
        assert ours == reference, question  # list equality of floats: bit for bit (no NaN here)
        if ours is not None:
            assert lexical._postings(lexical._token_ids(question)) is not None  # the Python sums were used


def test_scaled_scores_fall_back_to_numpy_on_long_posting_lists(lexical, monkeypatch):
    import bot.retrieval as retrieval

    monkeypatch.setattr(retrieval, "_PYTHON_SUMS_MAX_POSTINGS", 0)
    positions = list(range(40))
    question = "What is a muscle spasm?"
    assert lexical._postings(lexical._token_ids(question)) is None
    assert lexical.scaled(question, positions) == _numpy_scaled(lexical, question, positions)


def test_token_ids_are_the_vocabulary_ids_of_the_tokens(lexical):
    """Words looked up once and kept give the ids of ``tokens``, asked cold or warm, in order."""
    vocab = lexical._model.vocab_dict
    for _ in range(2):  # the second pass reads the kept ids
        for question in _questions():
            expected = [vocab[t] for t in lexical.tokens(question) if t in vocab]
            assert lexical._token_ids(question) == expected, question
