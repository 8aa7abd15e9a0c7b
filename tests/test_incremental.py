"""Rebuilds embed only what changed, and several documents are cited and opened by their own names."""

from __future__ import annotations

from pathlib import Path

from bot.bot import Bot
from indexer.build import build_corpus, sync_documents
from indexer.calibration import PROBE_QUESTIONS
from indexer.chunking import ChunkingSettings, chunk_text
from indexer.settings import Settings
from indexer.stores.faiss import FaissStore
from tests.docfixtures import write_mixed_formats
from tests.fakes import FakeEmbedder


def _chunks_of(path: Path) -> int:
    return len(chunk_text(path.read_text(encoding="utf-8"), path.name, ChunkingSettings()))


def test_rebuild_embeds_only_the_changed_file(small_corpus, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    first = build_corpus(small_corpus, store, embedder)
    assert sorted(first.added) == ["cramps.txt", "sleep.md"]

    sleep = small_corpus / "sleep.md"
    sleep.write_text(
        sleep.read_text(encoding="utf-8") + "\nNaps after three in the afternoon make night sleep worse.\n",
        encoding="utf-8",
    )
    before = embedder.texts_encoded
    report = build_corpus(small_corpus, store, embedder)
    assert report.updated == ["sleep.md"] and report.unchanged == ["cramps.txt"]
    assert report.chunks_embedded == _chunks_of(sleep)
    assert embedder.texts_encoded - before == _chunks_of(sleep) + len(PROBE_QUESTIONS)  # probes: calibration
    assert any("Naps after three" in c.text for c in store.all_chunks())


def test_unchanged_corpus_embeds_and_writes_nothing(small_corpus, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    build_corpus(small_corpus, store, embedder)
    generation = (tmp_path / "index" / "CURRENT").read_text()
    calls = embedder.calls
    report = build_corpus(small_corpus, store, embedder)
    assert not report.changed and embedder.calls == calls
    assert (tmp_path / "index" / "CURRENT").read_text() == generation


def test_new_and_deleted_files_are_the_only_changes(small_corpus, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    build_corpus(small_corpus, store, embedder)
    (small_corpus / "cramps.txt").unlink()
    (small_corpus / "water.txt").write_text(
        "Drinking water during long exercise prevents dehydration.\n", encoding="utf-8"
    )
    before = embedder.texts_encoded
    report = build_corpus(small_corpus, store, embedder)
    assert report.added == ["water.txt"] and report.removed == ["cramps.txt"] and report.unchanged == ["sleep.md"]
    assert embedder.texts_encoded - before == _chunks_of(small_corpus / "water.txt") + len(PROBE_QUESTIONS)
    assert {c.doc for c in store.all_chunks()} == {"sleep.md", "water.txt"}


def test_title_change_updates_the_record_without_embedding(small_corpus, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    build_corpus(small_corpus, store, embedder)
    (small_corpus / "corpus.toml").write_text('[documents."sleep.md"]\ntitle = "Sleep guide"\n', encoding="utf-8")
    before, calibration = (embedder.texts_encoded, embedder.calls), store.read_manifest().calibration
    report = build_corpus(small_corpus, store, embedder)
    assert report.updated == ["sleep.md"] and report.chunks_embedded == 0
    assert (
        embedder.texts_encoded,
        embedder.calls,
    ) == before  # not even the calibration probes: nothing changed for them
    assert store.read_manifest().calibration == calibration
    assert store.documents()["sleep.md"].title == "Sleep guide"


def test_model_change_while_adding_keeps_documents_not_passed_in(small_corpus, tmp_path):
    """A partial sync under a new model re-embeds the other documents from the text the index keeps."""
    store = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, store, FakeEmbedder())
    (tmp_path / "new.txt").write_text("Warm baths relax tight muscles after a long day.\n", encoding="utf-8")
    from indexer.loaders import load_document

    new_model = FakeEmbedder(name="fake-hash-64-v2")
    report = sync_documents(store, new_model, [load_document(tmp_path / "new.txt", "new.txt")], remove_missing=False)
    assert report.rebuilt_all and report.added == ["new.txt"]
    manifest = store.read_manifest()
    assert manifest.model == "fake-hash-64-v2"
    assert sorted(manifest.documents) == ["cramps.txt", "new.txt", "sleep.md"]
    per_doc = {name: sum(1 for c in store.all_chunks() if c.doc == name) for name in manifest.documents}
    assert all(per_doc[name] == rec.n_chunks > 0 for name, rec in manifest.documents.items())


def test_citations_name_and_open_the_right_document(tmp_path):
    corpus = tmp_path / "corpus"
    write_mixed_formats(corpus)
    (corpus / "notes.txt").write_text("Volcanoes erupt when magma rises through the crust.\n", encoding="utf-8")
    store = FaissStore(tmp_path / "index")
    build_corpus(corpus, store, FakeEmbedder())
    bot = Bot.load(Settings(index_dir=tmp_path / "index", corpus_dir=corpus), embedder=FakeEmbedder())

    cases = {
        "Do magnesium supplements reduce night cramps?": ("minerals.pdf", "Minerals", "page 2"),
        "How many hours of sleep do adults need each night?": ("sleep.html", "Sleep advice", 'section "Sleep"'),
        "What is a leg cramp, a sudden painful tightening of the calf?": (
            "cramps.docx",
            "Leg cramp leaflet",
            'section "Leg cramps"',
        ),
        "Why do volcanoes erupt magma?": ("notes.txt", "Notes", "paragraph 1, line 1"),
    }
    for question, (document, title, location) in cases.items():
        answer = bot.ask(question)
        assert not answer.abstained, question
        top = answer.passages[0]
        assert (top.document, top.title, top.location) == (document, title, location), question
        assert top.source.endswith(f"corpus/{document}")
        text = store.document_text(top.document)  # what the source panel opens
        assert text[top.start : top.end] == top.text
        assert text[top.best_sentence.start : top.best_sentence.end] == top.best_sentence.text


def test_sources_name_no_server_path_and_do_not_depend_on_the_working_folder(tmp_path, monkeypatch):
    from indexer.build import source_path
    from indexer.settings import PROJECT_ROOT

    assert source_path(PROJECT_ROOT / "corpus", "muscle_spasms.txt") == "corpus/muscle_spasms.txt"
    outside = tmp_path / "my_docs"
    assert source_path(outside, "a/b.txt") == "my_docs/a/b.txt"
    monkeypatch.chdir(tmp_path)
    assert source_path(PROJECT_ROOT / "corpus", "muscle_spasms.txt") == "corpus/muscle_spasms.txt"
