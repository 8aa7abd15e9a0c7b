"""Exact search with torch (the GPU path, run here on the CPU) agrees with FAISS."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.build import build_corpus
from indexer.stores.faiss import FaissStore
from indexer.torch_search import TorchExactSearch, search_device_for
from tests.fakes import FakeEmbedder


def _unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _faiss_flat(corpus: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(corpus)
    return flat.search(queries, k)


def test_torch_exact_search_returns_what_faiss_flat_returns():
    corpus, queries = _unit_vectors(2000, 64, 1), _unit_vectors(20, 64, 2)
    want_scores, want_rows = _faiss_flat(corpus, queries, 10)
    scores, rows = TorchExactSearch(corpus, "cpu").search(queries, 10)
    assert rows.shape == want_rows.shape == (20, 10) and rows.dtype == np.int64
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_k_larger_than_the_collection_returns_every_row():
    scores, rows = TorchExactSearch(_unit_vectors(5, 8, 3), "cpu").search(_unit_vectors(2, 8, 4), 40)
    assert rows.shape == (2, 5) and sorted(rows[0]) == [0, 1, 2, 3, 4]


def test_faiss_store_searching_with_torch_gives_the_same_hits(small_corpus, tmp_path):
    build_corpus(small_corpus, FaissStore(tmp_path / "index"), FakeEmbedder())
    cpu_faiss, torch_path = FaissStore(tmp_path / "index"), FaissStore(tmp_path / "index", search_device="cpu")
    questions = FakeEmbedder().encode(["What is a leg cramp?", "How much sleep do adults need?", "magnesium"])
    for want, got in zip(cpu_faiss.search(questions, 5), torch_path.search(questions, 5)):
        assert [h.chunk.id for h in got] == [h.chunk.id for h in want]
        assert [round(h.score, 4) for h in got] == [round(h.score, 4) for h in want]


def test_search_runs_on_the_gpu_only_when_the_model_does():
    import torch

    assert search_device_for("cpu") is None
    assert search_device_for("cuda", backend="onnx-int8") is None  # ONNX Runtime runs on the CPU here
    assert search_device_for("cuda") == "cuda"
    assert search_device_for(None) == ("cuda" if torch.cuda.is_available() else None)


@pytest.mark.skipif(
    "not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU (fp16 search on the device)"
)
def test_fp16_search_on_the_gpu_finds_the_exact_neighbours():
    corpus, queries = _unit_vectors(20000, 384, 5), _unit_vectors(50, 384, 6)
    _, want = _faiss_flat(corpus, queries, 10)
    _, rows = TorchExactSearch(corpus, "cuda").search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, want)])
    assert recall >= 0.99
