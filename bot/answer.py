"""Scored candidates -> an ``Answer``: pick passages, drop repeats, mark the best sentence, or abstain.

Everything a passage quotes is a slice of the stored document text; the
``Answer`` carries the offsets so anyone can check that.
"""

from __future__ import annotations

import bisect
import difflib
import operator
import re
from array import array
from dataclasses import asdict, dataclass, field, replace
from typing import Mapping, Sequence

from indexer.chunking import Chunk, Sentence
from indexer.stores import IndexMismatch

from .retrieval import Candidate

__all__ = [
    "ABSTAIN_MESSAGE",
    "Highlight",
    "Passage",
    "Answer",
    "SourceText",
    "ChunkCache",
    "abstains",
    "compose",
    "continues",
    "join",
    "select_passages",
    "expand_span",
    "is_near_duplicate",
    "relevance_label",
]

ABSTAIN_MESSAGE = "The source text doesn't cover this."
# How a paragraph ends when it announces the next one, whose text is its answer (``expand_span``).
ANNOUNCING_ENDS = (":", "?")


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


@dataclass(frozen=True)
class SourceText:
    """One document as composition needs it: the stored text quotes are cut from, its sentences
    (in text order), and how a reader finds it."""

    text: str
    sentences: Sequence[Sentence]
    source: str  # path of the original file, relative to the project root
    title: str
    pages: Sequence[int] = ()  # offsets where pages start (paged formats)
    format: str = "txt"
    # Where each sentence starts and ends, as plain lists: every passage finds the sentences it
    # spans with two binary searches, without touching the document's Sentence objects.
    starts: list[int] = field(init=False, repr=False, compare=False, default_factory=list)
    ends: list[int] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", [s.start for s in self.sentences])
        object.__setattr__(self, "ends", [s.end for s in self.sentences])


def compose(
    question: str,
    candidates: Sequence[Candidate],
    documents: Mapping[str, SourceText],
    min_score: float,
    *,
    k: int,
    passage_chars: int,
    sentence_scores: Mapping[str, float],
    searched_as: str = "",
    notice: str = "",
    cache: ChunkCache | None = None,
) -> Answer:
    """Ranked candidates -> the answer a reader sees: up to ``k`` passages, or an abstention.

    ``candidates`` are best first; ``documents`` maps each candidate's document name to its
    text (it may load lazily: only the documents of shown passages are read);
    ``sentence_scores`` holds the cosine to the question of every sentence that has a vector
    of its own (by chunk id, ``doc:start-end``), to pick the sentence a passage emphasises.
    An abstaining answer carries no suggestions: offering other questions is the caller's job.

    One bar, ``min_score``, for the cosine of the question to a passage: under it for every
    candidate, the answer abstains; every passage shown reaches it. It is a property of the
    model, not of the documents (``Settings.min_score``; chosen leave-one-document-out in
    docs/quality.md), so it neither rises with the breadth of a text nor moves when other
    documents join the index.

    ``cache`` keeps what is derived from a chunk alone (its sentences' ids and words) from one
    question to the next; the caller drops it when the index changes.
    """
    if abstains(candidates, min_score):
        return Answer(question, True, ABSTAIN_MESSAGE, notice=notice, searched_as=searched_as)
    cache = cache if cache is not None else ChunkCache()
    # A few more than k, to fill the places of passages that join one already shown.
    pool = [c for c in select_passages(candidates, 2 * k + 2, cache) if c.dense >= min_score]
    # Scores of single-sentence chunks among the candidates: the best sentence of a passage may lie
    # in the context it grew into, not only in the window that matched.
    single = {c.chunk.id: c.dense for c in candidates if len(c.chunk.sentences) == 1}
    passages: list[Passage] = []
    chosen, remaining = pool[:k], pool[k:]
    while chosen:
        for cand in chosen:
            # Grow into neither a passage already shown nor the match of one still to come.
            taken = [(p.start, p.end) for p in passages if p.document == cand.chunk.doc] + [
                (c.chunk.start, c.chunk.end) for c in chosen if c is not cand and c.chunk.doc == cand.chunk.doc
            ]
            doc = documents[cand.chunk.doc]
            scores = _window_scores(cache.sentence_ids(cand.chunk), sentence_scores)
            new = _passage(cand, doc, min_score, taken, single, scores, passage_chars)
            passages = _add_passage(passages, new, documents, passage_chars)
        # Passages grew without knowing the remaining candidates: skip any whose match is already shown.
        shown = [(p.document, p.start, p.end) for p in passages]
        remaining = [
            c
            for c in remaining
            if not any(d == c.chunk.doc and c.chunk.start < e and s < c.chunk.end for d, s, e in shown)
        ]
        free = max(0, k - len(passages))
        chosen, remaining = remaining[:free], remaining[free:]
    return Answer(question, False, "", tuple(passages), notice=notice, searched_as=searched_as)


