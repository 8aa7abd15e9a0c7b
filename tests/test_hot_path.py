"""What each question costs beyond the model: nothing is embedded or read from disk twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.bot import Bot
from indexer.build import build_corpus, load_corpus_documents, sync_documents
from indexer.loaders import CorpusInfo
from indexer.settings import Settings
from indexer.stores import IndexCorrupt
from indexer.stores.faiss import FaissStore


def _bot(tmp_path: Path, corpus: Path, embedder, examples=()) -> Bot:
    store = FaissStore(tmp_path / "index")
    build_corpus(corpus, store, embedder)
    return Bot(
        store,
        embedder,
        settings=Settings.from_env(index_dir=tmp_path / "index"),
        info=CorpusInfo(examples=tuple(examples)),
    )


def test_suggestions_embed_the_example_questions_once(tmp_path: Path, small_corpus: Path, fake_embedder) -> None:
    bot = _bot(
        tmp_path, small_corpus, fake_embedder, examples=("What is a leg cramp?", "How much sleep do adults need?")
    )
    vector = fake_embedder.encode(["cramp"])[0]
    first = bot.suggest(vector)
    before = fake_embedder.texts_encoded
    again = bot.suggest(vector)
    assert fake_embedder.texts_encoded == before  # no model call the second time
    assert first == again and set(first) == {"What is a leg cramp?", "How much sleep do adults need?"}
    np.testing.assert_allclose(bot._example_vectors, fake_embedder.encode(list(bot.info.examples)))


def test_document_text_is_read_from_disk_once_per_document(
    tmp_path: Path, small_corpus: Path, fake_embedder, monkeypatch
) -> None:
    bot = _bot(tmp_path, small_corpus, fake_embedder)
    reads = []
    original = Path.read_bytes  # the store reads stored texts as bytes, so CRLF stays CRLF

    def counting(self, *args, **kwargs):
        if self.parent.name == "texts":
            reads.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", counting)
    first = bot.store.document_text("cramps.txt")
    second = bot.store.document_text("cramps.txt")
    assert first == second == (small_corpus / "cramps.txt").read_text(encoding="utf-8")
    assert len(reads) == 1


def test_a_new_generation_written_by_another_store_is_seen_at_once(
    tmp_path: Path, small_corpus: Path, fake_embedder
) -> None:
    reader = FaissStore(tmp_path / "index")
    writer = FaissStore(tmp_path / "index")
    documents, _ = load_corpus_documents(small_corpus)
    sync_documents(writer, fake_embedder, documents[:1])
    first = reader.count()
    assert reader.count() == first  # unchanged pointer: served without reading it again
    sync_documents(writer, fake_embedder, documents)
    assert reader.count() > first
    served = reader.count()
    (tmp_path / "index" / "CURRENT").write_text("garbage-pointer\n", encoding="utf-8")
    assert reader.count() == served  # a damaged pointer is noticed, and the loaded index keeps serving
    with pytest.raises(IndexCorrupt, match="damaged"):
        FaissStore(tmp_path / "index").count()


def _chunk(doc: str, start: int):
    from indexer.chunking import Chunk

    return Chunk(f"{doc}:{start}-{start + 5}", doc, start, start + 5, "x" * 5, "", 0, ((start, start + 5),))


@pytest.mark.parametrize("seed", range(20))
def test_search_keeps_rank_hits_order_for_ties_and_unsorted_rows(seed: int) -> None:
    """The store builds hits for the k it keeps only; the order must stay ``rank_hits``'s
    (ties to 5 decimals by position, whichever order FAISS returned them in)."""
    from indexer.stores.base import Hit, rank_hits
    from indexer.stores.faiss import _best_hits

    rng = np.random.default_rng(seed)
    chunks = [_chunk(f"doc{rng.integers(3)}", int(rng.integers(0, 50))) for _ in range(30)]
    levels = np.float32([0.9, 0.8, 0.8000001, 0.7, 0.5])  # 0.8 and 0.8000001 are equal to 5 decimals
    scores = np.sort(rng.choice(levels, size=24))[::-1].astype(np.float32)
    rows = rng.permutation(30)[:24]
    rows[rng.integers(24)] = -1  # FAISS's "no result" row
    if seed % 4 == 0:  # not best first
        scores = rng.permutation(scores)
    for k in (1, 5, 10, 24, 40):
        expected = rank_hits((Hit(chunks[r], float(s)) for s, r in zip(scores, rows) if r >= 0), k)
        assert _best_hits(chunks, scores, rows, k) == expected


def test_a_flat_index_and_the_stored_vectors_share_one_copy(tmp_path: Path, small_corpus: Path, fake_embedder) -> None:
    """The vectors the bot reads for the emphasis are the flat index's own (one copy in memory, and
    the one the search has just read), equal to vectors.npy, whether the store built the index or
    read it; the view keeps the index alive as long as it is used."""
    import weakref

    import faiss

    builder = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, builder, fake_embedder)
    on_disk = np.load(next((tmp_path / "index").glob("gen-*/vectors.npy")))
    for store in (builder, FaissStore(tmp_path / "index")):
        gen = store._load()
        index_data = faiss.rev_swig_ptr(gen.index.get_xb(), gen.index.ntotal * gen.index.d)
        assert np.shares_memory(gen.vectors, index_data)
        assert np.array_equal(gen.vectors, on_disk)
        assert np.array_equal(store.get_vectors([c.id for c in gen.chunks]), on_disk)
    vectors, index = gen.vectors, weakref.ref(gen.index)
    del gen, store, builder
    assert index() is not None  # held by the view
    del vectors
    assert index() is None


def test_nearest_is_search_without_hit_objects(tmp_path: Path, small_corpus: Path, fake_embedder) -> None:
    """The FAISS store's ``nearest`` gives ``search``'s chunks and scores, in its order, and the
    retriever's candidates are the same through it as through the contract's default ``nearest``
    (made from ``search``, what any other store has)."""
    from bot.retrieval import Retriever
    from indexer.stores import VectorStore

    store = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, store, fake_embedder)
    retriever = Retriever(store, fake_embedder)

    class SearchOnly(FaissStore):  # the contract's nearest, over this store's search
        nearest = VectorStore.nearest

    plain = Retriever(SearchOnly(tmp_path / "index"), fake_embedder)
    for question in ("What is a leg cramp?", "How much sleep do adults need?", "stretch the calf", "zzz"):
        vector = fake_embedder.encode([question])[0]
        for k in (1, 3, 40):
            (hits,) = store.search(vector[None, :], k)
            assert store.nearest(vector, k) == ([h.chunk for h in hits], [h.score for h in hits])
        assert retriever.retrieve(question, vector) == plain.retrieve(question, vector)
        some = [store.all_chunks()[0].doc]
        assert retriever.retrieve(question, vector, some) == plain.retrieve(question, vector, some)
