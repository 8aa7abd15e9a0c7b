"""Answer quality of the bot against a plain baseline, on every evaluation set, side by side.

    python -m bench.quality [--json OUT]

The baseline is what a minimal retrieval pipeline does: fixed windows of
``BASELINE_WORDS`` words (overlapping by a fifth), embedded with the same
model, nearest neighbours by cosine, one fixed threshold for abstention.
The current method is ``Bot.ask`` over an index built by ``indexer``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer import ABSTAIN_MESSAGE, Answer, Highlight, Passage
from bot.bot import Bot
from bot.evaluation import EvalReport, evaluate, load_eval_set
from indexer.build import build_corpus
from indexer.embedding import Embedder
from indexer.faiss_store import FaissStore
from indexer.settings import PROJECT_ROOT, Settings

BASELINE_WORDS = 50
BASELINE_THRESHOLD = 0.35


@dataclass(frozen=True)
class EvalSet:
    name: str
    corpus: Path
    questions: Path


SETS = (
    EvalSet("muscle spasms (bundled)", PROJECT_ROOT / "corpus", PROJECT_ROOT / "eval" / "muscle_spasms.jsonl"),
    EvalSet("US constitution (dev)", PROJECT_ROOT / "eval" / "constitution", PROJECT_ROOT / "eval" / "us_constitution.jsonl"),
)


def fixed_windows(text: str, words: int = BASELINE_WORDS) -> list[tuple[int, int]]:
    """Character spans of windows of ``words`` words, stepping by four fifths of a window."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    step = max(1, words * 4 // 5)
    return [(spans[i][0], spans[min(i + words, len(spans)) - 1][1]) for i in range(0, len(spans), step)]


class Baseline:
    """Fixed windows + nearest neighbour + fixed threshold: the pipeline to beat."""

    def __init__(self, corpus: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self.windows: list[tuple[str, str, int, int]] = []
        for path in sorted(corpus.glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            self.windows += [(path.name, text[a:b], a, b) for a, b in fixed_windows(text)]
        self.vectors = embedder.encode([w[1] for w in self.windows])

    def ask(self, question: str, history=(), k: int = 3) -> Answer:
        q = self.embedder.encode([question])[0]
        scores = self.vectors @ q
        order = np.argsort(-scores)[:k]
        if scores[order[0]] < BASELINE_THRESHOLD:
            return Answer(question, True, ABSTAIN_MESSAGE)
        passages = tuple(
            Passage(text, doc, doc, doc, a, b, float(scores[i]), "", Highlight(a, b, text), "")
            for i in order
            for doc, text, a, b in [self.windows[i]]
        )
        return Answer(question, False, "", passages)


def measure(eval_set: EvalSet, embedder: Embedder, workdir: Path) -> dict[str, EvalReport]:
    items = load_eval_set(eval_set.questions)
    index_dir = workdir / re.sub(r"\W+", "-", eval_set.name)
    store = FaissStore(index_dir)
    build_corpus(eval_set.corpus, store, embedder)
    bot = Bot(store, embedder, settings=Settings(corpus_dir=eval_set.corpus, index_dir=index_dir))
    bot.warm_up()
    baseline = Baseline(eval_set.corpus, embedder)
    return {
        "baseline (fixed windows, nearest neighbour)": evaluate(baseline.ask, items)[0],
        "current (Bot.ask)": evaluate(lambda q, h: bot.ask(q, h), items)[0],
    }


def table(results: dict[str, dict[str, EvalReport]]) -> str:
    head = "| set | method | hit@1 | hit@3 | MRR | wrongly abstained | correctly abstained | mean chars | median ms |"
    rows = [head, "|" + "---|" * 9]
    for set_name, methods in results.items():
        for method, r in methods.items():
            rows.append(
                f"| {set_name} | {method} | {r.hit_at_1:.3f} | {r.hit_at_3:.3f} | {r.mrr:.3f} | "
                f"{r.wrongly_abstained:.1%} | {r.correctly_abstained:.1%} | {r.mean_passage_chars:.0f} | "
                f"{r.median_seconds * 1000:.1f} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--model", default=Settings().model, help="embedding model (default: the bundled one)")
    args = parser.parse_args(argv)
    embedder = Embedder(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        results = {s.name: measure(s, embedder, Path(tmp)) for s in SETS}
    print(table(results))
    if args.json:
        data = {s: {m: r.to_dict() for m, r in methods.items()} for s, methods in results.items()}
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
