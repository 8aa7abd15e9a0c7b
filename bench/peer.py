"""The peer: quotebot's ``Bot.ask`` against txtai on the same model, text and questions, in one process.

txtai (an optional extra: ``pip install -e '.[peer]'``) is a well-known
embeddings database built the way a user would set one up for this job:
``Embeddings(path=<the bundled model folder>, content=True)`` (dense: the model
plus a FAISS index plus SQLite for the text) and the same with ``hybrid=True``
(dense plus its BM25 index, what quotebot's retrieval also does). Both index
exactly the texts quotebot's index embedded (``Chunk.embed_text`` of every chunk)
and answer with the 3 best, as ``Bot.ask`` does.

The contenders are timed question by question, taking turns in a rotating order,
so that a busy spell on the machine falls on all of them. ``Bot.ask`` runs with
the default backend (onnx-int8), with fp32 ONNX, and, as the reference, with
``torch``, on one index (built with the default backend); txtai runs its own
defaults (PyTorch).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Sequence

from .report import Section
from .timing import Timing, summarize_seconds

__all__ = ["PeerResult", "measure_peer", "peer_section", "TARGET"]

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0  # Bot.ask at least this many times faster than txtai dense, per question
BACKENDS = ("onnx-int8", "onnx", "torch")  # quotebot's contenders: the int8 default, fp32 ONNX, and the reference


def ours(backend: str) -> str:
    return f"quotebot Bot.ask ({backend})"


OURS = ours(BACKENDS[0])


@dataclass(frozen=True)
class PeerResult:
    timings: dict[str, Timing]  # by contender, in the order they were set up
    chunks: int
    questions: int
    rounds: int
    setup_s: dict[str, float]  # load + index, by contender
    txtai_version: str

    def ratio(self, name: str) -> float:
        """How many times slower ``name`` is than quotebot's default ``Bot.ask`` (median per question)."""
        return self.timings[name].median_ms / self.timings[OURS].median_ms


def _questions(path: Path) -> list[str]:
    return [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _txtai(model_dir: str, texts: Sequence[str], *, hybrid: bool) -> Callable[[str], object]:
    from txtai import Embeddings

    embeddings = Embeddings(path=model_dir, content=True, hybrid=hybrid)
    embeddings.index([(i, text, None) for i, text in enumerate(texts)])
    return lambda question: embeddings.search(question, 3)


def measure_peer(
    questions: Sequence[str] | None = None,
    corpus: Path | None = None,
    *,
    rounds: int = 2,
    log: Callable[[str], None] = print,
) -> PeerResult:
    """Index ``corpus`` with quotebot and with txtai, then time every contender on every question, in turns."""
    try:
        import txtai  # noqa: F401
    except ImportError as err:
        raise SystemExit("the peer benchmark needs txtai: pip install -e '.[peer]'") from err
    from bot.bot import Bot
    from indexer.build import build_corpus
    from indexer.embedding import DEFAULT_MODEL, Embedder, resolve_model
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore

    corpus = corpus or ROOT / "corpus"
    questions = list(questions or _questions(ROOT / "eval" / "muscle_spasms.jsonl"))
    contenders: dict[str, Callable[[str], object]] = {}
    setup: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="quotebot-bench-peer-") as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index", corpus_dir=corpus)
        for backend in BACKENDS:
            name = ours(backend)
            started = time.perf_counter()
            embedder = Embedder(settings.model, backend=backend)
            if not contenders:
                log(f"peer: indexing {corpus} with quotebot ({backend})")
                build_corpus(corpus, FaissStore(settings.index_dir), embedder)
            bot = Bot.load(settings, embedder=embedder)
            bot.warm_up()
            contenders[name] = bot.ask
            setup[name] = time.perf_counter() - started
        texts = [c.embed_text for c in FaissStore(settings.index_dir).all_chunks()]
        model_dir = resolve_model(DEFAULT_MODEL)
        for name, hybrid in (("txtai dense", False), ("txtai hybrid (dense + BM25)", True)):
            log(f"peer: indexing the same {len(texts)} chunk texts with {name}")
            started = time.perf_counter()
            contenders[name] = _txtai(model_dir, texts, hybrid=hybrid)
            setup[name] = time.perf_counter() - started
        for call in contenders.values():  # first calls allocate caches and thread pools
            for question in questions[:5]:
                call(question)
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        log(f"peer: {len(questions)} questions x {rounds} rounds, contenders in turns")
        for round_ in range(rounds):
            for n, question in enumerate(questions):
                shift = (n + round_) % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    contenders[name](question)
                    seconds[name].append(time.perf_counter() - started)
    return PeerResult(
        {name: summarize_seconds(values) for name, values in seconds.items()},
        len(texts),
        len(questions),
        rounds,
        setup,
        version("txtai"),
    )


def peer_section(result: PeerResult) -> Section:
    section = Section(
        "peer",
        "The peer: quotebot against txtai, same model, same chunks, same questions, one process",
        ["contender", "median (ms)", "p95 (ms)", "times slower than Bot.ask", "target", "met"],
    )
    for name, timing in result.timings.items():
        ratio = result.ratio(name)
        is_target = name == "txtai dense"
        section.add(
            name,
            timing.median_ms,
            timing.p95_ms,
            f"{ratio:.2f}x",
            f">= {TARGET:g}x" if is_target else "-",
            ("yes" if ratio >= TARGET else "no") if is_target else "-",
        )
    section.notes.append(
        f"txtai {result.txtai_version}, Embeddings(path=<bundled model>, content=True[, hybrid=True]), search(q, 3); "
        f"{result.chunks} chunks, {result.questions} questions x {result.rounds} rounds, contenders in rotating turns"
    )
    section.data = {
        "timings": {name: t.to_dict() for name, t in result.timings.items()},
        "ratios": {name: result.ratio(name) for name in result.timings},
        "setup_s": result.setup_s,
        "chunks": result.chunks,
        "txtai": result.txtai_version,
    }
    return section
