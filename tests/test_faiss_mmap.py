"""Large indexes load memory-mapped, and a mapped index answers exactly like one read into RAM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import indexer.stores.faiss as faiss_store
from indexer.build import build_corpus
from indexer.stores.faiss import FaissStore, build_faiss_index, choose_index_type, faiss_read_flags

faiss = pytest.importorskip("faiss", reason="faiss-cpu is a core dependency; this environment lacks it")


def test_small_files_are_read_and_large_ones_mapped_read_only() -> None:
    assert faiss_read_flags(1024) == 0
    flags = faiss_read_flags(faiss_store.MMAP_ABOVE_BYTES + 1)
    assert flags & faiss.IO_FLAG_READ_ONLY
    assert flags & getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP)


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf-sq8"])
def test_mapped_index_gives_the_same_results(tmp_path: Path, index_type: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_faiss_index(vectors, index_type)
    path = tmp_path / "index.faiss"
    faiss.write_index(index, str(path))
    mapped = faiss.read_index(str(path), faiss_read_flags(10**12))
    expected = index.search(vectors[:10], 5)[1]
    assert np.array_equal(mapped.search(vectors[:10], 5)[1], expected)


def test_store_loads_a_large_index_mapped_and_searches_it(
    tmp_path: Path, small_corpus: Path, fake_embedder, monkeypatch
) -> None:
    index_dir = tmp_path / "index"
    build_corpus(small_corpus, FaissStore(index_dir), fake_embedder)
    query = fake_embedder.encode(["leg cramp calf"])
    expected = [h.chunk.id for h in FaissStore(index_dir).search(query, 3)[0]]
    monkeypatch.setattr(faiss_store, "MMAP_ABOVE_BYTES", 0)  # every file counts as large now
    store = FaissStore(index_dir)
    assert [h.chunk.id for h in store.search(query, 3)[0]] == expected
    assert isinstance(store._load().vectors, np.memmap)


def test_index_type_is_exact_below_the_threshold_and_can_be_forced() -> None:
    assert choose_index_type(faiss_store.EXACT_BELOW - 1) == "flat"
    assert choose_index_type(faiss_store.EXACT_BELOW) == faiss_store.APPROXIMATE
    assert choose_index_type(10, "ivf-sq8") == "ivf-sq8"


def test_above_the_threshold_auto_picks_ivf_sq8_and_indexes_get_the_tuned_search_knobs() -> None:
    assert choose_index_type(faiss_store.EXACT_BELOW) == "ivf-sq8"
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((4000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_faiss_index(vectors, "ivf-sq8")
    assert index.nprobe == min(index.nlist, faiss_store.IVF_NPROBE)
    hnsw = build_faiss_index(vectors, "hnsw")
    assert hnsw.hnsw.efSearch == faiss_store.HNSW_EF_SEARCH
