"""The development benchmark's arithmetic: the refusal bar fitted and held out by document, set discovery."""

from __future__ import annotations

import pytest

from bench.devsets import discover_sets, mixed_documents
from bench.quality import fit_threshold, held_out, mean_row
from bot.evaluation import EvalItem, ItemResult, summarize


def _set(answerable: list[float], unanswerable: list[float]):
    items = [EvalItem(f"a{i}", ("x",)) for i in range(len(answerable))] + [
        EvalItem(f"u{i}", ()) for i in range(len(unanswerable))
    ]
    return items, answerable + unanswerable


def test_the_bar_is_the_lowest_answerable_score_of_the_strictest_document():
    by_doc = {"a": _set([0.5, 0.6, 0.7], [0.2, 0.55]), "b": _set([0.4, 0.8], [0.45])}
    assert fit_threshold(by_doc) == pytest.approx(0.4)  # refusing under 0.4 refuses no answerable question anywhere
    # allowing a share of wrong refusals lets the bar rise past that many of each document's lowest scores
    assert fit_threshold({"a": _set([0.1, 0.5, 0.6, 0.7], [])}, max_wrong=0.25) == pytest.approx(0.5)


def test_each_document_gets_the_bar_of_the_others():
    by_doc = {"a": _set([0.5], []), "b": _set([0.3], []), "c": _set([0.6], [])}
    assert held_out(by_doc) == {"a": pytest.approx(0.3), "b": pytest.approx(0.5), "c": pytest.approx(0.3)}


def test_mean_over_documents_skips_kinds_a_document_has_none_of():
    near = ItemResult(EvalItem("n", (), kind="near"), True, None, (), 0.0)
    answered = ItemResult(EvalItem("q", ("x",)), False, 1, (10,), 0.0, 1)
    with_near, without = summarize([answered, near]), summarize([answered])
    means = mean_row([with_near, without])
    assert means["near_abstained"] == pytest.approx(1.0) and means["far_abstained"] is None
    assert means["hit_at_1"] == pytest.approx(1.0)


def test_sets_are_found_and_named_and_unknown_names_are_refused():
    sets = discover_sets()
    slugs = [s.slug for s in sets]
    assert slugs[:2] == ["muscle", "constitution"] and len(slugs) == len(set(slugs))
    assert all(s.questions.exists() and s.corpus.is_dir() for s in sets)
    assert [s.slug for s in discover_sets(only=["muscle"])] == ["muscle"]
    with pytest.raises(ValueError, match="no development set named nope"):
        discover_sets(only=["nope"])


def test_the_mixed_corpus_names_every_document_after_its_set(tmp_path):
    sets = discover_sets(only=["muscle", "constitution"])
    documents = {s.slug: s.documents() for s in sets}
    mixed = mixed_documents(sets, documents)
    assert [d.name for d in mixed] == [f"{s.slug}/{d.name}" for s in sets for d in documents[s.slug]]
    assert [d.text for d in mixed] == [d.text for s in sets for d in documents[s.slug]]


def test_the_benchmark_embeds_documents_as_the_indexer_does_and_keeps_them_on_disk(tmp_path):
    """Under onnx-int8 the app embeds documents with the fp32 export (``encode_documents``) and
    questions with int8 (``encode``); a benchmark that used ``encode`` for both measured another bot."""
    import numpy as np

    from bench.devsets import CachingEmbedder

    class TwoPaths:
        name, dimension = "two-paths", 2

        def __init__(self):
            self.documents, self.questions = [], []

        def encode(self, texts, *, show_progress=False):
            self.questions += texts
            return np.array([[0.0, 1.0]] * len(texts), dtype=np.float32)

        def encode_documents(self, texts, *, show_progress=False):
            self.documents += texts
            return np.array([[1.0, 0.0]] * len(texts), dtype=np.float32)

    inner = TwoPaths()
    cached = CachingEmbedder(inner, memo_dir=tmp_path, backend="b")
    assert cached.encode_documents(["a chunk", "a chunk", "another"]).tolist() == [[1, 0], [1, 0], [1, 0]]
    assert cached.encode(["a chunk"]).tolist() == [[0, 1]], "a question is embedded as a question"
    assert inner.documents == ["a chunk", "another"] and inner.questions == ["a chunk"]
    cached.save()
    again = CachingEmbedder(TwoPaths(), memo_dir=tmp_path, backend="b")
    assert again.encode_documents(["another"]).tolist() == [[1, 0]] and again.inner.documents == [], "read from disk"
