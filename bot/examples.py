"""Example questions and a title for a collection that has no ``corpus.toml``, from its documents.

A reader who points the bot at their own folder should still be offered questions the
documents answer, on the empty page and after a refusal. They come from three places, in
this order of trust:

1. the documents' own questions ("Why Do Muscle Spasms Occur?", a FAQ's lines), and the
   yes/no question each item of a list of causes answers ("Can low magnesium cause cramps?");
2. their headings, turned into the question they head ("Causes of cramps" -> "What are the
   causes of cramps?", "How to oil a chain" -> "How do I oil a chain?");
3. their most central statements (nearest the document's centroid), turned into the question
   they answer ("Low magnesium can cause cramps." -> "Can low magnesium cause cramps?",
   "A muscle spasm refers to ..." -> "What is a muscle spasm?").

Everything but ``examples_for`` is pure; that one reads the bot's index, ranks statements by
how close they lie to their document's centroid, and keeps only the questions the bot answers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Candidate",
    "collection_title",
    "derive",
    "examples_for",
    "heading_question",
    "interleave",
    "own_questions",
    "statement_question",
]

MIN_WORDS, MAX_WORDS = 3, 14  # a chip people read at a glance


@dataclass(frozen=True)
class Candidate:
    """A question derived from a document, with where it came from (for ranking and tests)."""

    question: str
    document: str
    kind: str  # "question", "list", "heading" or "statement"
    start: int  # offsets of the sentence or heading it came from
    end: int


def _clean(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).strip(" -–—:·•*#")


def _words(text: str) -> int:
    return len(text.split())


def _fits(question: str) -> bool:
    return MIN_WORDS <= _words(question) <= MAX_WORDS and not re.search(r"https?://|[{}<>|\\]", question)


_QUESTION = re.compile(r"(?:^|(?<=[.!?\n])\s*)([A-Z][^.!?\n]{8,160}\?)")


def own_questions(text: str) -> list[tuple[str, int, int]]:
    """The document's own question sentences, as written: (question, start, end)."""
    out = []
    for match in _QUESTION.finditer(text):
        question = _clean(match.group(1))
        if _fits(question):
            out.append((question, match.start(1), match.end(1)))
    return out


_CAUSES = re.compile(
    r"(?:causes\s+of|what\s+causes|what\s+can\s+cause)\s+(?P<topic>(?:an?\s+|the\s+)?[\w'-]+(?:\s+[\w'-]+){0,4}?)"
    r"\s*[?:]?\s*·(?P<items>[^\n]*)",
    re.IGNORECASE,
)


def cause_questions(text: str) -> list[tuple[str, int, int]]:
    """A list of causes ("What are the causes of muscle spasms? · Dehydration · Low blood calcium or
    magnesium") answers a yes/no question per item: "Can dehydration cause muscle spasms?"."""
    out = []
    for match in _CAUSES.finditer(text):
        topic = _lower_first(_clean(match["topic"]))
        at = match.start("items")
        for raw in match["items"].split("·"):
            item = _clean(re.split(r"[:.;(]", raw, maxsplit=1)[0])
            start = text.find(raw, at)
            at = max(at, start + len(raw))
            if not 1 <= _words(item) <= 6 or not re.match(r"[A-Za-z]", item):
                continue
            question = f"Can {_lower_first(item)} cause {topic}?"
            if _fits(question):
                out.append((question, max(start, 0), max(start, 0) + len(raw)))
    return out


_HOW_TO = re.compile(r"^how to (?P<rest>.+)$", re.IGNORECASE)
_ASPECT = re.compile(
    r"^(?P<aspect>causes?|symptoms?|signs?|treatments?|types?|risks?|benefits?|uses?|effects?|"
    r"prevention|diagnosis|history|definition)\s+(?:of|for)\s+(?P<topic>.+)$",
    re.IGNORECASE,
)
_PLURAL_ASPECTS = {"causes", "symptoms", "signs", "treatments", "types", "risks", "benefits", "uses", "effects"}


def _lower_first(text: str) -> str:
    """Lower-case the first word (every word of a Title Case Heading) unless it is an acronym or
    has capitals inside ("NASA", "iPhone"), so the topic reads inside a question."""
    words = text.split()
    if len(words) > 1 and all(w[:1].isupper() for w in words if w[:1].isalpha()):
        return " ".join(
            w if w.isupper() and len(w) > 1 or any(c.isupper() for c in w[1:]) else w.lower() for w in words
        )
    first, _, rest = text.partition(" ")
    if first.isupper() and len(first) > 1 or any(c.isupper() for c in first[1:]):
        return text
    return (first[:1].lower() + first[1:] + (" " + rest if rest else "")).strip()


