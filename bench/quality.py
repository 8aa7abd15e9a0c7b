"""Answer quality on every development document, held out by document, beside a plain baseline.

    python -m bench.quality [--sets muscle,speech,...] [--backend torch|onnx-int8] [--json OUT]

For every set (``bench.devsets``: the bundled muscle text, the constitution and every
``eval/<slug>.jsonl`` with its document under ``eval/docs/<slug>/``) the questions are asked
against the set's own index and against one mixed index of all the sets' documents. The
table has one row per document and method, then the mean over documents, then the
follow-up sets asked with and without their history.

**Held out by document.** The refusal bar (``Settings.min_score``) is the constant fitted
to these sets: each document's questions are asked with the bar chosen on the *other*
documents (leave one document out: the highest bar under which none of their answerable
questions falls), never on its own questions. The bar fitted on all documents is printed;
it is the shipped default when the figures in docs/quality.md were made. In the mixed
index a question far from its own document may be answered by another one, so refusals
there are shown for what they are, not as the target.

The baseline is what a minimal pipeline does: fixed windows of ``BASELINE_WORDS`` words
(overlapping by a fifth) of each document's extracted text, embedded with the same model,
nearest neighbours by cosine, one fixed threshold. Indexes are cached in ``.cache/quality``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bot.answer import ABSTAIN_MESSAGE, Answer, Highlight, Passage
from bot.bot import Bot, clean_question
from bot.evaluation import EvalItem, EvalReport, ItemResult, evaluate, load_eval_set, score_answer, summarize
from bot.retrieval import contextualize
from indexer.document import Document
from indexer.embedding import BACKENDS, Embedder
from indexer.settings import PROJECT_ROOT, Settings

from .devsets import MIXED, CachingEmbedder, DevSet, build_index, discover_sets, mixed_documents

BASELINE_WORDS = 50
BASELINE_THRESHOLD = 0.35
MAX_WRONG = 0.0  # share of a training document's answerable questions the fitted bar may refuse
K = 3
# Follow-up sets: the file, the index they are asked of, the sets whose documents they are about.
FOLLOW_UPS = (
    ("muscle_followups.jsonl", "muscle", ("muscle",)),
    ("followups_dev.jsonl", MIXED, ("faq", "docx-tables", "docx-report")),
)


def fixed_windows(text: str, words: int = BASELINE_WORDS) -> list[tuple[int, int]]:
    """Character spans of windows of ``words`` words, stepping by four fifths of a window."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    step = max(1, words * 4 // 5)
    return [(spans[i][0], spans[min(i + words, len(spans)) - 1][1]) for i in range(0, len(spans), step)]


class Baseline:
    """Fixed windows + nearest neighbour + fixed threshold: the pipeline to beat."""

    def __init__(self, documents: Sequence[Document], embedder) -> None:
        self.embedder = embedder
        self.windows = [(d.name, d.text[a:b], a, b) for d in documents for a, b in fixed_windows(d.text)]
        encode = getattr(embedder, "encode_documents", embedder.encode)  # the windows are documents
        self.vectors = encode([w[1] for w in self.windows])

    def ask(self, question: str, history=(), k: int = K) -> Answer:
        q = self.embedder.encode([question])[0]
        scores = self.vectors @ q
        order = np.argsort(-scores)[:k]
        if scores[order[0]] < BASELINE_THRESHOLD:
            return Answer(question, True, ABSTAIN_MESSAGE)
        passages = tuple(
            Passage(text, doc, doc, doc, a, b, float(scores[i]), "", Highlight(a, a, ""), "")  # emphasises nothing
            for i in order
            for doc, text, a, b in [self.windows[i]]
        )
        return Answer(question, False, "", passages)


def refusal_scores(bot: Bot, items: Sequence[EvalItem]) -> list[float]:
    """The score the bot's refusal compares with its bar (the best candidate's cosine), per question."""
    scores = []
    for item in items:
        searched = contextualize(clean_question(item.question), [clean_question(h) for h in item.history])
        scores.append(max((c.dense for c in bot.retriever.retrieve(searched)), default=-1.0))
    return scores


