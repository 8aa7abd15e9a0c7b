"""The store seam: the contract imports no backend, and everything outside a store reaches its
files only through the contract (reload, discard, the writers' lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from indexer.build import build_corpus
from indexer.manage import discard_damaged_index, index_lock
from indexer.stores import INDEX_TYPES, VectorStore, check_index_type, open_store
from indexer.stores.faiss import FaissStore, build_faiss_index
from indexer.stores.milvus import MilvusStore

ROOT = Path(__file__).resolve().parent.parent


def test_the_contract_and_the_factory_import_no_backend():
    code = (
        "import sys, indexer.stores, indexer.stores.base, indexer.stores.factory\n"
        "print(sorted(m for m in ('indexer.stores.faiss', 'indexer.stores.milvus', 'faiss', 'pymilvus') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_unknown_index_type_is_refused_by_every_store_with_the_same_list():
    assert check_index_type("hnsw") == "hnsw"
    messages = []
    for make in (
        lambda: check_index_type("hnws"),
        lambda: MilvusStore("x.db", index_type="hnws"),
        lambda: build_faiss_index(__import__("numpy").ones((2, 4), "float32"), "hnws"),
    ):
        with pytest.raises(ValueError) as err:
            make()
        messages.append(str(err.value))
    assert len(set(messages)) == 1
    assert all(name in messages[0] for name in INDEX_TYPES)


def test_two_stores_on_one_folder_share_one_lock(tmp_path):
    one, two = FaissStore(tmp_path / "index"), FaissStore(tmp_path / "sub" / ".." / "index")
    assert one.lock_key() == two.lock_key()
    assert one.lock_file().parent == tmp_path / "index"
    with index_lock(one):
        assert (tmp_path / "index" / ".lock").exists()


def test_a_store_that_does_not_discard_itself_reports_the_damage():
    class Bare(VectorStore):  # only what the contract requires
        def read_manifest(self):
            return None

        apply = search = get_vectors = all_chunks = document_text = count = read_manifest

    bare = Bare()
    bare.reload()  # the default: nothing cached, nothing to do
    assert bare.discard() is False
    assert bare.lock_file() is None and bare.lock_key() != Bare().lock_key()


def test_discarding_a_damaged_faiss_index_leaves_no_index(tmp_path, small_corpus, fake_embedder):
    store = open_store("faiss", index_dir=tmp_path / "index")
    build_corpus(small_corpus, store, fake_embedder)
    for text in (tmp_path / "index" / "texts").iterdir():
        text.write_text("damaged", encoding="utf-8")
    store.reload()
    assert "does not match its quotes" in discard_damaged_index(store)
    assert store.read_manifest() is None and store.count() == 0
    assert not any(p.name.startswith("gen-") or p.name == "texts" for p in (tmp_path / "index").iterdir())
