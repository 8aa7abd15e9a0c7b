"""The same behaviour from every vector store: FAISS (local folder), Milvus Lite and a real Milvus server.

Every Milvus test shares one Milvus Lite database (starting one costs about a
second) and gets collections of its own, so tests stay independent.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from bot.bot import Bot
from indexer.build import build_corpus, load_corpus_documents
from indexer.calibration import PROBE_QUESTIONS
from indexer.chunking import Chunk
from indexer.stores import DocumentRecord, IndexMismatch, Manifest, NewDocument, VectorStore
from indexer.stores.faiss import FaissStore, choose_index_type
from indexer.stores.milvus import MilvusStore, MilvusStoreError, _split
from tests.conftest import BUNDLED_CORPUS, PROJECT_ROOT
from tests.fakes import FakeEmbedder

STORES = [
    "faiss",
    pytest.param("milvus", marks=pytest.mark.slow),
    pytest.param("milvus-server", marks=[pytest.mark.slow, pytest.mark.milvus_server]),
]
QUESTIONS = [json.loads(line)["q"] for line in (PROJECT_ROOT / "eval" / "muscle_spasms.jsonl").open(encoding="utf-8")]


@pytest.fixture
def milvus_uri(tmp_path: Path) -> str:
    """A Milvus Lite database of the test's own. A session-wide one stopped accepting connections
    (pymilvus: "Fail connecting to server on 127.0.0.1:PORT") after the real-server tests had run
    between two uses of it; not yet explained, see the closing note of session 3."""
    return str(tmp_path / "lite.db")


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path, milvus_uri: str):
    """A factory of empty stores of one kind: ``make_store("name")``; the kind is ``make_store.kind``."""
    kind = getattr(request, "param", "milvus")

    def make(name: str = "index") -> VectorStore:
        if kind == "faiss":
            return FaissStore(tmp_path / f"faiss-{name}")
        uri = request.getfixturevalue("milvus_server").uri if kind == "milvus-server" else milvus_uri
        return MilvusStore(uri, collection=f"t{uuid.uuid4().hex[:12]}_{name}")

    make.kind = kind
    return make


def _copy_corpus(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _ids(store: VectorStore) -> list[str]:
    return sorted(c.id for c in store.all_chunks())


def _search(store: VectorStore, questions: list[str], k: int = 8) -> list[list[tuple[str, float]]]:
    vectors = FakeEmbedder().encode(questions)
    return [[(h.chunk.id, round(h.score, 4)) for h in hits] for hits in store.search(vectors, k)]


def _state(store: VectorStore) -> dict:
    """Everything a reader can observe, for comparing an updated index with a fresh build."""
    manifest = store.read_manifest()
    return {
        "ids": _ids(store),
        "count": store.count(),
        "documents": {n: (r.sha256, r.n_chunks, r.title) for n, r in manifest.documents.items()},
        "texts": {n: store.document_text(n) for n in manifest.documents},
        "model": manifest.model,
        "dimension": manifest.dimension,
    }


# ---- behaviour every store shares ------------------------------------------------------------


@pytest.mark.parametrize("make_store", STORES, indirect=True)
def test_quotes_are_verbatim_slices_of_document_text(make_store, small_corpus: Path) -> None:
    store = make_store()
    build_corpus(small_corpus, store, FakeEmbedder())
    chunks = store.all_chunks()
    assert chunks and len(chunks) == store.count()
    for chunk in chunks:
        assert store.document_text(chunk.doc)[chunk.start : chunk.end] == chunk.text
    bot = Bot(store, FakeEmbedder())
    bot.check_index()
    answer = bot.ask("What relieves a leg cramp?")
    assert not answer.abstained and answer.passages
    for passage in answer.passages:
        assert store.document_text(passage.document)[passage.start : passage.end] == passage.text


@pytest.mark.parametrize("make_store", STORES, indirect=True)
def test_long_and_non_ascii_texts_round_trip(make_store, tmp_path: Path) -> None:
    """A document far above Milvus' 64 KiB VARCHAR limit, full of multi-byte characters, comes back exact."""
    corpus = tmp_path / "long"
    corpus.mkdir()
    paragraph = "Ça déborde: «crampe» du mollet — 痙攣 — se soigne par étirement doux. " * 4
    text = "\n\n".join(f"Section {i}. {paragraph}" for i in range(700))
    (corpus / "long.txt").write_text(text, encoding="utf-8")
    store = make_store()
    build_corpus(corpus, store, FakeEmbedder())
    stored = store.document_text("long.txt")
    assert len(stored.encode("utf-8")) > 200_000
    documents, _ = load_corpus_documents(corpus)
    assert stored == documents[0].text
    for chunk in store.all_chunks()[:50]:
        assert stored[chunk.start : chunk.end] == chunk.text


