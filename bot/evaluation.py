"""Answer quality: hit@1, hit@3, MRR, precision@k, abstention, passage length, time per question.

A passage is right when it contains one of the question's gold spans (compared
after collapsing whitespace, so a span copied from a hard-wrapped file matches
the joined text); a question without gold should be abstained on, and says
whether it is a near miss (on the document's topic) or far off it. The
arithmetic lives in pure functions (``score_ranking``, ``summarize``) that tests
check by hand.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .answer import Answer, Passage

__all__ = [
    "EvalItem",
    "ItemResult",
    "EvalReport",
    "load_eval_set",
    "normalize_space",
    "right_passages",
    "score_answer",
    "score_ranking",
    "emphasis_on_gold",
    "summarize",
    "evaluate",
]

KINDS = ("near", "far")


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace to one space: the form gold spans are compared in."""
    return " ".join(text.split())


@dataclass(frozen=True)
class EvalItem:
    question: str
    gold: tuple[str, ...]  # empty: the corpus does not answer it
    history: tuple[str, ...] = ()
    kind: str = ""  # unanswerable only: "near" (on the document's topic) or "far" (unrelated); "" unsaid

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
    right: int = 0  # how many of the shown passages contain a gold span
    emphasis_right: bool | None = None  # first passage right: does its emphasised sentence hold the answer?


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
    precision: float = 0.0  # share of shown passages (first k) holding a gold span, answered questions only
    k: int = 3
    near: int = 0  # unanswerable questions marked near / far
    far: int = 0
    near_abstained: float = 0.0  # share of near misses the bot abstained on
    far_abstained: float = 0.0
    emphasis: float = 0.0  # of first passages that are right, the share whose emphasised sentence is on a gold span

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        rows = [
            ("questions (answerable / unanswerable)", f"{self.questions} ({self.answerable} / {self.unanswerable})"),
            ("hit@1", f"{self.hit_at_1:.3f}"),
            ("hit@3", f"{self.hit_at_3:.3f}"),
            ("MRR", f"{self.mrr:.3f}"),
            (f"precision@{self.k}", f"{self.precision:.3f}"),
            ("emphasis on the answer (right first passages)", f"{self.emphasis:.3f}"),
            ("answerable wrongly abstained", f"{self.wrongly_abstained:.1%}" if self.answerable else "n/a"),
            ("unanswerable correctly abstained", f"{self.correctly_abstained:.1%}" if self.unanswerable else "n/a"),
            ("  near misses abstained", f"{self.near_abstained:.1%} of {self.near}" if self.near else "n/a"),
            ("  far off-topic abstained", f"{self.far_abstained:.1%} of {self.far}" if self.far else "n/a"),
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
            kind = str(data.get("kind", ""))
            if kind and kind not in KINDS:
                raise ValueError(f'"kind" is {kind!r}; use "near" or "far"')
            items.append(EvalItem(str(data["q"]), tuple(data.get("gold", ())), tuple(data.get("history", ())), kind))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f'{path}:{number}: not an evaluation line ({err}); expected {{"q": ..., "gold": [...]}}'
            ) from err
    return items


def right_passages(passages: Sequence[str], gold: Sequence[str]) -> list[bool]:
    """Whether each passage contains a gold span (whitespace collapsed on both sides)."""
    spans = [normalize_space(span) for span in gold]
    return [any(span in normalize_space(text) for span in spans) for text in passages]


def score_ranking(passages: Sequence[str], gold: Sequence[str]) -> int | None:
    """1-based rank of the first passage containing a gold span, or ``None``."""
    return next((rank for rank, right in enumerate(right_passages(passages, gold), 1) if right), None)


def summarize(results: Sequence[ItemResult], k: int = 3) -> EvalReport:
    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable]
    near = [r for r in unanswerable if r.item.kind == "near"]
    far = [r for r in unanswerable if r.item.kind == "far"]
    answered = [r for r in answerable if not r.abstained and r.passage_chars]

    def share(values: Iterable[bool], total: int) -> float:
        return sum(values) / total if total else 0.0

    n = len(answerable)
    ranks = [None if r.abstained else r.rank for r in answerable]
    lengths = [c for r in results if not r.abstained for c in r.passage_chars]
    emphasised = [r.emphasis_right for r in answerable if r.emphasis_right is not None]
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
        precision=statistics.fmean(r.right / len(r.passage_chars) for r in answered) if answered else 0.0,
        k=k,
        near=len(near),
        far=len(far),
        near_abstained=share((r.abstained for r in near), len(near)),
        far_abstained=share((r.abstained for r in far), len(far)),
        emphasis=share(emphasised, len(emphasised)),
    )


def evaluate(
    ask: Callable[[str, Sequence[str]], Answer], items: Sequence[EvalItem], k: int = 3
) -> tuple[EvalReport, list[ItemResult]]:
    """Ask every question (with its history, if any) and score the answers."""
    results = []
    for item in items:
        started = time.perf_counter()
        answer = ask(item.question, item.history)
        seconds = time.perf_counter() - started
        results.append(score_answer(item, answer, k, seconds))
    return summarize(results, k), results


def score_answer(item: EvalItem, answer: Answer, k: int = 3, seconds: float = 0.0) -> ItemResult:
    """How one answer did: abstained or not, the rank of its first right passage, how many are right."""
    texts = [p.text for p in answer.passages[:k]]
    right = right_passages(texts, item.gold)
    rank = None if answer.abstained else next((i for i, r in enumerate(right, 1) if r), None)
    emphasis = emphasis_on_gold(answer.passages[0], item.gold) if rank == 1 else None
    return ItemResult(item, answer.abstained, rank, tuple(len(t) for t in texts), seconds, sum(right), emphasis)


def emphasis_on_gold(passage: Passage, gold: Sequence[str]) -> bool:
    """Whether the passage's emphasised sentence holds one of the gold spans the passage holds, or
    lies inside one (a span may run over two sentences): the reader's eye lands on the answer."""
    text, sentence = normalize_space(passage.text), normalize_space(passage.best_sentence.text)
    spans = [normalize_space(g) for g in gold if normalize_space(g) in text]
    return bool(sentence) and any(span in sentence or sentence in span for span in spans)