def fit_threshold(by_doc: dict[str, tuple[Sequence[EvalItem], Sequence[float]]], max_wrong: float = MAX_WRONG) -> float:
    """The highest bar under which at most ``max_wrong`` of every document's answerable questions fall."""
    limits = []
    for items, scores in by_doc.values():
        answerable = sorted(s for item, s in zip(items, scores) if item.answerable)
        if answerable:
            limits.append(answerable[int(np.floor(max_wrong * len(answerable)))])
    return float(min(limits)) if limits else Settings().min_score


def held_out(by_doc: dict[str, tuple[Sequence[EvalItem], Sequence[float]]]) -> dict[str, float]:
    """Each document's bar, fitted on all the other documents."""
    return {slug: fit_threshold({s: v for s, v in by_doc.items() if s != slug}) for slug in by_doc}


def report_of(results: Sequence[ItemResult]) -> EvalReport:
    return summarize(results, K)


_FIELDS = (
    "hit_at_1",
    "hit_at_3",
    "mrr",
    "precision",
    "emphasis",
    "wrongly_abstained",
    "correctly_abstained",
    "near_abstained",
    "far_abstained",
    "mean_passage_chars",
)


def _values(r: EvalReport) -> dict[str, float | None]:
    """A report's figures; refusal shares of a kind the set has no questions of are ``None``."""
    have = {"correctly_abstained": r.unanswerable, "near_abstained": r.near, "far_abstained": r.far}
    return {f: getattr(r, f) if have.get(f, 1) else None for f in _FIELDS}


def mean_row(reports: Sequence[EvalReport]) -> dict[str, float | None]:
    """The mean over documents of each figure, over the documents that have it."""
    values = [_values(r) for r in reports]
    means = {}
    for f in _FIELDS:
        present = [v[f] for v in values if v[f] is not None]
        means[f] = statistics.fmean(present) if present else None
    return means


HEAD = "| document | method | hit@1 | hit@3 | MRR | P@3 | emphasis | answerable refused | unanswerable refused | near refused | far refused | mean chars |"


def row(name: str, method: str, r: EvalReport | dict) -> str:
    v = r if isinstance(r, dict) else _values(r)

    def share(f: str) -> str:
        return "–" if v[f] is None else f"{v[f]:.0%}"

    return (
        f"| {name} | {method} | {v['hit_at_1']:.2f} | {v['hit_at_3']:.2f} | {v['mrr']:.2f} | {v['precision']:.2f} | "
        f"{v['emphasis']:.2f} | "
        f"{v['wrongly_abstained']:.1%} | {share('correctly_abstained')} | {share('near_abstained')} | {share('far_abstained')} | "
        f"{v['mean_passage_chars']:.0f} |"
    )


def table(results: dict[str, dict[str, EvalReport]], label: str = "document", mean: bool = True) -> str:
    rows = [HEAD.replace("document", label, 1), "|" + "---|" * 12]
    for name, by_method in results.items():
        rows += [row(name, m, r) for m, r in by_method.items()]
    if mean and len(results) > 1:
        for m in next(iter(results.values())):
            present = [by[m] for by in results.values() if m in by]
            rows.append(row("**mean**", m, mean_row(present)))
    return "\n".join(rows)


class Bots:
    """Bots over one store, one per refusal bar, sharing the store's lexical index."""

    def __init__(self, store, embedder, corpus: Path) -> None:
        self.store, self.embedder, self.corpus = store, embedder, corpus
        self._bots: dict[float, Bot] = {}

    def at(self, min_score: float) -> Bot:
        if min_score not in self._bots:
            settings = Settings(corpus_dir=self.corpus, index_dir=Path(self.store.index_dir), min_score=min_score)
            bot = Bot(self.store, self.embedder, settings=settings)
            if self._bots:
                bot.retriever = next(iter(self._bots.values())).retriever
            bot.warm_up()
            self._bots[min_score] = bot
        return self._bots[min_score]


def ask(bot: Bot, items: Sequence[EvalItem]) -> EvalReport:
    return evaluate(lambda q, h: bot.ask(q, h, k=K), items, k=K)[0]