def test_a_crlf_text_read_back_from_disk_is_the_text_that_was_indexed(tmp_path: Path) -> None:
    """Windows line ends survive the FAISS store's text files: quotes stay slices after a restart."""
    corpus = tmp_path / "crlf"
    corpus.mkdir()
    text = "Walden\r\n\r\nI went to the woods because I wished to live\r\ndeliberately. I wished to front only the\r\nessential facts of life.\r\n"
    (corpus / "walden.txt").write_bytes(text.encode("utf-8"))
    build_corpus(corpus, FaissStore(tmp_path / "index"), FakeEmbedder())
    reopened = FaissStore(tmp_path / "index")  # a new process's view: nothing cached
    stored = reopened.document_text("walden.txt")
    assert stored == text
    chunks = reopened.all_chunks()
    assert chunks and all(stored[c.start : c.end] == c.text for c in chunks)


@pytest.mark.parametrize("make_store", STORES, indirect=True)
def test_incremental_add_change_remove_equal_a_fresh_build(make_store, tmp_path: Path, small_corpus: Path) -> None:
    corpus = _copy_corpus(small_corpus, tmp_path / "live")
    questions = ["leg cramp calf", "sleep hours bedroom", "magnesium dehydration", "stretching relieves"]
    store = make_store("incremental")
    build_corpus(corpus, store, FakeEmbedder())

    def check_against_fresh_build(step: str) -> None:
        fresh = make_store(f"fresh_{step}")
        build_corpus(corpus, fresh, FakeEmbedder())
        assert _state(store) == _state(fresh), step
        if make_store.kind == "milvus":  # replaced and removed rows are gone, not just hidden
            assert _rows_in_collection(store) == store.count(), step
        for question, updated, rebuilt in zip(questions, _search(store, questions), _search(fresh, questions)):
            assert_same_ranking(updated, rebuilt, f"{step}: {question}")

    (corpus / "heat.txt").write_text(
        "Heat Therapy\n\nA warm towel on the calf relaxes a cramped muscle. Heat also helps stiff backs.\n",
        encoding="utf-8",
    )
    embedder = FakeEmbedder()
    report = build_corpus(corpus, store, embedder)
    assert report.added == ["heat.txt"] and sorted(report.unchanged) == ["cramps.txt", "sleep.md"]
    # only the new document's chunks were embedded (plus the calibration probes)
    assert embedder.texts_encoded == store.documents()["heat.txt"].n_chunks + len(PROBE_QUESTIONS)
    check_against_fresh_build("add")

    (corpus / "sleep.md").write_text(
        "# Sleep\n\nTeenagers need eight to ten hours of sleep each night. Screens before bed delay sleep.\n",
        encoding="utf-8",
    )
    report = build_corpus(corpus, store, FakeEmbedder())
    assert report.updated == ["sleep.md"]
    assert not any("Adults need" in c.text for c in store.all_chunks())
    check_against_fresh_build("change")

    (corpus / "cramps.txt").unlink()
    report = build_corpus(corpus, store, FakeEmbedder())
    assert report.removed == ["cramps.txt"]
    assert not any(c.doc == "cramps.txt" for c in store.all_chunks())
    with pytest.raises(KeyError):
        store.document_text("cramps.txt")
    check_against_fresh_build("remove")


