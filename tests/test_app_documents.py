"""The Documents panel without a browser: upload, list, remove, limits, escaping, read-only, concurrency.

Fast: a real bot on the fake embedder over a corpus the test writes; the
handlers are called the way Gradio calls them.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path

import gradio as gr
import pytest

import app
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.settings import Settings
from indexer.stores import DocumentRecord, open_store
from quotebot_app import feedback, guards, handlers, render
from tests.fakes import FakeEmbedder
from tests.html_check import parse

ZORBLAT = "The Zorblat valve was invented in 1893 by Ada Quill. It regulates steam in brass organs."
ZORBLAT_Q = "Who invented the Zorblat valve?"
HOSTILE = "<img src=x onerror=alert(1)>"


def make_page(tmp_path: Path, corpus: Path, embedder, **settings) -> handlers.Page:
    config = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", feedback_path=tmp_path / "fb" / "f.jsonl", **settings
    )
    build_corpus(corpus, open_store("faiss", index_dir=config.index_dir), embedder)
    bot = Bot.load(config, embedder=embedder)
    return handlers.Page(bot, config, feedback.FeedbackLog(config.feedback_path))


@pytest.fixture
def page(tmp_path, small_corpus, fake_embedder) -> handlers.Page:
    return make_page(tmp_path, small_corpus, fake_embedder)


def uploads(tmp_path: Path, files: dict[str, str | bytes]) -> list[str]:
    """Files as Gradio hands them over: temporary copies that keep the uploaded name."""
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    paths = []
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        paths.append(str(path))
    return paths


def cited_documents(page: handlers.Page, question: str) -> list[str]:
    answer = page.bot.ask(question)
    return [p.document for p in answer.passages]


# ---- upload -------------------------------------------------------------------------------


def test_upload_indexes_the_good_files_and_names_the_refused_one(page, tmp_path):
    paths = uploads(
        tmp_path,
        {
            "zorblat.txt": "Zorblat valves\n\n" + ZORBLAT + "\n",
            "kites.md": "# Kites\n\nBox kites were flown by Lawrence Hargrave in 1893 near Stanwell Park.\n",
            "setup.exe": b"MZ\x90\x00binary",
        },
    )
    steps: list[tuple[float, str]] = []
    report = page.upload(paths, lambda fraction, desc: steps.append((fraction, desc)))
    assert len(report.done) == 2 and not report.error
    assert len(report.refused) == 1
    assert "setup.exe" in report.refused[0] and "unsupported format .exe" in report.refused[0]
    documents = page.bot.store.documents()
    assert {"zorblat.txt", "kites.md"} <= set(documents)
    assert (page.settings.corpus_dir / "zorblat.txt").is_file()
    assert not (page.settings.corpus_dir / "setup.exe").exists()
    # progress was visible while embedding, and reached the end
    assert any("passages embedded" in desc for _, desc in steps)
    assert steps[-1][0] == pytest.approx(1.0)
    # the bot answers from the new index at once
    assert cited_documents(page, ZORBLAT_Q)[0] == "zorblat.txt"
    # the status and the list name every file
    status = " ".join(parse(render.render_change(report)).text)
    assert "zorblat.txt" in status and "kites.md" in status and "setup.exe" in status
    listing = " ".join(parse(page.documents_html()).text)
    assert "Zorblat" in listing and "Kites" in listing and "4 documents in the collection" in listing


def test_on_upload_clears_the_file_box_and_returns_status_and_list(page, tmp_path):
    paths = uploads(tmp_path, {"zorblat.txt": ZORBLAT})
    cleared, status, listing = page.on_upload(paths)
    assert cleared is None
    assert "zorblat.txt: added as \u201cZorblat\u201d (3 passages)." in status
    assert 'data-name="zorblat.txt"' in listing and 'data-action="ask_remove"' in listing


def test_the_same_file_from_two_tabs_is_added_once_and_the_second_tab_told_so(page, tmp_path):
    """Gradio gives two uploads of the same bytes the same temporary copy (its cache is keyed by
    content): the first tab's handler must not delete what the second is about to read. Gradio
    deletes its copies itself, after app.UPLOAD_KEEP_S (tests/test_app_guards.py)."""
    paths = uploads(tmp_path, {"zorblat.txt": ZORBLAT})
    _, first, _ = page.on_upload(paths)
    _, second, _ = page.on_upload(paths)  # the other tab's event, same temporary file
    assert "zorblat.txt: added as \u201cZorblat\u201d (3 passages)." in first
    assert "zorblat.txt: already in the collection as \u201cZorblat\u201d, with the same content." in second
    assert "not a file" not in second
    assert sorted(p.name for p in page.settings.corpus_dir.iterdir() if p.name.startswith("zorblat")) == ["zorblat.txt"]


def test_the_same_file_again_is_unchanged_and_a_different_one_of_that_name_is_renamed(page, tmp_path):
    page.upload(uploads(tmp_path, {"zorblat.txt": ZORBLAT}))
    again = page.upload(uploads(tmp_path, {"zorblat.txt": ZORBLAT}))
    assert again.done == ("zorblat.txt: already in the collection as \u201cZorblat\u201d, with the same content.",)
    other = page.upload(uploads(tmp_path, {"zorblat.txt": ZORBLAT + " Revised in 1901."}))
    assert "Note: saved as zorblat-2.txt" in other.done[0]
    assert {"zorblat.txt", "zorblat-2.txt"} <= set(page.bot.store.documents())


def test_document_list_shows_title_file_name_passages_and_when_indexed(page):
    record = page.bot.store.documents()["cramps.txt"]
    html = page.documents_html()
    text = " ".join(parse(html).text)
    assert record.title in text and "cramps.txt" in text
    assert f"{record.n_chunks} passage" in text
    assert render.when(record.indexed_at) in text and text.count(" UTC") == 2


def test_too_many_files_are_refused_with_the_limit_and_nothing_is_added(tmp_path, small_corpus, fake_embedder):
    page = make_page(tmp_path, small_corpus, fake_embedder, max_upload_files=2)
    before = set(page.bot.store.documents())
    paths = uploads(tmp_path, {f"note{i}.txt": f"Note {i} about gliders." for i in range(3)})
    report = page.upload(paths)
    assert "3 files" in report.error and "at most 2" in report.error
    assert not report.done and set(page.bot.store.documents()) == before
    assert not any(small_corpus.glob("note*.txt"))
    assert "at most 2" in render.render_change(report)


def test_a_file_over_the_size_limit_is_refused_and_the_others_are_added(tmp_path, small_corpus, fake_embedder):
    page = make_page(tmp_path, small_corpus, fake_embedder, max_upload_mb=1)
    paths = uploads(tmp_path, {"big.txt": "word " * 300_000, "zorblat.txt": ZORBLAT})
    report = page.upload(paths)
    assert len(report.done) == 1 and "zorblat.txt" in report.done[0]
    assert len(report.refused) == 1 and "big.txt" in report.refused[0] and "upload limit" in report.refused[0]


def test_an_empty_upload_asks_for_files(page):
    assert "Choose one or more files" in page.upload([]).error


# ---- several documents: citations name the right one ----------------------------------------


def test_citation_names_the_uploaded_document_and_opens_it(page, tmp_path):
    page.upload(
        uploads(
            tmp_path,
            {
                "zorblat.html": f"<html><head><title>The Zorblat Almanac</title></head><body><p>{ZORBLAT}</p></body></html>",
                "gliders.txt": "Gliders\n\nOtto Lilienthal flew gliders near Berlin in the 1890s.\n",
            },
        )
    )
    _, turns, _ = page.on_submit(ZORBLAT_Q, 3, [])
    first = turns[0]["answer"]["passages"][0]
    assert first["document"] == "zorblat.html" and first["title"] == "The Zorblat Almanac"
    assert "Ada Quill" in first["text"]
    source = page.on_cite(turns, gr.EventData(None, {"turn": 0, "index": 0}))
    heading = source.split('class="qb-source-heading"', 1)[1]
    assert heading.split("</h2>", 1)[0].endswith("The Zorblat Almanac")
    assert "Ada Quill" in source and "Lilienthal" not in source


# ---- removal --------------------------------------------------------------------------------


def test_removed_document_leaves_the_list_the_folder_and_the_answers(page, tmp_path):
    page.upload(uploads(tmp_path, {"zorblat.txt": "Zorblat valves\n\n" + ZORBLAT + "\n"}))
    assert "zorblat.txt" in cited_documents(page, ZORBLAT_Q)
    asked = page.on_ask_remove(gr.EventData(None, {"name": "zorblat.txt"}))
    assert 'data-action="remove" data-name="zorblat.txt" data-autofocus' in asked  # a second click confirms
    status, listing = page.on_remove(gr.EventData(None, {"name": "zorblat.txt"}))
    assert "Removed" in status and "zorblat.txt" in status
    assert "zorblat.txt" not in listing and "zorblat.txt" not in page.bot.store.documents()
    assert not (page.settings.corpus_dir / "zorblat.txt").exists()
    assert "zorblat.txt" not in cited_documents(page, ZORBLAT_Q)


@pytest.mark.parametrize("asked", ["never", "by-another-session", "then-cancelled"])
def test_a_removal_the_same_session_did_not_confirm_removes_nothing(page, asked):
    """The server confirms removals itself: a lone remove event (a forged request) deletes nothing."""
    mine, theirs = gr.Request(session_hash="mine"), gr.Request(session_hash="theirs")
    if asked == "by-another-session":
        page.on_ask_remove(gr.EventData(None, {"name": "sleep.md"}), theirs)
    elif asked == "then-cancelled":
        page.on_ask_remove(gr.EventData(None, {"name": "sleep.md"}), mine)
        page.on_cancel_remove(gr.EventData(None, {"name": "sleep.md"}), mine)
    status, _ = page.on_remove(gr.EventData(None, {"name": "sleep.md"}), mine)
    assert "Nothing was removed: confirm the removal of sleep.md first" in status
    assert "sleep.md" in page.bot.store.documents() and (page.settings.corpus_dir / "sleep.md").is_file()
    page.on_ask_remove(gr.EventData(None, {"name": "sleep.md"}), mine)
    status, _ = page.on_remove(gr.EventData(None, {"name": "sleep.md"}), mine)
    assert "Removed" in status and "sleep.md" not in page.bot.store.documents()


def test_cancelling_a_removal_keeps_the_document(page):
    page.on_ask_remove(gr.EventData(None, {"name": "sleep.md"}))
    listing = page.on_cancel_remove(gr.EventData(None, {"name": "sleep.md"}))
    assert 'data-action="ask_remove" data-name="sleep.md" aria-label="Remove Sleep" data-autofocus' in listing
    assert "sleep.md" in page.bot.store.documents()


@pytest.mark.parametrize("name", ["nope.txt", "../cramps.txt", "/etc/passwd", ""])
def test_removing_a_document_not_in_the_list_changes_nothing(page, name):
    before = page.bot.store.documents()
    page.on_ask_remove(gr.EventData(None, {"name": name}))
    status, _ = page.on_remove(gr.EventData(None, {"name": name}))
    assert "not in the collection" in status
    assert page.bot.store.documents().keys() == before.keys()
    assert (page.settings.corpus_dir / "cramps.txt").is_file()


# ---- escaping -------------------------------------------------------------------------------


def test_hostile_file_names_and_titles_are_shown_as_text(page, tmp_path):
    paths = uploads(
        tmp_path,
        {
            f"{HOSTILE}.txt": "Hostile names\n\n" + ZORBLAT,
            f"{HOSTILE}.exe": b"nothing",
            "title.html": f"<html><head><title>{html.escape(HOSTILE)} almanac</title></head><body><p>Gliders fly.</p></body></html>",
        },
    )
    report = page.upload(paths)
    assert len(report.done) == 2 and len(report.refused) == 1
    for markup in (
        render.render_change(report),
        page.documents_html(),
        page.on_ask_remove(gr.EventData(None, {"name": "title.html"})),
    ):
        parsed = parse(markup)
        assert "img" not in parsed.tags and "script" not in parsed.tags
        assert parsed.handlers == []
        assert "<img" not in markup
    assert HOSTILE in "".join(parse(render.render_change(report)).text)  # the refused name, character for character
    assert f"{HOSTILE} almanac" in "".join(parse(page.documents_html()).text)  # the HTML file's own title


def test_rendered_list_escapes_every_field():
    record = DocumentRecord(
        name=f"{HOSTILE}.txt", sha256="0", title=HOSTILE, format="txt", source=HOSTILE, n_chunks=1, indexed_at=HOSTILE
    )
    for confirm in (None, record.name):
        markup = render.render_documents({record.name: record}, manage=True, confirm=confirm)
        parsed = parse(markup)
        assert "img" not in parsed.tags and parsed.handlers == []
        assert HOSTILE in "".join(parsed.text)


# ---- read-only ------------------------------------------------------------------------------


def test_read_only_page_lists_documents_but_cannot_change_them(tmp_path, small_corpus, fake_embedder):
    page = make_page(tmp_path, small_corpus, fake_embedder, read_only=True)
    listing = page.documents_html()
    assert "cramps.txt" in listing and "<button" not in listing
    assert "read-only" in page.upload(uploads(tmp_path, {"zorblat.txt": ZORBLAT})).error
    assert "read-only" in page.remove("cramps.txt").error
    assert (small_corpus / "cramps.txt").is_file() and not (small_corpus / "zorblat.txt").exists()
    blocks = app.build_app(page.bot, page.settings)
    assert not any(isinstance(b, gr.File) for b in blocks.blocks.values())
    assert not {"on_upload", "on_remove"} & {fn.name for fn in blocks.fns.values()}


def test_managing_page_has_an_upload_box_and_document_events(page):
    blocks = app.build_app(page.bot, page.settings)
    assert any(isinstance(b, gr.File) and b.elem_id == "qb-upload" for b in blocks.blocks.values())
    assert {"on_upload", "on_remove"} <= {fn.name for fn in blocks.fns.values()}


def test_management_is_off_when_asked_or_when_exposed_without_a_login():
    local, shared = Settings(), Settings(host="0.0.0.0")
    assert guards.management_off_reason(local, "127.0.0.1", None) is None
    assert "QUOTEBOT_AUTH" in guards.management_off_reason(shared, "0.0.0.0", None)
    assert guards.management_off_reason(shared, "0.0.0.0", [("owner", "secret")]) is None
    assert "read-only" in guards.management_off_reason(Settings(read_only=True), "127.0.0.1", [("a", "b")])


# ---- concurrency ----------------------------------------------------------------------------


class GatedEmbedder(FakeEmbedder):
    """Holds the embedding of a document (any batch mentioning 1893) until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def encode(self, texts, *, show_progress: bool = False):
        if any("1893" in t for t in texts) and not self.gate.is_set():
            self.waiting.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return super().encode(texts, show_progress=show_progress)


