"""Uploaded documents of every format answer real questions with the bundled model."""

from __future__ import annotations

import pytest

from bot.bot import Bot
from indexer.embedding import Embedder
from indexer.manage import add_files, index_added
from indexer.settings import Settings
from indexer.stores.faiss import FaissStore
from tests.docfixtures import write_mixed_formats


@pytest.mark.model
def test_uploaded_formats_are_quoted_by_the_real_model(tmp_path):
    uploads = write_mixed_formats(tmp_path / "uploads")
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus")
    embedder = Embedder(settings.model)
    results = add_files(settings.corpus_dir, uploads, max_bytes=settings.max_upload_bytes)
    report = index_added(FaissStore(settings.index_dir), embedder, results)
    assert sorted(report.added) == ["cramps.docx", "minerals.pdf", "sleep.html"]

    bot = Bot.load(settings, embedder=embedder)
    expected = {
        "How much sleep does an adult need?": ("sleep.html", "seven to nine hours"),
        "Can magnesium help with cramps at night?": ("minerals.pdf", "Magnesium supplements"),
        "What is a leg cramp?": ("cramps.docx", "sudden painful tightening"),
    }
    for question, (document, words) in expected.items():
        answer = bot.ask(question)
        assert not answer.abstained, question
        top = answer.passages[0]
        assert top.document == document and words in top.text, (question, top)
        assert bot.store.document_text(top.document)[top.start : top.end] == top.text
    assert bot.ask("Who won the football world cup in 2014?").abstained
