"""Answer quality: hit@1, hit@3, MRR, abstention, passage length, time per question.

A passage is right when it contains one of the question's gold spans; a
question without gold should be abstained on. The arithmetic lives in pure
functions (``score_ranking``, ``summarize``) that tests check by hand.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .answer import Answer

__all__ = ["EvalItem", "ItemResult", "EvalReport", "load_eval_set", "score_ranking", "summarize", "evaluate"]


@dataclass(frozen=True)
class EvalItem:
    question: str
    gold: tuple[str, ...]  # empty: the corpus does not answer it
    history: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass(frozen=True)
class ItemResult:
    item: EvalItem
    abstained: bool
    rank: int | None  # 1-based rank of the first right passage; None when none is right
    passage_chars: tuple[int, ...]
    seconds: float


@dataclass(frozen=True)
class EvalReport:
    questions: int
    answerable: int
    unanswerable: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    wrongly_abstained: float  # share of answerable questions the bot abstained on
    correctly_abstained: float  # share of unanswerable questions the bot abstained on
    mean_passage_chars: float
    median_seconds: float

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        rows = [
            ("questions (answerable / unanswerable)", f"{self.questions} ({self.answerable} / {self.unanswerable})"),
            ("hit@1", f"{self.hit_at_1:.3f}"),
            ("hit@3", f"{self.hit_at_3:.3f}"),
            ("MRR", f"{self.mrr:.3f}"),
            ("answerable wrongly abstained", f"{self.wrongly_abstained:.1%}" if self.answerable else "n/a"),
            ("unanswerable correctly abstained", f"{self.correctly_abstained:.1%}" if self.unanswerable else "n/a"),
            ("mean quoted passage (chars)", f"{self.mean_passage_chars:.0f}"),
            ("median time per question", f"{self.median_seconds * 1000:.1f} ms"),
        ]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def load_eval_set(path: Path) -> list[EvalItem]:
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            items.append(EvalItem(str(data["q"]), tuple(data.get("gold", ())), tuple(data.get("history", ()))))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{number}: not an evaluation line ({err}); expected {{\"q\": ..., \"gold\": [...]}}") from err
    return items


def score_ranking(passages: Sequence[str], gold: Sequence[str]) -> int | None:
    """1-based rank of the first passage containing a gold span, or ``None``."""
    for rank, text in enumerate(passages, 1):
        if any(span in text for span in gold):
            return rank
    return None


def summarize(results: Sequence[ItemResult]) -> EvalReport:
    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable]

    def share(values: Iterable[bool], total: int) -> float:
        return sum(values) / total if total else 0.0

    n = len(answerable)
    ranks = [None if r.abstained else r.rank for r in answerable]
    lengths = [c for r in results if not r.abstained for c in r.passage_chars]
    return EvalReport(
        questions=len(results),
        answerable=n,
        unanswerable=len(unanswerable),
        hit_at_1=share((rk == 1 for rk in ranks), n),
        hit_at_3=share((rk is not None and rk <= 3 for rk in ranks), n),
        mrr=sum(1.0 / rk for rk in ranks if rk) / n if n else 0.0,
        wrongly_abstained=share((r.abstained for r in answerable), n),
        correctly_abstained=share((r.abstained for r in unanswerable), len(unanswerable)),
        mean_passage_chars=statistics.fmean(lengths) if lengths else 0.0,
        median_seconds=statistics.median(r.seconds for r in results) if results else 0.0,
    )


def evaluate(ask: Callable[[str, Sequence[str]], Answer], items: Sequence[EvalItem], k: int = 3) -> tuple[EvalReport, list[ItemResult]]:
    """Ask every question (with its history, if any) and score the answers."""
    results = []
    for item in items:
        started = time.perf_counter()
        answer = ask(item.question, item.history)
        seconds = time.perf_counter() - started
        texts = [p.text for p in answer.passages[:k]]
        rank = None if answer.abstained else score_ranking(texts, item.gold)
        results.append(ItemResult(item, answer.abstained, rank, tuple(len(t) for t in texts), seconds))
    return summarize(results), results
