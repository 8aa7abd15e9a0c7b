"""Processes for the concurrency tests: a writer that commits as fast as it can, readers that open afresh.

    python -m tests.churn write --index I --seconds 5     # replaces one document again and again
    python -m tests.churn read --index I --seconds 5      # opens the index anew each time and quotes

Each prints one JSON line when its time is up: the writer ``{"commits": n}``, a reader
``{"reads": n, "failures": [message, ...]}``. A read opens a new ``FaissStore`` (as a fresh
``python -m bot ask`` would), searches, reads the text of every hit and checks that the chunk is
the exact slice of that text. The writer uses the fake embedder's vectors and ``apply`` directly,
so each commit costs only the write of a generation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path


def churn_text(number: int) -> str:
    return f"Churn number {number} changes this sentence. The writer commits again and again.\n"


def write(index: Path, seconds: float) -> dict:
    from indexer.build import _now
    from indexer.chunking import ChunkingSettings, chunk_text
    from indexer.manage import index_lock
    from indexer.stores import DocumentRecord, NewDocument
    from indexer.stores.faiss import FaissStore
    from tests.fakes import FakeEmbedder

    store, embedder = FaissStore(index), FakeEmbedder()
    commits, deadline = 0, time.monotonic() + seconds
    while commits == 0 or time.monotonic() < deadline:
        text = churn_text(commits)
        with index_lock(store):
            manifest = store.read_manifest()
            chunks = chunk_text(text, "churn.txt", ChunkingSettings.from_dict(manifest.chunking))
            record = DocumentRecord(
                "churn.txt", f"{commits:064x}", f"Churn {commits}", "txt", "churn.txt", len(chunks), _now()
            )
            vectors = embedder.encode([c.embed_text for c in chunks])
            documents = dict(manifest.documents, **{"churn.txt": record})
            store.apply(
                remove=[],
                add=[NewDocument(record, text, chunks, vectors)],
                manifest=replace(manifest, documents=documents),
            )
        commits += 1
    return {"commits": commits}


def read(index: Path, seconds: float) -> dict:
    from bot.bot import Bot
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore
    from tests.fakes import FakeEmbedder

    reads, failures, deadline = 0, [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            bot = Bot(FaissStore(index), FakeEmbedder(), settings=Settings(index_dir=index, corpus_dir=index))
            answer = bot.ask("What number does the churn writer change again?", k=5)
            if answer.abstained:
                failures.append(f"abstained: {answer.message}")
            for p in answer.passages:
                failures.extend(_mixed(p, bot))
        except Exception as err:
            failures.append(f"{type(err).__name__}: {err}")
        reads += 1
    return {"reads": reads, "failures": failures}


def _mixed(passage, bot) -> list[str]:
    """Signs that one answer mixed two generations: a title of one churn version, a text of another."""
    if passage.document != "churn.txt":
        if bot.store.document_text(passage.document)[passage.start : passage.end] != passage.text:
            return [f"{passage.document}: the quote is not a slice of its text"]
        return []
    number = passage.title.removeprefix("Churn ")
    if churn_text(int(number))[passage.start : passage.end] != passage.text:
        return [f"churn.txt: title {passage.title!r} but the quote {passage.text!r} is of another version"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.churn")
    parser.add_argument("role", choices=["write", "read"])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    result = (write if args.role == "write" else read)(args.index, args.seconds)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
