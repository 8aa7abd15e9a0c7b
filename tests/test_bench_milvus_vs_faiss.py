"""The Milvus-vs-FAISS benchmark runs end to end at a tiny size (its numbers belong in docs, not here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.milvus_vs_faiss import exact_top_k, main, synthetic_vectors

pytestmark = pytest.mark.slow  # benchmarks and Milvus Lite: run with -m slow, left out of the fast tier


def test_synthetic_vectors_are_unit_length_and_repeatable() -> None:
    a, b = synthetic_vectors(3_000, dim=32, block=1_000), synthetic_vectors(3_000, dim=32, block=1_000)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_exact_top_k_matches_a_full_sort_across_blocks() -> None:
    vectors = synthetic_vectors(2_500, dim=16)
    queries = vectors[:7]
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    assert np.array_equal(exact_top_k(vectors, queries, 5, block=600), expected)


def test_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--queries", "20", "--json", str(out), "--workdir", str(tmp_path)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    results = {r["store"]: r for r in report["results"]}
    assert set(results) == {"FAISS", "Milvus Lite"}
    for result in results.values():
        assert result["status"] == "ok" and result["n"] == 2_000 and result["index_type"] == "flat"
        # exact search: the reference top 10, up to near-ties at 10th place (scores within 1e-5 count as ties)
        assert result["recall_at_10"] >= 0.99
        assert 0 < result["p50_ms"] <= result["p95_ms"]
        assert result["queries"] == 20
