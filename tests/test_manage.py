"""Adding and removing documents: safe names, safe copies, one error per bad file, only new work embedded."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import indexer.__main__ as cli
from indexer.calibration import PROBE_QUESTIONS
from indexer.chunking import ChunkingSettings, chunk_text
from indexer.loaders import DocumentError
from indexer.manage import IndexBusy, add_files, index_added, index_lock, remove_document, safe_name
from indexer.stores.faiss import FaissStore
from tests.docfixtures import HTML_PAGE, make_docx, make_pdf
from tests.fakes import FakeEmbedder

MB = 1024 * 1024


@pytest.mark.parametrize(
    "given,expected",
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/abs/path/guide.md", "guide.md"),
        ("C:\\Users\\me\\Report.PDF", "Report.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("...hidden.md", "hidden.md"),
        ("-rf.txt", "rf.txt"),
        ("a\x00b\nc.txt", "abc.txt"),
        ("notes; rm -rf *.txt", "notes_ rm -rf _.txt"),
        ("  My   Notes  .docx", "My Notes.docx"),
        ("Übersicht 2024.html", "Übersicht 2024.html"),
        ("CON.txt", "_CON.txt"),
        ("x" * 300 + ".md", "x" * 150 + ".md"),
    ],
)
def test_safe_name_stays_inside_the_folder(given, expected):
    name = safe_name(given)
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith(".")


@pytest.mark.parametrize("given", ["", "..", "../", ".txt", "....txt", "report.exe", "noextension", "dir/"])
def test_safe_name_refuses_unusable_names(given):
    with pytest.raises(DocumentError):
        safe_name(given)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "cramps.txt").write_text(
        "Stretching the calf gently relieves a leg cramp within minutes.\n", encoding="utf-8"
    )
    (folder / "sleep.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / "leaflet.pdf").write_bytes(
        make_pdf([["Magnesium helps some people with night cramps."], ["Warm baths relax tight muscles."]])
    )
    (folder / "guide.docx").write_bytes(make_docx())
    (folder / "empty.txt").write_bytes(b"")
    (folder / "locked.pdf").write_bytes(make_pdf([["Secret."]], user_password="pw"))
    return folder


def test_add_files_copies_good_files_and_refuses_bad_ones(tmp_path, uploads):
    corpus = tmp_path / "corpus"
    paths = sorted(uploads.iterdir())
    results = add_files(corpus, paths, max_bytes=MB)
    by_name = {r.original: r for r in results}
    assert [r.original for r in results] == [p.name for p in paths]
    for good in ("cramps.txt", "sleep.html", "leaflet.pdf", "guide.docx"):
        result = by_name[good]
        assert result.ok and result.name == good and result.document is not None
        assert (corpus / good).read_bytes() == (uploads / good).read_bytes()
    assert not by_name["empty.txt"].ok and "empty" in by_name["empty.txt"].message
    assert not by_name["locked.pdf"].ok and "password" in by_name["locked.pdf"].message
    assert sorted(p.name for p in corpus.iterdir()) == ["cramps.txt", "guide.docx", "leaflet.pdf", "sleep.html"]


def test_uploaded_names_cannot_escape_the_corpus_folder(tmp_path, uploads):
    corpus = tmp_path / "deep" / "corpus"
    names = ["../../escaped.txt", "/etc/cron.d/evil.txt", ".bashrc.txt"]
    results = add_files(corpus, [uploads / "cramps.txt"] * 3, max_bytes=MB, names=names)
    assert [r.name for r in results] == ["escaped.txt", "evil.txt", "bashrc.txt"]
    assert all(r.ok for r in results)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()
    assert sorted(p.name for p in corpus.iterdir()) == ["bashrc.txt", "escaped.txt", "evil.txt"]


def test_file_over_the_upload_limit_is_refused_and_not_copied(tmp_path, uploads):
    big = uploads / "big.txt"
    big.write_text("Cramps are common. " * 2000, encoding="utf-8")
    corpus = tmp_path / "corpus"
    [result] = add_files(corpus, [big], max_bytes=10_000)
    assert not result.ok
    assert "big.txt: the file is" in result.message and "upload limit" in result.message
    assert list(corpus.iterdir()) == []


def test_temporary_copies_left_by_a_killed_add_are_cleaned_up(tmp_path, uploads):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    stale, fresh = corpus / ".upload-0123456789ab.txt", corpus / ".upload-ba9876543210.txt"
    stale.write_text("half a copy", encoding="utf-8")
    fresh.write_text("another add is copying this right now", encoding="utf-8")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    add_files(corpus, [uploads / "cramps.txt"], max_bytes=MB)
    assert sorted(p.name for p in corpus.iterdir()) == [fresh.name, "cramps.txt"]


def test_missing_path_gets_an_error(tmp_path):
    [result] = add_files(tmp_path / "corpus", [tmp_path / "nope.txt"], max_bytes=MB)
    assert not result.ok and "not a file" in result.message


def _different_file(uploads: Path) -> Path:
    other = uploads / "other" / "cramps.txt"
    other.parent.mkdir()
    other.write_text("Night cramps wake people up.\n", encoding="utf-8")
    return other


def test_same_name_other_content_is_renamed_not_overwritten(tmp_path, uploads):
    corpus = tmp_path / "corpus"
    add_files(corpus, [uploads / "cramps.txt"], max_bytes=MB)
    [again] = add_files(corpus, [uploads / "cramps.txt"], max_bytes=MB)
    assert again.ok and again.name == "cramps.txt" and "same content" in again.message
    [renamed] = add_files(corpus, [_different_file(uploads)], max_bytes=MB)
    assert renamed.ok and renamed.name == "cramps-2.txt" and "saved as cramps-2.txt" in renamed.message
    assert (corpus / "cramps.txt").read_bytes() == (uploads / "cramps.txt").read_bytes()
    assert (corpus / "cramps-2.txt").read_text(encoding="utf-8") == "Night cramps wake people up.\n"
    assert renamed.document.name == "cramps-2.txt" and renamed.document.title == "Cramps 2"


def test_conflict_policy_error_and_replace(tmp_path, uploads):
    corpus = tmp_path / "corpus"
    add_files(corpus, [uploads / "cramps.txt"], max_bytes=MB)
    other = _different_file(uploads)
    [refused] = add_files(corpus, [other], max_bytes=MB, on_conflict="error")
    assert not refused.ok and "a different file named cramps.txt is already in the corpus" in refused.message
    assert (corpus / "cramps.txt").read_bytes() == (uploads / "cramps.txt").read_bytes()
    [replaced] = add_files(corpus, [other], max_bytes=MB, on_conflict="replace")
    assert replaced.ok and "replaced" in replaced.message
    assert (corpus / "cramps.txt").read_bytes() == other.read_bytes()
    assert sorted(p.name for p in corpus.iterdir()) == ["cramps.txt"]


# ---- indexing what was added --------------------------------------------------------------


def _embedded(embedder: FakeEmbedder, before: int) -> int:
    """Texts embedded since ``before``, leaving out the calibration probes every change encodes."""
    return embedder.texts_encoded - before - len(PROBE_QUESTIONS)


def test_index_added_embeds_only_the_new_documents(tmp_path, uploads):
    corpus, store, embedder = tmp_path / "corpus", FaissStore(tmp_path / "index"), FakeEmbedder()
    first = add_files(corpus, [uploads / "cramps.txt", uploads / "leaflet.pdf"], max_bytes=MB)
    progress: list[tuple[int, int]] = []
    report = index_added(store, embedder, first, on_progress=lambda done, total: progress.append((done, total)))
    assert sorted(report.added) == ["cramps.txt", "leaflet.pdf"] and not report.errors
    total = report.chunks_embedded
    assert progress[0] == (0, total) and progress[-1] == (total, total)

    before = embedder.texts_encoded
    second = add_files(corpus, [uploads / "guide.docx", uploads / "cramps.txt", uploads / "empty.txt"], max_bytes=MB)
    report = index_added(store, embedder, second)
    guide_chunks = len(chunk_text(second[0].document.text, "guide.docx", ChunkingSettings()))
    assert report.added == ["guide.docx"] and report.unchanged == ["cramps.txt"]
    assert report.chunks_embedded == guide_chunks
    assert _embedded(embedder, before) == guide_chunks
    assert "empty.txt" in report.errors
    assert sorted(store.documents()) == ["cramps.txt", "guide.docx", "leaflet.pdf"]

    calls = embedder.calls
    report = index_added(store, embedder, add_files(corpus, [uploads / "guide.docx"], max_bytes=MB))
    assert not report.changed and embedder.calls == calls  # nothing new: nothing embedded, nothing written


def test_remove_document_takes_it_out_of_folder_and_index(tmp_path, uploads):
    corpus, store, embedder = tmp_path / "corpus", FaissStore(tmp_path / "index"), FakeEmbedder()
    index_added(store, embedder, add_files(corpus, [uploads / "cramps.txt", uploads / "sleep.html"], max_bytes=MB))
    result = remove_document(corpus, store, "sleep.html")
    assert result.removed_from_index and result.file_deleted
    assert sorted(store.documents()) == ["cramps.txt"]
    assert all(c.doc == "cramps.txt" for c in store.all_chunks())
    assert sorted(p.name for p in corpus.iterdir()) == ["cramps.txt"]
    with pytest.raises(DocumentError, match="no such document"):
        remove_document(corpus, store, "sleep.html")


@pytest.mark.parametrize("name", ["../index/CURRENT", "/etc/passwd", "..", "."])
def test_remove_refuses_names_outside_the_corpus(tmp_path, uploads, name):
    corpus, store = tmp_path / "corpus", FaissStore(tmp_path / "index")
    index_added(store, FakeEmbedder(), add_files(corpus, [uploads / "cramps.txt"], max_bytes=MB))
    with pytest.raises(DocumentError, match="not a document of the corpus folder"):
        remove_document(corpus, store, name)
    assert (tmp_path / "index" / "CURRENT").exists()


def test_index_lock_nests_in_a_thread_and_excludes_other_threads(tmp_path):
    store = FaissStore(tmp_path / "index")
    outcome: list[str] = []

    def other_writer() -> None:
        try:
            with index_lock(store, timeout=0.2):
                outcome.append("got it")
        except IndexBusy as err:
            outcome.append(str(err))

    with index_lock(store):
        with index_lock(store, timeout=0):  # the same thread: no deadlock
            thread = threading.Thread(target=other_writer)
            thread.start()
            thread.join()
    assert outcome and "in progress" in outcome[0]
    thread = threading.Thread(target=other_writer)
    thread.start()
    thread.join()
    assert outcome[1] == "got it"


# ---- the command line ---------------------------------------------------------------------


@pytest.fixture
def fake_cli(monkeypatch) -> FakeEmbedder:
    embedder = FakeEmbedder()
    monkeypatch.setattr(cli.Embedder, "from_settings", staticmethod(lambda settings: embedder))
    return embedder


def test_cli_add_list_remove(tmp_path, uploads, fake_cli, capsys):
    corpus, index = str(tmp_path / "corpus"), str(tmp_path / "index")
    paths = [str(uploads / n) for n in ("cramps.txt", "leaflet.pdf", "empty.txt")]
    assert cli.main(["add", *paths, "--corpus", corpus, "--index", index]) == 1  # one file refused
    out, err = capsys.readouterr()
    assert "added as cramps.txt" in out and "added as leaflet.pdf" in out and "2 added" in out
    assert "refused empty.txt: the file is empty" in err

    assert cli.main(["list", "--index", index]) == 0
    listed = capsys.readouterr().out
    assert "cramps.txt\t1 chunks" in listed and "leaflet.pdf" in listed

    other = _different_file(uploads)
    assert cli.main(["add", str(other), "--corpus", corpus, "--index", index, "--no-rename"]) == 1
    assert "already in the corpus" in capsys.readouterr().err
    assert cli.main(["add", str(other), "--corpus", corpus, "--index", index, "--replace"]) == 0
    assert "1 updated" in capsys.readouterr().out

    assert cli.main(["remove", "leaflet.pdf", "--corpus", corpus, "--index", index]) == 0
    assert "removed leaflet.pdf from the index and the corpus folder" in capsys.readouterr().out
    assert cli.main(["remove", "leaflet.pdf", "--corpus", corpus, "--index", index]) == 1
    assert "no such document" in capsys.readouterr().err
    assert sorted(FaissStore(Path(index)).documents()) == ["cramps.txt"]


def test_cli_build_refuses_huge_files_and_indexes_the_rest(tmp_path, uploads, fake_cli, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cramps.txt").write_bytes((uploads / "cramps.txt").read_bytes())
    (corpus / "huge.txt").write_text("Cramps are common. " * 20_000, encoding="utf-8")
    args = ["build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--max-file-mb", "0.1"]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert "skipped huge.txt: the file is 0.4 MB, over the 0.1 MB limit" in err
    assert "1 added" in out
    assert cli.main(args) == 0
    assert "up to date, nothing to do" in capsys.readouterr().out