def heading_question(heading: str) -> str | None:
    """The question a heading announces, or ``None`` when it announces none people would ask."""
    heading = _clean(re.sub(r"^\d+(\.\d+)*\s+", "", heading))  # "2.1 Installing" -> "Installing"
    if not heading or _words(heading) > 8 or not re.search(r"[A-Za-z]", heading):
        return None
    if heading.endswith("?"):
        return heading if _fits(heading) else None
    if match := _HOW_TO.match(heading):
        question = f"How do I {_lower_first(match['rest'])}?"
    elif match := _ASPECT.match(heading):
        aspect = match["aspect"].lower()
        verb = "are" if aspect in _PLURAL_ASPECTS else "is"
        question = f"What {verb} the {aspect} of {_lower_first(match['topic'])}?"
    elif _words(heading) >= 2:
        topic = _lower_first(heading)
        last = topic.split()[-1].lower()
        verb = "are" if last.endswith("s") and not last.endswith(("ss", "us", "is")) else "is"
        question = f"What {verb} {topic}?"
    else:
        return None  # a one-word heading ("Introduction", "Notes") rarely names a topic
    return question if _fits(question) else None


_DEFINITION = re.compile(
    r"^(?:(?P<article>an?|the)\s+)?(?P<term>[A-Za-z][\w'-]*(?:\s+[\w'-]+){0,3}?)\s*(?:\([^)]*\)\s*)?"
    r"(?P<verb>is|are|refers? to|means)\s+(?:an?|the|when|any|one|a\s+type|a\s+kind)\b",
    re.IGNORECASE,
)
_MODAL = re.compile(
    r"^(?P<subject>[A-Za-z][\w'-]*(?:\s+[\w'-]+){0,5}?)\s+(?P<modal>can|may|could|should|will|must)\s+"
    r"(?P<rest>(?:not\s+)?[a-z][\w'-]*(?:\s+[\w'-]+){0,8})\s*[.!]?$"
)
_PRONOUNS = {
    "it",
    "this",
    "that",
    "these",
    "those",
    "they",
    "he",
    "she",
    "we",
    "you",
    "i",
    "there",
    "which",
    "its",
    "their",
    "what",
    "who",
    "whom",
    "whose",
    "where",
    "when",
    "why",
    "how",
    "if",
    "so",
    "but",
    "and",
    "or",
    "all",
    "each",
    "some",
    "one",
    "here",
    "such",
    "other",
    "another",
    "both",
    "either",
    "neither",
    "most",
    "many",
    "much",
}


def statement_question(sentence: str) -> str | None:
    """The question a statement answers, when its shape says so; else ``None``.

    Definitions become "What is X?"; a short "S can/may/should V ..." becomes the yes/no
    question "Can S V ...?". Statements that lean on the text before them ("It can ...")
    are left alone: their question would name nothing.
    """
    sentence = _clean(sentence).rstrip(".!")
    if not sentence or _words(sentence) > 16:
        return None
    if match := _DEFINITION.match(sentence):
        term = match["term"].strip()
        if term.split()[0].lower() in _PRONOUNS or _words(term) > 4:
            return None
        article = f"{match['article'].lower()} " if match["article"] else ""
        verb = "are" if match["verb"].lower() == "are" else "is"
        question = f"What {verb} {article}{_lower_first(term)}?"
        return question if _fits(question) else None
    if match := _MODAL.match(sentence):
        subject = match["subject"]
        if subject.split()[0].lower() in _PRONOUNS:
            return None
        modal = "can" if match["modal"] in ("may", "could") else match["modal"]  # "May a lump form" reads oddly
        question = f"{modal.capitalize()} {_lower_first(subject)} {match['rest']}?"
        return question if _fits(question) else None
    return None


def interleave(per_document: Sequence[Sequence[Candidate]]) -> list[Candidate]:
    """One from each document in turn, so a collection's examples cover all of it; duplicates dropped."""
    out, seen = [], set()
    longest = max((len(c) for c in per_document), default=0)
    for i in range(longest):
        for candidates in per_document:
            if i < len(candidates):
                key = candidates[i].question.casefold()
                if key not in seen:
                    seen.add(key)
                    out.append(candidates[i])
    return out


