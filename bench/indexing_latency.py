"""Question latency while the page indexes an upload, next to the quiet figure.

    python -m bench.indexing_latency [--passages 1500] [--quiet 30] [--worker-nice N]

The real model and the page's own handlers (``quotebot_app.handlers.Page``) in this process, on
a copy of the bundled corpus: first ``--quiet`` questions one after another with nothing else
running, then the same questions in a loop while ``Page.upload`` indexes a document of about
``--passages`` passages (the start of Walden, from ``eval/docs/prose-long``), from the upload
until it is searchable. Prints p50, p95 and max of each phase, their ratio, and how long the
indexing took. Latency is ``Page.api_ask`` (what ``/ask`` runs), without HTTP.
``--worker-nice`` runs the indexing worker at another priority than its default (10), for
machines whose other processes would starve it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from .timing import percentile

ROOT = Path(__file__).resolve().parent.parent
WALDEN = ROOT / "eval" / "docs" / "prose-long" / "walden-and-civil-disobedience.txt"


def _document(passages: int, folder: Path) -> tuple[Path, int]:
    """The start of Walden cut at a paragraph end once it makes ``passages`` passages."""
    from indexer.chunking import chunk_text

    text = WALDEN.read_text(encoding="utf-8")
    cut = min(len(text), passages * 80)
    while True:
        end = text.find("\n\n", cut)
        piece = text[: end if end > 0 else len(text)]
        made = len(chunk_text(piece, "walden-part.txt"))
        if made >= passages or end < 0:
            break
        cut = int(cut * passages / max(made, 1)) + 1000
    path = folder / "walden-part.txt"
    path.write_text(piece, encoding="utf-8")
    return path, made


def _questions() -> list[str]:
    lines = (ROOT / "eval" / "muscle_spasms.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines if line.strip()]


def _row(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"| {name} | {len(ms)} | {percentile(ms, 50):,.0f} | {percentile(ms, 95):,.0f} | {max(ms):,.0f} |"


def run(passages: int, quiet_n: int, worker_nice: int | None = None) -> str:
    from bot.bot import Bot
    from indexer import worker
    from indexer.build import build_corpus
    from indexer.embedding import Embedder
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore
    from quotebot_app.feedback import FeedbackLog
    from quotebot_app.handlers import Page

    if worker_nice is not None:
        worker.NICE = worker_nice

    work = Path(tempfile.mkdtemp(prefix="qb-indexing-latency-"))
    try:
        corpus = work / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        settings = Settings(corpus_dir=corpus, index_dir=work / "index", feedback_path=work / "fb.jsonl")
        embedder = Embedder.from_settings(settings)
        build_corpus(corpus, FaissStore(settings.index_dir), embedder)
        bot = Bot.load(settings, embedder=embedder)
        bot.warm_up()
        page = Page(bot, settings, FeedbackLog(settings.feedback_path))
        questions = _questions()
        for q in questions[:3]:
            page.api_ask(q, 3, [])

        quiet = []
        for q in (questions * 10)[:quiet_n]:
            started = time.perf_counter()
            page.api_ask(q, 3, [])
            quiet.append(time.perf_counter() - started)

        upload_dir = work / "uploads"
        upload_dir.mkdir()
        path, made = _document(passages, upload_dir)
        report = {}

        def index() -> None:
            report["result"] = page.upload([str(path)])

        busy, i = [], 0
        indexing = threading.Thread(target=index)
        started_indexing = time.perf_counter()
        indexing.start()
        while indexing.is_alive():
            q = questions[i % len(questions)]
            i += 1
            started = time.perf_counter()
            page.api_ask(q, 3, [])
            busy.append(time.perf_counter() - started)
        indexing.join()
        indexing_s = time.perf_counter() - started_indexing
        result = report["result"]
        assert not result.error and result.done, result
        searchable = "walden-part.txt" in bot.store.documents()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    p95_ratio = percentile(busy, 95) / percentile(quiet, 95) if busy else float("nan")
    lines = [
        f"python -m bench.indexing_latency --passages {passages} --quiet {quiet_n}"
        + (f" --worker-nice {worker_nice}" if worker_nice is not None else "")
        + "  "
        f"({os.cpu_count()} CPU cores; document: {made:,} passages, indexed in {indexing_s:.1f} s, searchable: {searchable})",
        "",
        "| phase | questions | p50 (ms) | p95 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        _row("quiet", quiet),
        _row("while indexing", busy) if busy else "| while indexing | 0 | – | – | – |",
        "",
        f"p95 while indexing / p95 quiet: {p95_ratio:.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.indexing_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1500, help="passages in the uploaded document")
    parser.add_argument("--quiet", type=int, default=30, help="questions asked with nothing else running")
    parser.add_argument(
        "--worker-nice", type=int, help="priority of the indexing worker (default: indexer.worker.NICE)"
    )
    args = parser.parse_args(argv)
    print(run(args.passages, args.quiet, args.worker_nice))
    return 0


if __name__ == "__main__":
    sys.exit(main())