_DENSE = operator.attrgetter("dense")


def abstains(candidates: Sequence[Candidate], min_score: float) -> bool:
    """Whether ``compose`` abstains on ``candidates``: none reaches the bar (a caller can then skip
    what only passages need, such as the sentences' scores)."""
    return not candidates or max(map(_DENSE, candidates)) < min_score


def _window_scores(ids: Sequence[str], sentence_scores: Mapping[str, float]) -> array:
    """Cosine of each sentence of a multi-sentence window (``ids``: its sentences' chunk ids), as
    float32 (the vectors' precision); all zero unless every one has a vector."""
    if len(ids) > 1 and all(i in sentence_scores for i in ids):
        return array("f", [sentence_scores[i] for i in ids])
    return array("f", bytes(4 * max(len(ids), 1)))


def _passage(
    cand: Candidate,
    doc: SourceText,
    min_score: float,
    taken: list[tuple[int, int]],
    single: Mapping[str, float],
    scores: Sequence[float],
    passage_chars: int,
) -> Passage:
    chunk = cand.chunk
    highlight = best_sentence(chunk, scores)
    best = max(scores) if len(chunk.sentences) > 1 else single.get(chunk.id, cand.dense)
    lo, past = _sentences_within(doc.starts, doc.ends, chunk.start, chunk.end)
    start, end = _grow(doc.sentences, lo, past, chunk.start, chunk.end, passage_chars, taken, doc.text)
    lo, past = _sentences_within(doc.starts, doc.ends, start, end)
    words = after_bullet(doc.text, start)
    if words < end:
        start = words  # "· Stress and anxiety. …" is quoted from "Stress"
    for s in doc.sentences[lo:past]:  # a sentence of the grown context that matches the question better
        if single.get(f"{chunk.doc}:{s.start}-{s.end}", -1.0) > best:
            best = single[f"{chunk.doc}:{s.start}-{s.end}"]
            highlight = Highlight(s.start, s.end, doc.text[s.start : s.end])
    highlight = _answer_after_lead_in(highlight, doc, start, end)
    if highlight.start < start < highlight.end:  # the emphasis stays inside the quote
        highlight = Highlight(start, highlight.end, doc.text[start : highlight.end])
    if doc.text[chunk.start : chunk.end] != chunk.text:
        raise IndexMismatch(
            f"the stored text of {chunk.doc} no longer matches its chunks; rebuild: python -m indexer build"
        )
    return Passage(
        text=doc.text[start:end],
        source=doc.source,
        document=chunk.doc,
        title=doc.title,
        start=start,
        end=end,
        score=round(cand.score, 4),
        relevance=relevance_label(cand.score - min_score),
        best_sentence=highlight,
        location=location_of(doc.text, chunk, start, doc.pages, doc.format),
        heading=chunk.heading,
    )


_BULLET_GLYPHS = "·•▪‣◦●"
_BULLETS = _BULLET_GLYPHS + "*-"  # what may open a list item ("*" and "-" also open other things)
# A list item's marker and the spaces after it: a quote begins with the item's words, not its bullet.
_BULLET_LEAD = re.compile(rf"[{_BULLET_GLYPHS}][ \t]+|[-*][ \t]+(?=\w)")


def after_bullet(text: str, start: int) -> int:
    """Where the words of the sentence at ``start`` begin: past a leading list marker, if any."""
    lead = _BULLET_LEAD.match(text, start)
    return lead.end() if lead else start


def _answer_after_lead_in(highlight: Highlight, doc: SourceText, start: int, end: int) -> Highlight:
    """The sentence after the emphasised one when that one only announces it ("The errors that can
    cause an automatic rollback include:", a FAQ's question) and the quote holds what follows:
    the question's words match the lead-in, the answer is the next sentence. Code after a lead-in
    is an example, not the answer: the emphasis stays."""
    if not _ends_with(highlight.text, ANNOUNCING_ENDS):
        return highlight
    i = bisect.bisect_left(doc.starts, highlight.end)
    if i < len(doc.sentences) and start <= doc.sentences[i].start and doc.sentences[i].end <= end:
        after = doc.sentences[i]
        text = doc.text[after.start : after.end]
        if _ends_with(text, (".", "!")) or (text[:1] and text[0] in _BULLETS):  # prose or a list item, not code
            return Highlight(after.start, after.end, text)
    return highlight