def collection_title(titles: Sequence[str], fallback: str = "Documents") -> str:
    """A page title from the documents' own titles: one names it, a few are listed, many counted."""
    titles = [t for t in dict.fromkeys(_clean(t) for t in titles) if t]
    if not titles:
        return fallback
    if len(titles) == 1:
        return titles[0]
    if len(titles) <= 3:
        return ", ".join(titles[:-1]) + " and " + titles[-1]
    return f"{titles[0]}, {titles[1]} and {len(titles) - 2} more documents"


def derive(
    texts: Mapping[str, str],
    headings: Mapping[str, Sequence[tuple[str, int, int]]],
    statements: Mapping[str, Sequence[tuple[str, int, int]]],
    centrality: Mapping[str, Sequence[int]] | None = None,
) -> list[Candidate]:
    """Candidates from every document: its own questions, cause lists, headings and statements (in
    ``centrality`` order when given) taken in turn, and the documents interleaved."""
    per_document = []
    for name, text in texts.items():
        own = [Candidate(q, name, "question", s, e) for q, s, e in own_questions(text)]
        lists = [Candidate(q, name, "list", s, e) for q, s, e in cause_questions(text)]
        heads = []
        for heading, s, e in headings.get(name, ()):
            question = heading_question(heading)
            if question:
                heads.append(Candidate(question, name, "heading", s, e))
        rows = list(statements.get(name, ()))
        order = centrality.get(name, range(len(rows))) if centrality else range(len(rows))
        stated = []
        for i in order:
            sentence, s, e = rows[i]
            question = statement_question(sentence)
            if question:
                stated.append(Candidate(question, name, "statement", s, e))
        per_document.append(interleave([own, lists, heads, stated]))  # each kind in turn: varied chips
    return interleave(per_document)


# ---- the bot's side: candidates from the index, kept when the bot answers them ------------------

_deriving = threading.local()


def examples_for(bot, n: int = 16, *, max_documents: int = 30, max_statements: int = 40) -> tuple[str, ...]:
    """Up to ``n`` derived questions the bot answers (each asked once, quoting at least one passage);
    the page shows the first few, suggestions after a refusal are the nearest of them all.

    Returns ``()`` when called again while deriving (its own trial questions may abstain, and an
    abstention asks for suggestions, which come from here).
    """
    if getattr(_deriving, "active", False):
        return ()
    _deriving.active = True
    try:
        candidates = _candidates(bot, max_documents=max_documents, max_statements=max_statements)
        kept: list[str] = []
        for candidate in candidates[: 2 * n]:
            if not bot.ask(candidate.question, k=1).abstained:
                kept.append(candidate.question)
                if len(kept) == n:
                    break
        return tuple(kept)
    finally:
        _deriving.active = False


def _candidates(bot, *, max_documents: int, max_statements: int) -> list[Candidate]:
    """Each document's text, headings and pattern-matching statements, the statements ordered by
    closeness to the document's centroid (the mean of its first 200 stored passage vectors)."""
    documents = bot.manifest.documents
    names = list(documents)[:max_documents]
    texts, headings, statements, centrality = {}, {}, {}, {}
    chunks_by_doc: dict[str, list[str]] = {}
    for chunk in bot.store.all_chunks():
        if chunk.doc in documents and len(chunks_by_doc.setdefault(chunk.doc, [])) < 200:
            chunks_by_doc[chunk.doc].append(chunk.id)
    for name in names:
        text, sentences = bot._document(name)
        texts[name] = text
        seen_headings: dict[str, tuple[str, int, int]] = {}
        rows = []
        for s in sentences:
            if s.heading and s.heading not in seen_headings:
                at = max(text.find(s.heading), 0)
                seen_headings[s.heading] = (s.heading, at, at + len(s.heading))
            if not (s.truncated_start or s.truncated_end) and statement_question(text[s.start : s.end]):
                rows.append((text[s.start : s.end], s.start, s.end))
        headings[name] = list(seen_headings.values())
        statements[name] = rows[:max_statements]
        ids = chunks_by_doc.get(name)
        if statements[name] and ids:
            vectors = bot.embedder.encode([r[0] for r in statements[name]])
            centroid = bot.store.get_vectors(ids).mean(axis=0)
            centrality[name] = list(np.argsort(-(vectors @ centroid), kind="stable"))
    return derive(texts, headings, statements, centrality)