def test_questions_are_answered_while_an_upload_is_indexed_and_changes_wait_their_turn(tmp_path, small_corpus):
    embedder = GatedEmbedder()
    page = make_page(tmp_path, small_corpus, embedder)
    paths = uploads(tmp_path, {"zorblat.txt": "Zorblat valves\n\n" + ZORBLAT + "\n"})
    finished: list[str] = []
    upload = threading.Thread(target=lambda: finished.append(f"upload {page.upload(paths).done}"))
    removal = threading.Thread(target=lambda: finished.append(f"removal {page.remove('sleep.md').done}"))
    upload.start()
    try:
        assert embedder.waiting.wait(30)  # the upload is embedding, holding the index lock
        removal.start()
        _, turns, _ = page.on_submit("What is a leg cramp?", 3, [])  # answered meanwhile, from the old index
        assert turns[0]["answer"]["passages"][0]["document"] == "cramps.txt"
        assert "zorblat.txt" not in page.bot.store.documents()
        removal.join(0.5)
        assert removal.is_alive() and finished == []  # the removal waits for the upload
    finally:
        embedder.gate.set()
        upload.join(30)
        if removal.ident is not None:  # started
            removal.join(30)
    assert [line.split()[0] for line in finished] == ["upload", "removal"]
    assert all("()" not in line for line in finished), finished  # both did something
    documents = page.bot.store.documents()
    assert "zorblat.txt" in documents and "sleep.md" not in documents
    assert cited_documents(page, ZORBLAT_Q)[0] == "zorblat.txt"


