"""Scored candidates -> an ``Answer``: pick passages, drop repeats, mark the best sentence, or abstain.

Everything a passage quotes is a slice of the stored document text; the
``Answer`` carries the offsets so anyone can check that.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from indexer.chunking import Chunk, Sentence

from .retrieval import Candidate

__all__ = ["ABSTAIN_MESSAGE", "Highlight", "Passage", "Answer", "select_passages", "expand_span", "is_near_duplicate", "relevance_label"]

ABSTAIN_MESSAGE = "The source text doesn't cover this."


@dataclass(frozen=True)
class Highlight:
    """The single sentence of a passage that best answers the question (absolute offsets)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    text: str
    source: str  # path of the original file, relative to the project root
    document: str  # the document's name in the index
    title: str
    start: int
    end: int
    score: float
    relevance: str  # the score in words: "high", "medium", "low"
    best_sentence: Highlight
    location: str  # where a reader finds it: "paragraph 3, line 12" or "page 4"
    heading: str = ""


@dataclass(frozen=True)
class Answer:
    question: str
    abstained: bool
    message: str
    passages: tuple[Passage, ...] = ()
    notice: str = ""
    suggestions: tuple[str, ...] = field(default=())
    searched_as: str = ""  # the question as searched, after reading it with the conversation

    def to_dict(self) -> dict:
        """The JSON schema of an answer (documented in the README)."""
        data = asdict(self)
        data["passages"] = [asdict(p) for p in self.passages]
        data["suggestions"] = list(self.suggestions)
        return data


_WORDS = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


def is_near_duplicate(a: str, b: str, threshold: float = 0.95) -> bool:
    """One text repeats the other: the shorter one's words appear, in order, in the longer one.

    Word *order* matters: legal texts restate a clause with a few words changed
    ("chosen by the Legislature" -> "elected by the people"), and the changed
    clause is often the very answer, so sharing vocabulary is not enough.
    """
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return wa == wb
    short, long_ = sorted((wa, wb), key=len)
    vocabulary = set(long_)
    if sum(w not in vocabulary for w in short) > (1 - threshold) * len(short):
        return False  # words of the shorter text missing from the other: no alignment can match them
    matched = sum(block.size for block in difflib.SequenceMatcher(None, short, long_, autojunk=False).get_matching_blocks())
    return matched / len(short) >= threshold


def _overlaps(a: Chunk, b: Chunk) -> bool:
    return a.doc == b.doc and a.start < b.end and b.start < a.end


def select_passages(candidates: Sequence[Candidate], k: int) -> list[Candidate]:
    """The best ``k`` candidates that neither overlap a chosen one nor repeat its sentences.

    The text repeats whole sentences in different places; a reader should see
    each statement once, so a candidate is skipped when any of its sentences
    nearly duplicates a sentence already shown.
    """
    chosen: list[Candidate] = []
    shown_sentences: list[str] = []
    for cand in candidates:
        if len(chosen) >= k:
            break
        if any(_overlaps(cand.chunk, c.chunk) for c in chosen):
            continue
        sentences = [cand.chunk.text[s - cand.chunk.start : e - cand.chunk.start] for s, e in cand.chunk.sentences]
        if any(is_near_duplicate(s, seen) for s in sentences for seen in shown_sentences):
            continue
        chosen.append(cand)
        shown_sentences.extend(sentences)
    return chosen


def expand_span(
    sentences: Sequence[Sentence], start: int, end: int, max_chars: int, taken: Sequence[tuple[int, int]] = ()
) -> tuple[int, int]:
    """Grow ``[start, end)`` by whole neighbouring sentences of the same paragraph, up to ``max_chars``.

    Retrieval scores small windows, which find the right sentence; a reader
    needs a little context around it. Growth alternates after/before, never
    leaves the paragraph, never crosses a snippet boundary (text the source cut
    off) and never runs into a span already ``taken``.
    """
    inside = [i for i, s in enumerate(sentences) if s.start >= start and s.end <= end]
    if not inside:
        return start, end
    lo, hi = inside[0], inside[-1]
    block = sentences[lo].block

    def free(i: int) -> bool:
        s = sentences[i]
        return s.block == block and not any(s.start < b and a < s.end for a, b in taken)

    def joins(i: int) -> bool:
        """No growing across a place where the source cut a snippet short, and no growing back
        into a sentence the source cut at its start: a quote should not open mid-sentence."""
        before, after = (sentences[i], sentences[lo]) if i < lo else (sentences[hi], sentences[i])
        opens_mid_sentence = i < lo and sentences[i].truncated_start
        return not before.truncated_end and not after.truncated_start and not opens_mid_sentence

    grew = True
    while grew:
        grew = False
        for i in (hi + 1, lo - 1):
            if 0 <= i < len(sentences) and free(i) and joins(i):
                new_start, new_end = min(sentences[lo].start, sentences[i].start), max(sentences[hi].end, sentences[i].end)
                if new_end - new_start <= max_chars:
                    lo, hi = min(lo, i), max(hi, i)
                    grew = True
                    break
    return min(start, sentences[lo].start), max(end, sentences[hi].end)


def best_sentence(chunk: Chunk, sentence_scores: np.ndarray) -> Highlight:
    i = int(np.argmax(sentence_scores)) if len(sentence_scores) else 0
    start, end = chunk.sentences[i]
    return Highlight(start, end, chunk.text[start - chunk.start : end - chunk.start])


def relevance_label(margin: float) -> str:
    """How far above the corpus's noise ceiling a passage scored, in words."""
    if margin >= 0.3:
        return "high"
    if margin >= 0.18:
        return "medium"
    return "low"


# Formats whose stored text is the file itself, so its lines are the file's lines.
_PLAIN_FORMATS = frozenset({"txt", "md", "markdown"})


def location_of(text: str, chunk: Chunk, start: int, pages: Sequence[int] = (), fmt: str = "txt") -> str:
    """A human location for a passage starting at ``start``: page for paged documents (PDF),
    section for extracted ones (HTML, Word: their extracted lines mean nothing to a reader),
    else paragraph and line."""
    if pages:  # "page 12 (PDF page 15)" when the PDF prints its own page labels (indexer.document.PageStarts)
        from indexer.document import page_citation

        return page_citation(pages, start)
    if fmt not in _PLAIN_FORMATS:
        return f'section "{chunk.heading}"' if chunk.heading else f"paragraph {chunk.block + 1}"
    line = text.count("\n", 0, start) + 1
    return f"paragraph {chunk.block + 1}, line {line}"
