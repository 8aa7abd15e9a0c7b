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
