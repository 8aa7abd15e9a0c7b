"""Steady under contention: ``Bot.ask`` per question on a quiet machine and with a CPU-burning neighbour.

Another process on a small machine (a test suite, an upload being indexed, a
neighbour's job) takes a core away. Libraries that split one small forward
pass over every core then wait at each operator for the thread that lost its
core, and one question can take 20 to 40 times longer. This section asks the
same questions with several thread settings, taking turns question by
question, in blocks: quiet, then with ``burners`` processes spinning on a core
each, repeated. The neighbours are bounded in time (they exit by themselves
after their block, and are stopped at its end).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .report import Section
from .timing import Timing, summarize_seconds

__all__ = ["ContentionResult", "Variant", "measure_contention", "contention_section", "start_burners", "TARGET"]

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0  # busy median at most this many times the quiet one, for the default
DEFAULT_VARIANT = "onnx-int8, 1 thread per question (default)"
_BURN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@dataclass(frozen=True)
class ContentionResult:
    quiet: dict[str, Timing]
    busy: dict[str, Timing]
    burners: int
    questions: int
    blocks: int

    def slowdown(self, name: str) -> float:
        return self.busy[name].median_ms / self.quiet[name].median_ms


def start_burners(count: int, seconds: float) -> list[subprocess.Popen]:
    """``count`` processes that each keep one core busy for at most ``seconds``."""
    code = _BURN.format(seconds=float(seconds))
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Variant:
    ask: Callable[[str], object]
    prepare: Callable[[], None] = lambda: None  # untimed, before each question (torch's thread count is process-wide)


def _variants(settings) -> dict[str, Variant]:
    """One ``Bot`` per thread setting over the same index."""
    import torch

    from bot.bot import Bot
    from indexer.embedding import Embedder, resolve_model
    from indexer.onnx_backend import OnnxEncoder

    default = Embedder(settings.model, backend="onnx-int8")
    before = Embedder(settings.model, backend="onnx-int8")
    before._model = OnnxEncoder(  # ONNX Runtime's own thread default, as this backend ran before
        Path(resolve_model(settings.model)), before.cache_dir, quantized=True, threads_per_call=None
    )
    reference = Embedder(settings.model, backend="torch", device="cpu")
    bots = [Bot.load(settings, embedder=e) for e in (default, before, reference)]
    for bot in bots:
        bot.warm_up()
    cores = torch.get_num_threads()
    return {
        DEFAULT_VARIANT: Variant(bots[0].ask),
        "onnx-int8, ONNX Runtime's default threads (before)": Variant(bots[1].ask),
        f"torch, default threads ({cores})": Variant(bots[2].ask, lambda: torch.set_num_threads(cores)),
        "torch, 1 thread": Variant(bots[2].ask, lambda: torch.set_num_threads(1)),
    }


def _block(
    variants: dict[str, Variant], questions: Sequence[str], seconds: dict[str, list[float]], offset: int
) -> None:
    names = list(variants)
    for n, question in enumerate(questions):
        shift = (n + offset) % len(names)
        for name in names[shift:] + names[:shift]:
            variant = variants[name]
            variant.prepare()
            started = time.perf_counter()
            variant.ask(question)
            seconds[name].append(time.perf_counter() - started)


def measure_contention(
    questions: Sequence[str] | None = None,
    *,
    burners: int = 1,
    blocks: int = 2,
    block_limit_s: float = 120.0,
    log: Callable[[str], None] = print,
) -> ContentionResult:
    """Alternate quiet and busy blocks ``blocks`` times; every variant answers every question in each block."""
    from indexer.build import build_corpus
    from indexer.embedding import Embedder
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore

    corpus = ROOT / "corpus"
    if questions is None:
        path = ROOT / "eval" / "muscle_spasms.jsonl"
        questions = [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][
            :40
        ]
    with tempfile.TemporaryDirectory(prefix="quotebot-bench-contention-") as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index", corpus_dir=corpus)
        build_corpus(corpus, FaissStore(settings.index_dir), Embedder(settings.model, backend="onnx-int8"))
        variants = _variants(settings)
        quiet: dict[str, list[float]] = {name: [] for name in variants}
        busy: dict[str, list[float]] = {name: [] for name in variants}
        for block in range(blocks):
            log(f"contention: block {block + 1}/{blocks}, quiet")
            _block(variants, questions, quiet, block)
            log(f"contention: block {block + 1}/{blocks}, {burners} CPU-burning neighbour(s)")
            neighbours = start_burners(burners, block_limit_s)
            try:
                time.sleep(0.5)  # let the neighbours get going
                _block(variants, questions, busy, block)
            finally:
                _stop(neighbours)
    return ContentionResult(
        {n: summarize_seconds(v) for n, v in quiet.items()},
        {n: summarize_seconds(v) for n, v in busy.items()},
        burners,
        len(questions),
        blocks,
    )


def contention_section(result: ContentionResult) -> Section:
    section = Section(
        "contention",
        f"Bot.ask per question, quiet and with {result.burners} CPU-burning neighbour(s)",
        ["thread setting", "quiet median (ms)", "busy median (ms)", "busy p95 (ms)", "busy / quiet", "target", "met"],
    )
    for name in result.quiet:
        ratio = result.slowdown(name)
        is_default = name == DEFAULT_VARIANT
        section.add(
            name,
            result.quiet[name].median_ms,
            result.busy[name].median_ms,
            result.busy[name].p95_ms,
            f"{ratio:.2f}x",
            f"<= {TARGET:g}x" if is_default else "-",
            ("yes" if ratio <= TARGET else "no") if is_default else "-",
        )
    section.notes.append(
        f"{result.questions} questions of eval/muscle_spasms.jsonl per block, {result.blocks} quiet and {result.blocks} busy "
        "blocks alternating, variants in rotating turns question by question; a neighbour is a Python loop on one core"
    )
    section.data = {
        "quiet": {n: t.to_dict() for n, t in result.quiet.items()},
        "busy": {n: t.to_dict() for n, t in result.busy.items()},
        "burners": result.burners,
    }
    return section
