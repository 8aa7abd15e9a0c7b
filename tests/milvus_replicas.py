"""The processes of the replica test: bot replicas that answer, and an indexer that changes documents.

    python -m tests.milvus_replicas replica --uri URI --collection C --log r.jsonl --done FILE --final Q...
    python -m tests.milvus_replicas writer --uri URI --collection C --corpus DIR --log w.jsonl --done FILE --rounds N

Each is a separate process, as replicas of the app are: a replica opens the store
once and never restarts; it asks its questions in a loop until the writer's
``--done`` file appears (bounded by ``--max-seconds``), then asks the ``--final``
questions, and logs every question with its start and end time, the answer and
any exception. The writer adds one new document per round and removes the one it
added the round before, logging when each change started and was committed, and
each document's stored text. The fake embedder keeps them light: this checks
consistency across processes, not answer quality.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from bot.bot import Bot
from indexer.build import build_corpus
from indexer.stores.milvus import MilvusStore
from tests.fakes import FakeEmbedder

QUESTIONS = [
    "What relieves a leg cramp?",
    "How many hours of sleep do adults need?",
    "What do zebras eat in round one?",
    "Where do zebras sleep in round two?",
    "Why do zebras run in round three?",
    "What do otters hold while floating?",
]


def round_document(r: int) -> tuple[str, str]:
    """The document the writer adds in round ``r``: a name and a text no other round shares."""
    topics = ["eat dry grass", "sleep standing in herds", "run from lions", "drink at the river", "roll in dust"]
    return f"round-{r}.txt", (
        f"Zebras in round {['zero', 'one', 'two', 'three', 'four', 'five', 'six'][r % 7]} {topics[r % len(topics)]}. "
        f"Round {r} notes that zebra stripes differ for each animal.\n"
    )


def _log(path: Path, entry: dict) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def replica(args: argparse.Namespace) -> int:
    bot = Bot(MilvusStore(args.uri, collection=args.collection), FakeEmbedder())
    bot.check_index()
    deadline = time.monotonic() + args.max_seconds
    i = 0
    while not args.done.exists() and time.monotonic() < deadline:
        _ask(bot, QUESTIONS[i % len(QUESTIONS)], args.log, "during")
        i += 1
    time.sleep(0.5)
    for question in args.final:
        _ask(bot, question, args.log, "final")
    return 0


def _ask(bot: Bot, question: str, log: Path, phase: str) -> None:
    t0 = time.time()
    try:
        answer, error = bot.ask(question).to_dict(), None
    except Exception:
        answer, error = None, traceback.format_exc()
    _log(log, {"phase": phase, "q": question, "t0": t0, "t1": time.time(), "answer": answer, "error": error})


def writer(args: argparse.Namespace) -> int:
    store = MilvusStore(args.uri, collection=args.collection)
    for r in range(args.rounds):
        name, text = round_document(r)
        (args.corpus / name).write_text(text, encoding="utf-8")
        t0 = time.time()
        build_corpus(args.corpus, store, FakeEmbedder())
        _log(args.log, {"event": "add", "doc": name, "t0": t0, "t1": time.time(), "text": store.document_text(name)})
        if r > 0:
            old, _ = round_document(r - 1)
            (args.corpus / old).unlink()
            t0 = time.time()
            build_corpus(args.corpus, store, FakeEmbedder())
            _log(args.log, {"event": "remove", "doc": old, "t0": t0, "t1": time.time()})
    args.done.write_text("done", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.milvus_replicas")
    parser.add_argument("role", choices=["replica", "writer"])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--done", type=Path, required=True)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=180)
    parser.add_argument("--final", nargs="*", default=[])
    args = parser.parse_args(argv)
    try:
        return replica(args) if args.role == "replica" else writer(args)
    except Exception:
        _log(args.log, {"fatal": traceback.format_exc()})
        raise


if __name__ == "__main__":
    sys.exit(main())