def _add_passage(
    passages: list[Passage], new: Passage, documents: Mapping[str, SourceText], max_chars: int
) -> list[Passage]:
    """Append ``new``, or join it to a passage it continues (one list or paragraph cut in two
    quotes reads as one); a joined passage may then close the gap to another one. A joined
    passage takes the place, score and emphasis of its better-ranked part."""
    passages, rank = list(passages), len(passages)
    doc = documents[new.document]
    while True:
        joined = next((i for i, p in enumerate(passages) if continues(p, new, doc, max_chars)), None)
        if joined is None:
            passages.insert(rank, new)
            return passages
        other = passages.pop(joined)
        if joined < rank:  # the passage shown before is the better-ranked part
            new, rank = join(other, new, doc), joined
        else:
            new = join(new, other, doc)


_NON_SPACE = re.compile(r"\S")


def continues(shown: Passage, new: Passage, doc: SourceText, max_chars: int) -> bool:
    """``new`` picks up right where ``shown`` ends (or ends where it starts) in the same paragraph
    of ``doc`` and the source did not cut the text between them, and the two together are still
    a quote (at most ``2 * max_chars``)."""
    if shown.document != new.document or new.end - new.start + shown.end - shown.start > 2 * max_chars:
        return False
    first, second = (shown, new) if shown.start < new.start else (new, shown)
    text, sentences = doc.text, doc.sentences
    gap = _NON_SPACE.search(text, first.end, second.start)  # no copy of what may be most of the document
    if gap and not (second.start - first.end <= 8 and after_bullet(text, gap.start()) == second.start):
        return False  # only a list marker may lie between them: the next item's quote starts after it
    i = bisect.bisect_right(doc.starts, second.start) - 1  # the sentence where ``second`` starts (text order)
    if not 0 < i < len(sentences) or second.start not in (sentences[i].start, after_bullet(text, sentences[i].start)):
        return False
    if sentences[i - 1].end != first.end:
        return False
    last, after = sentences[i - 1], sentences[i]
    return last.block == after.block and not last.truncated_end and not after.truncated_start


def join(shown: Passage, new: Passage, doc: SourceText) -> Passage:
    """One passage from two that touch in ``doc``; the better-ranked one (``shown``) keeps its
    score and emphasis."""
    start, end = min(shown.start, new.start), max(shown.end, new.end)
    location = shown.location if shown.start <= new.start else new.location
    return replace(shown, text=doc.text[start:end], start=start, end=end, location=location)


_WORDS = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


# How much of the shorter sentence's words, in order, make it a repeat of the other.
DUPLICATE = 0.95


def is_near_duplicate(a: str, b: str, threshold: float = DUPLICATE) -> bool:
    """One text repeats the other: the shorter one's words appear, in order, in the longer one.

    Word *order* matters: legal texts restate a clause with a few words changed
    ("chosen by the Legislature" -> "elected by the people"), and the changed
    clause is often the very answer, so sharing vocabulary is not enough.
    """
    return _repeats(_Said.of(a), _Said.of(b), threshold)


@dataclass(frozen=True, slots=True)
class _Said:
    """A sentence as duplicate detection reads it: its lower-cased words, their set, and a 64-bit
    signature of that set (bit ``hash(word) % 64`` for each word).

    A sentence of under 20 words repeats a longer one only if every one of its words is in
    the other (``strict``), so only if its signature's bits all are in the other's: most
    pairs are told apart on two integers, without reading either sentence's words.
    """

    words: tuple[str, ...]
    vocabulary: frozenset[str]
    signature: int
    size: int  # len(words)
    strict: bool  # at DUPLICATE, one word missing from the other sentence is too many

    @classmethod
    def of(cls, text: str) -> _Said:
        words = tuple(_words(text))
        vocabulary = frozenset(words)
        signature = 0
        for word in vocabulary:
            signature |= 1 << (hash(word) & 63)
        return cls(words, vocabulary, signature, len(words), (1 - DUPLICATE) * len(words) < 1)