def evaluate_plain(plain: Baseline, items: Sequence[EvalItem]) -> EvalReport:
    return report_of([score_answer(item, plain.ask(item.question, item.history), K) for item in items])


def run(
    sets: Sequence[DevSet], embedder: CachingEmbedder, cache: Path, backend: str, log: Callable[[str], None]
) -> dict:
    """Every table of the benchmark: per document (baseline, own index, mixed index), the bars, the follow-ups."""
    documents = {s.slug: s.documents() for s in sets}
    items = {s.slug: load_eval_set(s.questions) for s in sets}
    own = {
        s.slug: Bots(build_index(s.slug, documents[s.slug], embedder, cache, backend), embedder, s.corpus) for s in sets
    }
    log("indexes ready")
    probe = {s.slug: (items[s.slug], refusal_scores(own[s.slug].at(Settings().min_score), items[s.slug])) for s in sets}
    bars = held_out(probe) if len(sets) > 1 else {s.slug: Settings().min_score for s in sets}
    mixed = None
    if len(sets) > 1:
        mixed = Bots(
            build_index(MIXED, mixed_documents(sets, documents), embedder, cache, backend), embedder, sets[0].corpus
        )
    results: dict[str, dict[str, EvalReport]] = {}
    for s in sets:
        results[s.slug] = {"baseline": evaluate_plain(Baseline(documents[s.slug], embedder), items[s.slug])}
        results[s.slug]["bot, own index"] = ask(own[s.slug].at(bars[s.slug]), items[s.slug])
        if mixed is not None:
            results[s.slug]["bot, mixed index"] = ask(mixed.at(bars[s.slug]), items[s.slug])
        log(f"{s.slug}: {len(items[s.slug])} questions asked, bar {bars[s.slug]:.3f}")
    fitted = fit_threshold(probe) if len(sets) > 1 else Settings().min_score
    follow_ups: dict[str, dict[str, EvalReport]] = {}
    for name, slug, about in FOLLOW_UPS:
        bots = mixed if slug == MIXED else own.get(slug)
        path = PROJECT_ROOT / "eval" / name
        if bots is None or not path.exists() or not set(about) <= set(own):
            continue
        chain = load_eval_set(path)
        follow_ups[name] = {
            "with history": ask(bots.at(fitted), chain),
            "alone": ask(bots.at(fitted), [replace(i, history=()) for i in chain]),
        }
    return {"results": results, "bars": bars, "fitted": fitted, "follow_ups": follow_ups}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--sets", help="comma-separated set names (default: every development set)")
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help="how the model runs (default: torch)")
    parser.add_argument("--model", default=Settings().model, help="embedding model (default: the bundled one)")
    parser.add_argument(
        "--cache", type=Path, default=PROJECT_ROOT / ".cache" / "quality", help="where indexes are kept between runs"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    sets = discover_sets(only=[s.strip() for s in args.sets.split(",") if s.strip()] if args.sets else ())
    args.cache.mkdir(parents=True, exist_ok=True)
    embedder = CachingEmbedder(Embedder(args.model, backend=args.backend), memo_dir=args.cache, backend=args.backend)
    out = run(sets, embedder, args.cache, args.backend, lambda line: print(line, file=sys.stderr, flush=True))
    print(table(out["results"]))
    if out["follow_ups"]:
        print()
        print(table(out["follow_ups"], label="follow-up set", mean=False))
    print(
        f"\nrefusal bar fitted on all documents: {out['fitted']:.3f}; held out per document: "
        + ", ".join(f"{slug} {t:.3f}" for slug, t in out["bars"].items())
    )
    if args.json:
        data = {
            "model": args.model,
            "backend": args.backend,
            "bars": out["bars"],
            "fitted_on_all": out["fitted"],
            "results": {s: {m: r.to_dict() for m, r in by.items()} for s, by in out["results"].items()},
            "follow_ups": {s: {m: r.to_dict() for m, r in by.items()} for s, by in out["follow_ups"].items()},
        }
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
