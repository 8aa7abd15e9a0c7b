"""Readers and writers in separate processes: readers never fail because of a healthy writer, and a
running bot answers every question from one whole generation, the newest committed before it.

Real processes (``tests/churn.py``, ``python -m indexer`` with the fake embedder), bounded in time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.bot import Bot
from indexer.build import build_corpus
from indexer.settings import Settings
from indexer.stores.faiss import FaissStore
from tests import churn
from tests.fake_indexer import run_fake_indexer
from tests.fakes import FakeEmbedder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(PROJECT_ROOT))


def _python(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], cwd=PROJECT_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _result(process: subprocess.Popen, timeout: float = 60) -> dict:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def big_index(tmp_path: Path) -> Path:
    """About 6,000 passages: opening a generation takes long enough for a writer to overtake it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(4):
        sentences = [f"Topic {d}-{i} is described by sentence number {i} of document {d}." for i in range(500)]
        (corpus / f"doc{d}.txt").write_text(
            "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, 500, 5)), encoding="utf-8"
        )
    build_corpus(corpus, FaissStore(tmp_path / "index"), FakeEmbedder())
    churn.write(tmp_path / "index", 0)  # one commit: the churning document is there from the start
    return tmp_path / "index"


def test_readers_never_see_a_damaged_index_while_a_healthy_writer_commits(big_index):
    writer = _python("-m", "tests.churn", "write", "--index", str(big_index), "--seconds", "8")
    readers = [_python("-m", "tests.churn", "read", "--index", str(big_index), "--seconds", "8") for _ in range(2)]
    wrote = _result(writer)
    reads = [_result(r) for r in readers]
    failures = [f for r in reads for f in r["failures"]]
    assert wrote["commits"] >= 3 and sum(r["reads"] for r in reads) >= 4, (wrote, reads)  # they did overlap
    assert failures == [], f"{len(failures)} of {sum(r['reads'] for r in reads)} reads failed: {failures[:3]}"


QUESTIONS = (
    "What relieves a leg cramp in the calf?",
    "What is a leg cramp?",
    "How many hours of sleep do adults need each night?",
    "Where do barn owls hunt at night?",
)


def _fake_indexer(*args: str) -> None:
    result = run_fake_indexer(*args)
    assert result.returncode == 0, result.stderr


def _answers(bot: Bot) -> list[dict]:
    return [bot.ask(q).to_dict() for q in QUESTIONS]


def test_a_running_bot_answers_from_every_change_another_process_commits(tmp_path, small_corpus):
    """A replaced word, a new document with its own title: the bot that was running answers exactly
    as a bot started afresh does (texts, offsets, titles, calibration, lexical scores)."""
    index = tmp_path / "index"
    settings = Settings(index_dir=index, corpus_dir=small_corpus)
    build_corpus(small_corpus, FaissStore(index), FakeEmbedder())
    running = Bot.load(settings, embedder=FakeEmbedder())
    assert not running.ask(QUESTIONS[0]).abstained

    edited = tmp_path / "edited" / "cramps.txt"
    edited.parent.mkdir()
    edited.write_text(
        "Cramp relief\n\n" + (small_corpus / "cramps.txt").read_text(encoding="utf-8").replace("sudden", "abrupt")
    )
    owls = tmp_path / "owls.html"
    owls.write_text(
        "<html><head><title>Owls of the night</title></head><body><h1>Barn owls</h1>"
        "<p>Barn owls hunt at night over open fields and meadows. They find mice by sound alone.</p></body></html>",
        encoding="utf-8",
    )
    for change in (["--replace", str(edited)], [str(owls)]):
        _fake_indexer("add", *change, "--corpus", str(small_corpus), "--index", str(index))
        fresh = Bot.load(settings, embedder=FakeEmbedder())
        assert _answers(running) == _answers(fresh)
    replaced = running.ask(QUESTIONS[1])
    text = (small_corpus / "cramps.txt").read_text(encoding="utf-8")
    assert any("abrupt" in p.text for p in replaced.passages)
    assert all(text[p.start : p.end] == p.text for p in replaced.passages if p.document == "cramps.txt")
    owl = running.ask(QUESTIONS[3]).passages[0]
    assert (owl.document, owl.title) == ("owls.html", "Owls of the night")


def test_replaced_generations_are_kept_for_the_grace_period_then_deleted(tmp_path, small_corpus, monkeypatch):
    import indexer.stores.faiss as faiss_store

    monkeypatch.setattr(faiss_store, "GENERATION_GRACE_S", 1.0)
    index = tmp_path / "index"
    store = FaissStore(index)
    build_corpus(small_corpus, store, FakeEmbedder())
    (small_corpus / "sleep.md").write_text("# Sleep\n\nNaps help some people.\n", encoding="utf-8")
    build_corpus(small_corpus, store, FakeEmbedder())
    generations = sorted(p.name for p in index.glob("gen-*"))
    assert generations == ["gen-000001", "gen-000002"]  # a reader that read CURRENT just before can still open it
    assert len(list((index / "texts").iterdir())) == 3  # with the texts it needs
    time.sleep(1.2)
    (small_corpus / "sleep.md").write_text("# Sleep\n\nNaps help some people a lot.\n", encoding="utf-8")
    build_corpus(small_corpus, store, FakeEmbedder())
    assert sorted(p.name for p in index.glob("gen-*")) == ["gen-000002", "gen-000003"]
    assert len(list((index / "texts").iterdir())) == 3


def test_a_store_that_cannot_tell_its_generation_is_followed_after_changed(tmp_path, small_corpus):
    """Stores without generations (Milvus today) are refreshed when this process changes them."""
    from indexer.stores import VectorStore

    class Unpinned(FaissStore):
        def generation(self):
            return None

        pinned = VectorStore.pinned

    index = tmp_path / "index"
    store = Unpinned(index)
    build_corpus(small_corpus, store, FakeEmbedder())
    bot = Bot(store, FakeEmbedder(), settings=Settings(index_dir=index, corpus_dir=small_corpus))
    assert not bot.ask(QUESTIONS[0]).abstained
    (small_corpus / "owls.md").write_text(
        "# Owls of the night\n\nBarn owls hunt at night over open fields.\n", encoding="utf-8"
    )
    build_corpus(small_corpus, store, FakeEmbedder())
    bot.changed()
    owl = bot.ask(QUESTIONS[3]).passages[0]
    assert (owl.document, owl.title) == ("owls.md", store.documents()["owls.md"].title)  # the new record's title
