"""A build killed at any point leaves the old index answering; a damaged index is named on load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import indexer.__main__ as cli
import indexer.stores.faiss as faiss_store
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.manage import IndexBusy, index_lock
from indexer.settings import Settings
from indexer.stores import IndexCorrupt, IndexProblem
from indexer.stores.faiss import FaissStore
from tests.fakes import FakeEmbedder
from tests.slow_build import PAUSE_POINTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CRAMP_QUESTION = "What relieves a leg cramp in the calf?"
SLEEP_QUESTION = "How many hours of sleep do adults need each night?"


def _bot(tmp_path: Path, corpus: Path) -> Bot:
    return Bot.load(Settings(index_dir=tmp_path / "index", corpus_dir=corpus), embedder=FakeEmbedder())


def _assert_verbatim(bot: Bot, answer) -> None:
    for passage in answer.passages:
        assert bot.store.document_text(passage.document)[passage.start : passage.end] == passage.text


def _start_paused_build(tmp_path: Path, corpus: Path, pause_at: str) -> subprocess.Popen:
    marker = tmp_path / f"paused-{pause_at}"
    command = [
        sys.executable,
        "-m",
        "tests.slow_build",
        "--pause-at",
        pause_at,
        "--marker",
        str(marker),
        "--",
        "build",
        "--corpus",
        str(corpus),
        "--index",
        str(tmp_path / "index"),
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(PROJECT_ROOT))
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the build ended before pausing at {pause_at}: {process.stdout.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the build did not reach {pause_at} within 60 s")
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("pause_at", PAUSE_POINTS)
def test_build_killed_midway_leaves_the_old_index_answering(tmp_path, small_corpus, monkeypatch, pause_at):
    monkeypatch.setattr(faiss_store, "GENERATION_GRACE_S", -1)  # no reader here: replaced generations go at once
    store = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, store, FakeEmbedder())
    (small_corpus / "sleep.md").unlink()  # the old index has no sleep document yet
    build_corpus(small_corpus, store, FakeEmbedder())
    assert sorted(store.documents()) == ["cramps.txt"]
    (small_corpus / "sleep.md").write_text(
        "# Sleep\n\nAdults need seven to nine hours of sleep each night.\n", encoding="utf-8"
    )
    cramps = small_corpus / "cramps.txt"
    cramps.write_text(cramps.read_text(encoding="utf-8") + "\nMassage also relieves a cramp.\n", encoding="utf-8")

    process = _start_paused_build(tmp_path, small_corpus, pause_at)
    with pytest.raises(IndexBusy):  # the paused build holds the writer lock
        with index_lock(FaissStore(tmp_path / "index"), timeout=0.1):
            pass
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    _assert_paused_where_asked(tmp_path / "index", pause_at)

    bot = _bot(tmp_path, small_corpus)
    assert sorted(bot.manifest.documents) == ["cramps.txt"]
    answer = bot.ask(CRAMP_QUESTION)
    assert not answer.abstained and answer.passages[0].document == "cramps.txt"
    assert all("Massage" not in p.text for p in answer.passages)
    _assert_verbatim(bot, answer)

    # The next build (through the CLI, so the lock the killed process held must be free) finishes the job.
    monkeypatch.setattr(cli.Embedder, "from_settings", staticmethod(lambda settings: FakeEmbedder()))
    assert cli.main(["build", "--corpus", str(small_corpus), "--index", str(tmp_path / "index")]) == 0
    bot = _bot(tmp_path, small_corpus)
    assert sorted(bot.manifest.documents) == ["cramps.txt", "sleep.md"]
    answer = bot.ask(SLEEP_QUESTION)
    assert not answer.abstained and answer.passages[0].document == "sleep.md"
    _assert_verbatim(bot, answer)
    leftovers = [p.name for p in (tmp_path / "index").iterdir() if p.name.startswith(".tmp-")]
    generations = [p.name for p in (tmp_path / "index").iterdir() if p.name.startswith("gen-")]
    assert leftovers == [] and len(generations) == 1


def _assert_paused_where_asked(index: Path, pause_at: str) -> None:
    """The kill really came at the named step: its half-done work is on disk, not yet live."""
    live = (index / "CURRENT").read_text().strip()
    names = {p.name for p in index.iterdir()}
    newer = {n for n in names if n.startswith("gen-") and n > live}
    temporaries = {n for n in names if n.startswith(".tmp-gen-")}
    texts = len(list((index / "texts").iterdir()))
    if pause_at == "encode":
        assert not newer and not temporaries and texts == 1
    elif pause_at == "texts":
        assert not newer and not temporaries and texts > 1
    elif pause_at == "tmp-written":
        assert not newer and len(temporaries) == 1
        assert {p.name for p in (index / temporaries.pop()).iterdir()} >= {
            "manifest.json",
            "vectors.npy",
            "index.faiss",
        }
    else:
        assert len(newer) == 1 and not temporaries


# ---- damaged files ------------------------------------------------------------------------


@pytest.fixture
def built_index(tmp_path, small_corpus) -> Path:
    build_corpus(small_corpus, FaissStore(tmp_path / "index"), FakeEmbedder())
    return tmp_path / "index"


def _index_files(index: Path) -> dict[str, Path]:
    generation = index / (index / "CURRENT").read_text().strip()
    files = {"CURRENT": index / "CURRENT"}
    files.update({p.name: p for p in generation.iterdir()})
    files.update({f"texts/{p.name}": p for p in (index / "texts").iterdir()})
    return files


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":  # same size, other bytes
        path.write_bytes(bytes((b + 97) % 256 for b in data))
    elif how == "flip-tail":  # the last few bytes changed: size and headers still look right
        path.write_bytes(data[:-6] + bytes(b ^ 0x55 for b in data[-6:]))
    elif how == "delete":
        path.unlink()


def _answer_everything(tmp_path: Path, corpus: Path) -> None:
    bot = _bot(tmp_path, corpus)
    for question in (CRAMP_QUESTION, SLEEP_QUESTION):
        bot.ask(question)


@pytest.mark.parametrize("how", ["truncate", "garbage", "flip-tail", "delete"])
@pytest.mark.parametrize("which", ["CURRENT", "manifest.json", "chunks.jsonl", "vectors.npy", "index.faiss", "text"])
def test_damaged_index_file_is_reported_clearly(tmp_path, small_corpus, built_index, caplog, which, how):
    files = _index_files(built_index)
    targets = [p for name, p in files.items() if name.startswith("texts/")] if which == "text" else [files[which]]
    for path in targets:
        _damage(path, how)
    if which == "text":  # found when a question needs it: the asker is told plainly, the log says how to repair
        bot = _bot(tmp_path, small_corpus)
        answers = [bot.ask(question) for question in (CRAMP_QUESTION, SLEEP_QUESTION)]
        assert all(a.abstained and "cannot be read" in a.message for a in answers)
        assert "python -m indexer build" in caplog.text
        return
    expected = IndexProblem if which == "CURRENT" and how == "delete" else IndexCorrupt
    with pytest.raises(expected) as err:
        _answer_everything(tmp_path, small_corpus)
    assert "python -m indexer build" in str(err.value)


@pytest.mark.parametrize(
    "which,how",
    [
        ("CURRENT", "garbage"),
        ("manifest.json", "truncate"),
        ("vectors.npy", "flip-tail"),
        ("index.faiss", "garbage"),
        ("text", "truncate"),
    ],
)
def test_build_over_a_damaged_index_rebuilds_it(tmp_path, small_corpus, built_index, monkeypatch, capsys, which, how):
    files = _index_files(built_index)
    for name, path in files.items():
        if name == which or (which == "text" and name.startswith("texts/")):
            _damage(path, how)
    monkeypatch.setattr(cli.Embedder, "from_settings", staticmethod(lambda settings: FakeEmbedder()))
    assert cli.main(["build", "--corpus", str(small_corpus), "--index", str(built_index)]) == 0
    err = capsys.readouterr().err
    assert "warning: the index is damaged" in err and "building the index again" in err
    bot = _bot(tmp_path, small_corpus)
    answer = bot.ask(CRAMP_QUESTION)
    assert not answer.abstained
    _assert_verbatim(bot, answer)
    assert cli.main(["build", "--corpus", str(small_corpus), "--index", str(built_index)]) == 0
    assert "warning" not in capsys.readouterr().err