@pytest.mark.parametrize("make_store", STORES, indirect=True)
def test_bot_refuses_an_index_built_with_another_model(make_store, small_corpus: Path) -> None:
    store = make_store()
    build_corpus(small_corpus, store, FakeEmbedder(name="model-a"))
    with pytest.raises(IndexMismatch, match="model-a") as caught:
        Bot(store, FakeEmbedder(name="model-b")).check_index()
    assert store.rebuild_command() in str(caught.value)
    assert Bot(store, FakeEmbedder(name="model-a")).check_index().model == "model-a"


@pytest.mark.parametrize("make_store", STORES, indirect=True)
def test_index_type_follows_collection_size(make_store, small_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact search while small, an approximate index above the threshold, and search keeps working across the switch."""
    store = make_store()
    build_corpus(small_corpus, store, FakeEmbedder())
    assert store.read_manifest().index_type == "flat"
    monkeypatch.setattr("indexer.stores.faiss.EXACT_BELOW", store.count() + 1)
    monkeypatch.setattr("indexer.stores.milvus.EXACT_BELOW", store.count() + 1)
    (small_corpus / "more.txt").write_text(
        "Magnesium rich foods include nuts and spinach. Bananas add potassium.\n", encoding="utf-8"
    )
    build_corpus(small_corpus, store, FakeEmbedder())
    approximate = choose_index_type(store.count() + 1) if make_store.kind == "faiss" else "hnsw"
    assert approximate != "flat"
    assert store.read_manifest().index_type == approximate
    hits = store.search(FakeEmbedder().encode(["magnesium nuts spinach"]), 3)[0]
    assert hits[0].chunk.doc == "more.txt"
    assert store.document_text("more.txt")[hits[0].chunk.start : hits[0].chunk.end] == hits[0].chunk.text

    (small_corpus / "more.txt").unlink()
    build_corpus(small_corpus, store, FakeEmbedder())
    # FAISS rebuilds its index on every change; Milvus keeps the graph rather than pause searches to swap it
    assert store.read_manifest().index_type == ("flat" if make_store.kind == "faiss" else approximate)


# ---- the two stores agree --------------------------------------------------------------------


@pytest.mark.slow  # a Milvus Lite database
def test_milvus_and_faiss_return_the_same_passages_in_the_same_order(tmp_path: Path, milvus_uri: str) -> None:
    """With exact search both stores rank alike, down to which copy of a repeated sentence is quoted."""
    stores = [FaissStore(tmp_path / "faiss"), MilvusStore(milvus_uri, collection=f"t{uuid.uuid4().hex[:12]}_same")]
    bots = []
    for store in stores:
        build_corpus(BUNDLED_CORPUS, store, FakeEmbedder())
        assert store.read_manifest().index_type == "flat"
        bot = Bot(store, FakeEmbedder())
        bot.check_index()
        bots.append(bot)
    faiss_hits, milvus_hits = (_search(store, QUESTIONS, k=10) for store in stores)
    for question, faiss_row, milvus_row in zip(QUESTIONS, faiss_hits, milvus_hits):
        assert_same_ranking(faiss_row, milvus_row, question)
    assert _ids(stores[0]) == _ids(stores[1])
    for question in QUESTIONS:
        faiss_answer, milvus_answer = (bot.ask(question).to_dict() for bot in bots)
        assert faiss_answer == milvus_answer, question


def assert_same_ranking(a: list[tuple[str, float]], b: list[tuple[str, float]], label: str) -> None:
    """Same scores, same chunks in the same order; only a tie group cut by ``k`` may hold different members."""
    assert [s for _, s in a] == [s for _, s in b], label
    last = a[-1][1] if a else None
    assert [h for h in a if h[1] != last] == [h for h in b if h[1] != last], label


# ---- Milvus specifics ------------------------------------------------------------------------


def _rows_in_collection(store: MilvusStore) -> int:
    client = store._client()
    name = store.chunks_name(store.read_manifest().dimension)
    return client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


def _document(name: str, sentences: list[str], embedder: FakeEmbedder) -> NewDocument:
    text = " ".join(sentences)
    chunks, pos = [], 0
    for sentence in sentences:
        start = text.index(sentence, pos)
        end = pos = start + len(sentence)
        chunks.append(Chunk(f"{name}:{start}-{end}", name, start, end, sentence, "", 0, ((start, end),)))
    record = DocumentRecord(name, f"sha-{hash(text)}", name, "txt", name, len(chunks), "now")
    return NewDocument(record, text, chunks, embedder.encode([c.text for c in chunks]))


@pytest.mark.slow  # a Milvus Lite database
def test_milvus_interrupted_apply_leaves_the_previous_index_whole(
    milvus_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = FakeEmbedder()
    collection = f"t{uuid.uuid4().hex[:12]}_crash"
    writer = MilvusStore(milvus_uri, collection=collection)
    one = _document("one.txt", ["Calf cramps pass within minutes.", "Stretch the calf gently."], embedder)
    manifest = Manifest("fake-hash-64", 64, {}, {"one.txt": one.record})
    writer.apply(remove=[], add=[one], manifest=manifest)
    before = _state(MilvusStore(milvus_uri, collection=collection)), _search(writer, ["calf cramps"])

    changed = _document("one.txt", ["Calf cramps can last for hours.", "Warm the calf with a towel."], embedder)
    two = _document("two.txt", ["Sleep needs a dark room."], embedder)
    new_manifest = Manifest("fake-hash-64", 64, {}, {"one.txt": changed.record, "two.txt": two.record})
    original = MilvusStore._upsert_meta

    def crash_at_commit(self, rows):
        if any(key == "head" for key, *_ in rows):
            raise RuntimeError("killed before the commit")
        return original(self, rows)

    monkeypatch.setattr(MilvusStore, "_upsert_meta", crash_at_commit)
    with pytest.raises(RuntimeError):
        writer.apply(remove=[], add=[changed, two], manifest=new_manifest)
    monkeypatch.setattr(MilvusStore, "_upsert_meta", original)

    reader = MilvusStore(milvus_uri, collection=collection)
    assert (_state(reader), _search(reader, ["calf cramps"])) == before  # the half-written rows are invisible
    assert _rows_in_collection(reader) > reader.count()  # ... though they are there

    writer.apply(remove=[], add=[changed, two], manifest=new_manifest)
    assert _rows_in_collection(reader) == reader.count() == 3  # the next apply cleared them
    assert sorted(c.text for c in reader.all_chunks()) == sorted(
        ["Calf cramps can last for hours.", "Warm the calf with a towel.", "Sleep needs a dark room."]
    )


@pytest.mark.slow  # a Milvus Lite database
def test_milvus_reader_follows_a_commit_made_by_another_process(milvus_uri: str) -> None:
    """A replica that cached the old manifest notices new rows' generation and re-reads the head."""
    embedder = FakeEmbedder()
    collection = f"t{uuid.uuid4().hex[:12]}_follow"
    writer, replica = MilvusStore(milvus_uri, collection=collection), MilvusStore(milvus_uri, collection=collection)
    old = _document("a.txt", ["Cramps hit the calf at night."], embedder)
    writer.apply(remove=[], add=[old], manifest=Manifest("fake-hash-64", 64, {}, {"a.txt": old.record}))
    assert replica.search(embedder.encode(["calf cramps night"]), 1)[0][0].chunk.text == old.chunks[0].text

    new = _document("a.txt", ["Cramps hit the calf at dawn."], embedder)
    writer.apply(remove=[], add=[new], manifest=Manifest("fake-hash-64", 64, {}, {"a.txt": new.record}))
    hits = replica.search(embedder.encode(["calf cramps night"]), 3)[0]
    assert [h.chunk.text for h in hits] == ["Cramps hit the calf at dawn."]
    assert replica.document_text("a.txt") == new.text


def test_a_raw_grpc_error_from_milvus_becomes_the_store_error_the_bot_handles() -> None:
    """A query iterator that times out raises gRPC's own error, not pymilvus'; Bot.ask must still not raise."""
    import grpc

    class DeadlineExceeded(grpc.RpcError):
        def details(self) -> str:
            return "Deadline Exceeded"

    store = MilvusStore("http://127.0.0.1:9", collection="quotebot", timeout=5)
    with pytest.raises(MilvusStoreError, match="failed to read the chunks \\(Deadline Exceeded\\)"):
        with store._calls("read the chunks"):
            raise DeadlineExceeded()


def test_milvus_unreachable_server_says_so() -> None:
    store = MilvusStore("http://127.0.0.1:9", collection="quotebot", timeout=5)
    with pytest.raises(MilvusStoreError, match="cannot reach Milvus at http://127.0.0.1:9"):
        store.read_manifest()


def test_milvus_token_is_read_from_the_environment_and_kept_out_of_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTEBOT_MILVUS_TOKEN", "root:s3cret")
    store = MilvusStore("http://root:s3cret@127.0.0.1:9")
    assert store._token == "root:s3cret"
    assert "s3cret" not in store.describe() and "s3cret" not in store.rebuild_command()
    with pytest.raises(MilvusStoreError) as caught:
        store.count()
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("module", ["pymilvus", "milvus_lite"])
def test_milvus_missing_package_names_the_extra(module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes "import module" fail
    (tmp_path / "present.db").mkdir()  # an existing database, so the store must connect to read it
    store = MilvusStore(str(tmp_path / "present.db"))
    with pytest.raises(MilvusStoreError, match=r'pip install -e "\.\[milvus\]"') as caught:
        store.read_manifest()
    assert module.replace("_", "-") in str(caught.value)


def test_milvus_lite_reading_a_database_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    store = MilvusStore(str(tmp_path / "nowhere" / "milvus.db"))
    assert store.read_manifest() is None and store.count() == 0 and store.all_chunks() == []
    assert not (tmp_path / "nowhere").exists()


def test_milvus_uri_must_be_a_db_file_or_a_server() -> None:
    with pytest.raises(ValueError, match=r"ending in \.db"):
        MilvusStore("index/milvus")
    with pytest.raises(ValueError, match="product-quantization"):
        MilvusStore("x.db", index_type="ivf-pq")
    with pytest.raises(ValueError, match="collection name"):
        MilvusStore("x.db", collection="bad-name")


def test_split_keeps_characters_whole_and_parts_small() -> None:
    text = "a" * 5 + "é痙" * 50_000
    parts = _split(text, limit=1_000)
    assert "".join(parts) == text
    assert all(len(p.encode("utf-8")) <= 1_000 for p in parts)
    assert _split("") == [""]


@pytest.mark.slow  # a Milvus Lite database
def test_vectors_come_back_for_chunk_ids_in_the_order_asked(milvus_uri: str, small_corpus: Path) -> None:
    store = MilvusStore(milvus_uri, collection=f"t{uuid.uuid4().hex[:12]}_vectors")
    build_corpus(small_corpus, store, FakeEmbedder())
    chunks = store.all_chunks()[::-1][:5]
    vectors = store.get_vectors([c.id for c in chunks])
    assert np.allclose(vectors, FakeEmbedder().encode([c.embed_text for c in chunks]), atol=1e-6)
    with pytest.raises(KeyError):
        store.get_vectors(["cramps.txt:0-1"])


@pytest.mark.slow  # a Milvus Lite database
def test_milvus_drop_removes_only_its_own_collections(milvus_uri: str, small_corpus: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store, neighbour = (
        MilvusStore(milvus_uri, collection=f"{prefix}_a"),
        MilvusStore(milvus_uri, collection=f"{prefix}_b"),
    )
    for s in (store, neighbour):
        build_corpus(small_corpus, s, FakeEmbedder())
    store.drop()
    assert store.read_manifest() is None and store.count() == 0
    assert not [name for name in store._client().list_collections() if name.startswith(f"{prefix}_a_")]
    assert neighbour.read_manifest() is not None and neighbour.count() > 0