@pytest.mark.model
def test_a_large_upload_is_embedded_by_a_worker_process_never_by_the_page_s_model(tmp_path, small_corpus):
    """Questions never wait behind the indexer: the page's model embeds nothing of a large upload (a
    low-priority child process does, indexer.worker), and the upload is then quoted verbatim.
    The latency this buys is measured by python -m bench.indexing_latency (docs/reliability.md)."""
    from indexer.embedding import Embedder

    embedder = Embedder()
    page = make_page(tmp_path, small_corpus, embedder)
    calls = []
    real_encode = embedder.encode
    embedder.encode = lambda texts, **kw: calls.append(len(texts)) or real_encode(texts, **kw)
    sentences = " ".join(f"The lighthouse keeper logged ship number {i} passing the northern reef." for i in range(400))
    report = page.upload(uploads(tmp_path, {"lighthouse.txt": "Lighthouse log\n\n" + sentences + "\n"}))
    assert report.done and not report.error, report
    assert sum(calls) == 0  # not one passage of the upload went through the page's model
    answer = page.bot.ask("Which reef did the lighthouse keeper's ships pass?")
    text = (page.settings.corpus_dir / "lighthouse.txt").read_text(encoding="utf-8")
    assert answer.passages and answer.passages[0].document == "lighthouse.txt"
    assert all(text[p.start : p.end] == p.text for p in answer.passages if p.document == "lighthouse.txt")
