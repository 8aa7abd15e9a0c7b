"""Query latency: ``Bot.ask`` against the least work that answers the same question.

The reference ("bare") is the model encoding the question plus one exact
inner-product search over the same vectors for the same number of candidates,
in the same process, with the same model object. Both are timed question by
question, alternating, so that a noisy neighbour on the machine hits both
alike. A stage profile then says where ``Bot.ask`` spends what the reference does not.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .profile import StageTimer
from .report import Section
from .timing import Timing, summarize_seconds

__all__ = ["QueryResult", "bare_encoder", "measure_query", "query_section"]


@dataclass(frozen=True)
class QueryResult:
    questions: int
    rounds: int
    ask: Timing
    bare: Timing
    bare_encode: Timing
    bare_search: Timing
    stages_ms: dict[str, float]  # median exclusive milliseconds per question, by stage
    stage_calls: dict[str, float]  # calls per question, by stage
    abstained: int

    @property
    def ratio_median(self) -> float:
        return self.ask.median_ms / self.bare.median_ms if self.bare.median_ms else float("nan")

    @property
    def ratio_p95(self) -> float:
        return self.ask.p95_ms / self.bare.p95_ms if self.bare.p95_ms else float("nan")


def bare_encoder(embedder) -> Callable[[Sequence[str]], np.ndarray]:
    """The loaded model's own ``encode`` (no wrapper, no lock), or the embedder's when it has no model.

    Call after ``warm_up``: the reference is the model the embedder loaded, run directly.
    """
    model = getattr(embedder, "_model", None)
    if model is None:
        return embedder.encode
    batch_size = getattr(embedder, "batch_size", 32)
    if getattr(embedder, "backend", "torch") != "torch":  # the ONNX encoder: no extra options
        return lambda texts: model.encode(list(texts), batch_size=batch_size)
    return lambda texts: model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
    )


def _exact_index(store):
    import faiss

    chunks = store.all_chunks()
    vectors = np.ascontiguousarray(store.get_vectors([c.id for c in chunks]), dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def measure_query(bot, questions: Sequence[str], *, rounds: int = 3, log=print) -> QueryResult:
    """Time ``bot.ask`` and the bare model-plus-search on every question, ``rounds`` times, interleaved."""
    if not questions:
        raise ValueError("no questions to time")
    bot.warm_up()
    encode_many = bare_encoder(bot.embedder)

    def encode(text: str) -> np.ndarray:
        return encode_many([text])

    index = _exact_index(bot.store)
    k = bot.retriever.candidates
    for q in questions[: min(5, len(questions))]:  # warm every path once
        bot.ask(q)
        index.search(np.atleast_2d(encode(q)).astype(np.float32), k)
    ask_s, bare_s, enc_s, search_s = [], [], [], []
    abstained = 0
    for r in range(rounds):
        log(f"query: round {r + 1}/{rounds} over {len(questions)} questions")
        for q in questions:
            started = time.perf_counter()
            answer = bot.ask(q)
            ask_s.append(time.perf_counter() - started)
            abstained += answer.abstained
            started = time.perf_counter()
            vector = np.atleast_2d(encode(q)).astype(np.float32, copy=False)
            middle = time.perf_counter()
            index.search(vector, k)
            done = time.perf_counter()
            bare_s.append(done - started)
            enc_s.append(middle - started)
            search_s.append(done - middle)
    stages, calls = profile_ask(bot, questions)
    return QueryResult(
        questions=len(questions),
        rounds=rounds,
        ask=summarize_seconds(ask_s),
        bare=summarize_seconds(bare_s),
        bare_encode=summarize_seconds(enc_s),
        bare_search=summarize_seconds(search_s),
        stages_ms=stages,
        stage_calls=calls,
        abstained=abstained // rounds,
    )


def profile_ask(bot, questions: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Median exclusive milliseconds per question spent in each stage of ``Bot.ask``, and calls per question.

    Medians, not means: one question delayed by another process would otherwise
    dominate a stage that is tiny on every other question.
    """
    timer = StageTimer()
    lexical = bot.retriever.lexical()
    timer.wrap(bot, "ask", "ask: cleaning, thresholds, answer composition")
    timer.wrap(bot.embedder, "encode", "model: encode")
    timer.wrap(bot.store, "nearest", "dense search (store.nearest)")
    if lexical is not None:
        timer.wrap(lexical, "scores", "lexical: BM25 scores")
    timer.wrap(bot.retriever, "retrieve", "retrieve: fusion of dense and BM25")
    timer.wrap(bot, "_sentence_scores", "sentence vectors for the highlight")
    timer.wrap(bot, "suggest", "suggestions (abstentions only)")
    per_question: list[dict[str, float]] = []
    calls: dict[str, int] = {}
    try:
        for q in questions:
            timer.reset()
            bot.ask(q)
            per_question.append(dict(timer.exclusive))
            for label, count in timer.calls.items():
                calls[label] = calls.get(label, 0) + count
    finally:
        timer.restore()
    n = len(questions)
    labels = sorted({label for row in per_question for label in row})
    stages = {label: statistics.median(row.get(label, 0.0) for row in per_question) * 1000.0 for label in labels}
    return stages, {label: count / n for label, count in calls.items()}


def query_section(result: QueryResult, *, target_ratio: float = 1.2) -> tuple[Section, Section]:
    """The side-by-side table and the stage breakdown."""
    main = Section(
        "query",
        "Query latency: Bot.ask vs the model plus one exact search",
        ["measure", "Bot.ask", "bare model + exact search", "ratio", "target", "met"],
    )
    main.add(
        "median (ms)",
        result.ask.median_ms,
        result.bare.median_ms,
        result.ratio_median,
        f"<= {target_ratio}x",
        _yes(result.ratio_median <= target_ratio),
    )
    main.add("p95 (ms)", result.ask.p95_ms, result.bare.p95_ms, result.ratio_p95, "-", "-")
    main.add(
        "bare parts: encode / search median (ms)",
        "-",
        f"{result.bare_encode.median_ms:.2f} / {result.bare_search.median_ms:.3f}",
        "-",
        "-",
        "-",
    )
    main.notes.append(
        f"{result.questions} questions x {result.rounds} rounds, alternating ask and bare per question; "
        f"{result.abstained} of the questions were abstained on"
    )
    main.data = {
        "ask": result.ask.to_dict(),
        "bare": result.bare.to_dict(),
        "bare_encode": result.bare_encode.to_dict(),
        "bare_search": result.bare_search.to_dict(),
        "ratio_median": result.ratio_median,
        "ratio_p95": result.ratio_p95,
        "stages_ms": result.stages_ms,
        "stage_calls": result.stage_calls,
    }
    stages = Section(
        "query-stages",
        "Where Bot.ask spends its time (median exclusive ms per question)",
        ["stage", "ms / question", "calls / question", "share"],
    )
    total = sum(result.stages_ms.values()) or 1.0
    for label, ms in sorted(result.stages_ms.items(), key=lambda kv: -kv[1]):
        stages.add(label, ms, result.stage_calls.get(label, 0.0), f"{ms / total:.1%}")
    stages.notes.append("measured in a separate pass with light wrappers on the bot's own objects")
    return main, stages


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"