def _repeats(a: _Said, b: _Said, threshold: float = DUPLICATE) -> bool:
    """``is_near_duplicate`` on sentences already split into words."""
    if not a.words or not b.words:
        return a.words == b.words
    if a.words == b.words:  # the text repeats a sentence word for word (the common case): all of it matches
        return 1.0 >= threshold
    short, long_ = (a, b) if len(a.words) <= len(b.words) else (b, a)
    allowed = (1 - threshold) * len(short.words)
    if allowed < 1:  # a short sentence (under 20 words at 0.95): one word missing from the other is too many
        if not short.vocabulary <= long_.vocabulary:
            return False
    elif len(short.vocabulary - long_.vocabulary) > allowed:
        return False  # distinct words of the shorter text missing from the other: no alignment can match them
    elif sum(w not in long_.vocabulary for w in short.words) > allowed:
        return False
    matcher = difflib.SequenceMatcher(None, short.words, long_.words, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(short.words) >= threshold


def select_passages(candidates: Sequence[Candidate], k: int, cache: ChunkCache | None = None) -> list[Candidate]:
    """The best ``k`` candidates that neither overlap a chosen one nor repeat its sentences.

    The text repeats whole sentences in different places; a reader should see
    each statement once, so a candidate is skipped when any of its sentences
    nearly duplicates a sentence already shown.
    """
    cache = cache if cache is not None else ChunkCache()
    chosen: list[Candidate] = []
    spans: list[tuple[str, int, int]] = []  # document, start and end of each chosen chunk
    shown_sentences: list[_Said] = []
    for cand in candidates:
        if len(chosen) >= k:
            break
        chunk = cand.chunk
        doc, start, end = chunk.doc, chunk.start, chunk.end
        overlaps = False
        for d, s, e in spans:  # a loop, not any(): this runs for every candidate of every question
            if s < end and start < e and d == doc:
                overlaps = True
                break
        if overlaps:
            continue
        sentences = cache.said(chunk)
        if shown_sentences and _repeats_any(sentences, shown_sentences):
            continue
        chosen.append(cand)
        spans.append((doc, start, end))
        shown_sentences.extend(sentences)
    return chosen


def _repeats_any(sentences: Sequence[_Said], shown: Sequence[_Said]) -> bool:
    """Whether any of ``sentences`` repeats any of ``shown`` (``_repeats`` at ``DUPLICATE``)."""
    for s in sentences:
        for t in shown:
            short, long_ = (s, t) if s.size <= t.size else (t, s)
            if short.strict and short.signature | long_.signature != long_.signature:
                continue  # a word of the shorter one is missing from the longer one
            if _repeats(s, t):
                return True
    return False


class ChunkCache:
    """What composition derives from a chunk alone, kept from one question to the next.

    Every question reads some 40 candidate chunks, most of them read by earlier questions
    too; their sentences' ids and words depend on the index only, so they are made once
    per chunk rather than once per question. Keyed by chunk id: whoever holds the cache
    clears it when the index changes (a new generation may reuse an id for other text).
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit  # chunks kept; a large index refills from empty rather than growing without bound
        self._ids: dict[str, tuple[str, ...]] = {}
        self._said: dict[str, tuple[_Said, ...]] = {}

    def sentence_ids(self, chunk: Chunk) -> tuple[str, ...]:
        """The chunk ids of the chunk's sentences (``doc:start-end``), whose vectors score them."""
        ids = self._ids.get(chunk.id)
        if ids is None:
            if len(self._ids) >= self._limit:
                self._ids.clear()
            ids = self._ids[chunk.id] = tuple(f"{chunk.doc}:{s}-{e}" for s, e in chunk.sentences)
        return ids

    def said(self, chunk: Chunk) -> tuple[_Said, ...]:
        """The chunk's sentences as duplicate detection reads them."""
        said = self._said.get(chunk.id)
        if said is None:
            if len(self._said) >= self._limit:
                self._said.clear()
            said = self._said[chunk.id] = tuple(
                _Said.of(chunk.text[s - chunk.start : e - chunk.start]) for s, e in chunk.sentences
            )
        return said

    def clear(self) -> None:
        self._ids.clear()
        self._said.clear()


def expand_span(
    sentences: Sequence[Sentence],
    start: int,
    end: int,
    max_chars: int,
    taken: Sequence[tuple[int, int]] = (),
    text: str = "",
) -> tuple[int, int]:
    """Grow ``[start, end)`` by whole neighbouring sentences of the same paragraph, up to ``max_chars``.

    Retrieval scores small windows, which find the right sentence; a reader
    needs a little context around it. Growth alternates after/before, never
    leaves the paragraph, never crosses a snippet boundary (text the source cut
    off) and never runs into a span already ``taken``. One exception, when
    ``text`` is given: a paragraph that ends in a colon or a question announces the
    next one ("use the following SELECT command:", "For example:", a FAQ's "How do I
    search compressed files?"), and the matched lead-in is no answer without it, so
    growth may go on into the paragraph right after. ``sentences`` are in text order (as
    ``split_sentences`` gives them).
    """
    lo = bisect.bisect_left(sentences, start, key=_start_of)
    past = max(lo, bisect.bisect_right(sentences, end, key=_end_of))
    return _grow(sentences, lo, past, start, end, max_chars, taken, text)


def _grow(
    sentences: Sequence[Sentence],
    lo: int,
    past: int,
    start: int,
    end: int,
    max_chars: int,
    taken: Sequence[tuple[int, int]],
    text: str,
) -> tuple[int, int]:
    """``expand_span`` of ``[start, end)``, whose sentences are ``sentences[lo:past]``."""
    if lo >= past:
        return start, end
    hi = past - 1
    blocks = {sentences[lo].block}
    while True:
        for i in (hi + 1, lo - 1):
            if not 0 <= i < len(sentences):
                continue
            s = sentences[i]
            clash = False
            for a, b in taken:  # a span already taken (a loop, not any(): it runs for every step)
                if s.start < b and a < s.end:
                    clash = True
                    break
            if clash:
                continue
            if s.block not in blocks:  # another paragraph: only the one a lead-in announces
                last = sentences[i - 1] if i > 0 else None
                if not (
                    last is not None
                    and i == hi + 1
                    and _ends_with(text[last.start : last.end], ANNOUNCING_ENDS)
                    and s.block == last.block + 1
                ):
                    continue
            # No growing across a place where the source cut a snippet short, and no growing back
            # into a sentence the source cut at its start: a quote should not open mid-sentence.
            before, after = (s, sentences[lo]) if i < lo else (sentences[hi], s)
            if before.truncated_end or after.truncated_start or (i < lo and s.truncated_start):
                continue
            if max(sentences[hi].end, s.end) - min(sentences[lo].start, s.start) <= max_chars:
                lo, hi = min(lo, i), max(hi, i)
                blocks.add(s.block)
                break
        else:  # neither side could grow
            return min(start, sentences[lo].start), max(end, sentences[hi].end)


def _sentences_within(starts: Sequence[int], ends: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """``lo, past`` such that sentences ``lo`` to ``past - 1`` are those inside ``[start, end)``.

    Sentences are in text order and do not overlap, so both their starts and their ends
    rise: two binary searches instead of a pass over every sentence of the document for
    each passage (a long document has thousands).
    """
    lo = bisect.bisect_left(starts, start)
    return lo, max(lo, bisect.bisect_right(ends, end))


def _start_of(sentence: Sentence) -> int:
    return sentence.start


def _end_of(sentence: Sentence) -> int:
    return sentence.end


# What may follow a sentence's last mark: closing quotes and brackets, and markup tags kept as
# text (a Markdown FAQ's ``<h3 name="x">How do I ...?</h3>``).
_TRAILING = re.compile(r"(?:\s|[\"'”’)\]]|</?[A-Za-z][^<>]*>)+$")


def _ends_with(sentence: str, marks: tuple[str, ...]) -> bool:
    """Whether ``sentence`` ends in one of ``marks``, closing quotes, brackets and tags aside."""
    last = sentence[-1:]
    if last and (last.isalnum() or last in ".:?!"):  # nothing _TRAILING strips (its search scans the whole text)
        return sentence.endswith(marks)
    return _TRAILING.sub("", sentence).endswith(marks)


def best_sentence(chunk: Chunk, sentence_scores: Sequence[float]) -> Highlight:
    """The chunk's sentence of the highest score (the first of equal ones)."""
    i = sentence_scores.index(max(sentence_scores)) if len(sentence_scores) else 0
    start, end = chunk.sentences[i]
    return Highlight(start, end, chunk.text[start - chunk.start : end - chunk.start])


def relevance_label(margin: float) -> str:
    """How far the ranking score of a passage is above the bar for answering, in words.

    The passages are shown in the order of the same score, so a label never contradicts the
    order ("low" above "medium"). The ranking score adds up to 0.15 of lexical evidence to the
    cosine, hence the wider steps than the cosine alone would need.
    """
    if margin >= 0.25:
        return "high"
    if margin >= 0.1:
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
