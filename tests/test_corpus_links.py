"""A link in the corpus folder that points outside it is refused with a message, never indexed or
quoted, and ``remove`` takes the link away (never the file it points to). Real processes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bot.bot import Bot
from indexer.settings import Settings
from tests.fake_indexer import run_fake_indexer
from tests.fakes import FakeEmbedder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(PROJECT_ROOT))
SECRET = "The vault combination is seven four one nine."


def _indexer(*args: str) -> subprocess.CompletedProcess:
    return run_fake_indexer(*args)


def test_a_link_out_of_the_corpus_folder_is_refused_and_can_be_removed(tmp_path, small_corpus):
    outside = tmp_path / "private" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text(SECRET + "\n", encoding="utf-8")
    (small_corpus / "secret.txt").symlink_to(outside)
    (small_corpus / "passwd.txt").symlink_to("/etc/passwd")
    (small_corpus / "cramps-again.txt").symlink_to(small_corpus / "cramps.txt")  # inside the folder: fine
    index = tmp_path / "index"
    where = ["--corpus", str(small_corpus), "--index", str(index)]

    built = _indexer("build", *where)
    assert built.returncode == 0, built.stderr
    for name in ("secret.txt", "passwd.txt"):
        assert f"skipped {name}: a link to a file outside the corpus folder" in built.stderr
    listed = json.loads(_indexer("list", "--json", *where).stdout)
    assert sorted(d["name"] for d in listed) == ["cramps-again.txt", "cramps.txt", "sleep.md"]
    bot = Bot.load(Settings(index_dir=index, corpus_dir=small_corpus), embedder=FakeEmbedder())
    answer = bot.ask("What is the vault combination?")
    assert all("vault" not in p.text and "root:" not in p.text for p in answer.passages)

    removed = _indexer("remove", "secret.txt", *where)
    assert removed.returncode == 0 and "removed secret.txt from the corpus folder" in removed.stdout, removed.stderr
    assert not (small_corpus / "secret.txt").is_symlink() and outside.read_text(encoding="utf-8") == SECRET + "\n"
