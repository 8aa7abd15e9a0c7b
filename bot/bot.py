"""The bot: load an index and its model once, then answer many questions.

``Bot.load(settings)`` checks that the index exists, is intact and was built
with the model the bot will use; ``Bot.ask`` never raises on any string: bad
questions get an abstaining ``Answer`` with a message that says why.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.chunking import Chunk, ChunkingSettings, Sentence, split_sentences
from indexer.embedding import Embedder, TextEmbedder
from indexer.loaders import CorpusInfo, DocumentError, load_corpus_info
from indexer.settings import Settings
from indexer.store import IndexError_, IndexMismatch, IndexMissing, Manifest, VectorStore, open_store
from indexer.torch_search import search_device_for

from .answer import (
    ABSTAIN_MESSAGE,
    Answer,
    Highlight,
    Passage,
    best_sentence,
    expand_span,
    location_of,
    relevance_label,
    select_passages,
)
from .retrieval import Candidate, Retriever, contextualize

__all__ = ["Bot", "clean_question", "open_settings_store"]

# Control characters, and lone surrogates (no UTF-8 encoding: the model's tokenizer and JSON refuse them).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
log = logging.getLogger("quotebot.bot")


def clean_question(question: object) -> str:
    """Strip control characters and surrounding space; any language and emoji pass through."""
    text = "" if question is None else str(question)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    return " ".join(text.split())


@dataclass(frozen=True)
class _Threshold:
    noise: float
    margin: float
    density: float | None  # neighbour_p10 of the corpus, when it had enough sentences
    density_ratio: float

    @property
    def floor(self) -> float:
        return self.noise + self.margin

    @property
    def value(self) -> float:
        return max(self.floor, self.density_ratio * self.density) if self.density else self.floor


def open_settings_store(settings: Settings) -> VectorStore:
    """The store the settings name, searching on the GPU when the model runs there."""
    return open_store(
        settings.store,
        index_dir=settings.index_dir,
        uri=settings.uri,
        index_type=settings.index_type,
        search_device=search_device_for(settings.device, settings.backend),
    )


def _shown_in(chunk: Chunk, passage: Passage) -> bool:
    return chunk.doc == passage.document and chunk.start < passage.end and passage.start < chunk.end


class Bot:
    def __init__(
        self,
        store: VectorStore,
        embedder: TextEmbedder,
        *,
        settings: Settings | None = None,
        info: CorpusInfo | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.store = store
        self.embedder = embedder
        self.info = info or CorpusInfo()
        self.retriever = Retriever(store, embedder)
        self._manifest: Manifest | None = None
        self._doc_cache: dict[str, tuple[str, list[Sentence]]] = {}
        self._example_vectors: np.ndarray | None = None
        self._cache_lock = threading.Lock()

    # ---- loading -------------------------------------------------------------------------

    @classmethod
    def load(
        cls, settings: Settings | None = None, *, embedder: TextEmbedder | None = None, store: VectorStore | None = None
    ) -> "Bot":
        """Open the configured store and model; fail early with a message that says how to fix it.

        Pass ``store`` (from ``open_settings_store``) when the caller has opened it already, e.g. to
        bring the index up to date first: the index is then read once, not twice.
        """
        settings = settings or Settings.from_env()
        store = store or open_settings_store(settings)
        embedder = embedder or Embedder(settings.model, device=settings.device, backend=settings.backend)
        try:
            info = load_corpus_info(Path(settings.corpus_dir))
        except DocumentError:
            info = CorpusInfo()
        bot = cls(store, embedder, settings=settings, info=info)
        bot.check_index()
        return bot

    def check_index(self) -> Manifest:
        manifest = self.store.read_manifest()
        rebuild = self.store.rebuild_command()
        if manifest is None:
            raise IndexMissing(f"there is no index at {self.store.describe()}; build it with: {rebuild}")
        if manifest.model != self.embedder.name:
            raise IndexMismatch(
                f"the index was built with the model {manifest.model!r} but the bot uses {self.embedder.name!r}; "
                f"rebuild it with: {rebuild} --model {self.embedder.name}"
            )
        self._manifest = manifest
        return manifest

    def warm_up(self) -> None:
        self.retriever.warm_up()

    def refresh(self) -> None:
        """Pick up an index that another process changed (documents added or removed)."""
        if hasattr(self.store, "reload"):
            self.store.reload()
        self.changed()

    def changed(self) -> None:
        """This bot's own store was just changed (through ``self.store``): the store already holds
        the new index, so only what the bot derived from the old one is dropped."""
        self._forget_derived()
        self.check_index()

    def _forget_derived(self) -> None:
        """Drop what the bot derived from the generation it last read (texts, sentences, manifest,
        lexical index); the store itself keeps serving whatever generation it can."""
        self.retriever.reset()
        with self._cache_lock:
            self._doc_cache.clear()
        self._manifest = None

    @property
    def manifest(self) -> Manifest:
        return self._manifest or self.check_index()

    def _threshold(self) -> _Threshold:
        calibration = self.manifest.calibration
        density = calibration.get("neighbour_p10")
        return _Threshold(
            float(calibration.get("noise_p95", 0.25)),
            self.settings.min_margin,
            float(density) if density is not None else None,
            self.settings.density_ratio,
        )

    # ---- answering -----------------------------------------------------------------------

    def ask(self, question: object, history: Sequence[str] | None = None, k: int | None = None) -> Answer:
        """Quote the passages that answer ``question``, or abstain and say why.

        An index that cannot be read (deleted or damaged while the bot runs, and
        not already in memory) is an abstention with a plain message, never an
        exception; the details, with the command that repairs it, go to the log.
        """
        try:
            return self._ask(question, history, k)
        except IndexError_:  # a change committed between the search and the read: once more, on the new index
            pass
        try:
            self._forget_derived()  # texts, sentences and manifest may belong to the generation read before
            return self._ask(question, history, k)
        except IndexError_ as err:
            log.error("cannot answer from the index: %s", err)
            message = "Sorry, the documents cannot be read right now, so I cannot answer. Please try again later."
            return Answer(clean_question(question)[: self.settings.max_question_chars], True, message, notice=self.info.notice)

    def _ask(self, question: object, history: Sequence[str] | None, k: int | None) -> Answer:
        text = clean_question(question)
        k = max(1, min(int(k or self.settings.k), 10))
        notice = self.info.notice
        if not text:
            return Answer(text, True, "Please type a question.", notice=notice)
        limit = self.settings.max_question_chars
        if len(text) > limit:
            message = f"Your question is {len(text)} characters long; the limit is {limit}. Please shorten it."
            return Answer(text[:limit], True, message, notice=notice)
        earlier = [clean_question(h)[:limit] for h in history or ()]
        searched = contextualize(text, earlier)
        vector = self.retriever.embed(searched)
        candidates = self.retriever.retrieve(searched, vector)
        threshold = self._threshold()
        if not candidates or max(c.dense for c in candidates) < threshold.value:
            suggestions = self.suggest(vector, asked=[text, *earlier])
            return Answer(text, True, ABSTAIN_MESSAGE, notice=notice, suggestions=suggestions, searched_as=searched)
        # The bar for answering at all is the stricter one; further passages need only beat the noise.
        # A few more than k, to fill the places of passages that join one already shown.
        pool = [c for c in select_passages(candidates, 2 * k + 2) if c.dense >= threshold.floor or c is candidates[0]]
        # Scores of single-sentence chunks among the candidates: the best sentence of a passage may lie
        # in the context it grew into, not only in the window that matched.
        sentence_scores = {c.chunk.id: c.dense for c in candidates if len(c.chunk.sentences) == 1}
        passages: list[Passage] = []
        chosen, remaining = pool[:k], pool[k:]
        while chosen:
            for cand in chosen:
                # Grow into neither a passage already shown nor the match of one still to come.
                taken = [(p.start, p.end) for p in passages if p.document == cand.chunk.doc] + [
                    (c.chunk.start, c.chunk.end) for c in chosen if c is not cand and c.chunk.doc == cand.chunk.doc
                ]
                passages = self._add_passage(passages, self._passage(cand, vector, threshold, taken, sentence_scores))
            # Passages grew without knowing the remaining candidates: skip any whose match is already shown.
            remaining = [c for c in remaining if not any(_shown_in(c.chunk, p) for p in passages)]
            free = max(0, k - len(passages))
            chosen, remaining = remaining[:free], remaining[free:]
        return Answer(text, False, "", tuple(passages), notice=notice, searched_as=searched)

    def _document(self, name: str) -> tuple[str, list[Sentence]]:
        """A document's text and sentences, cached: the passage context is cut from them."""
        with self._cache_lock:
            cached = self._doc_cache.get(name)
        if cached is None:
            text = self.store.document_text(name)
            settings = ChunkingSettings.from_dict(self.manifest.chunking)
            cached = (text, split_sentences(text, settings))
            with self._cache_lock:
                if len(self._doc_cache) > 256:
                    self._doc_cache.clear()
                self._doc_cache[name] = cached
        return cached

    def _passage(
        self,
        cand: Candidate,
        vector: np.ndarray,
        threshold: _Threshold,
        taken: list[tuple[int, int]],
        scored: dict[str, float],
    ) -> Passage:
        chunk = cand.chunk
        record = self.manifest.documents.get(chunk.doc)
        ids = [f"{chunk.doc}:{s}-{e}" for s, e in chunk.sentences]
        try:
            sentence_scores = self.store.get_vectors(ids) @ vector if len(ids) > 1 else np.zeros(1)
        except KeyError:  # a sentence that is no chunk of its own (a question, a fragment)
            sentence_scores = np.zeros(len(ids))
        highlight: Highlight = best_sentence(chunk, sentence_scores)
        best = float(np.max(sentence_scores)) if len(ids) > 1 else scored.get(chunk.id, cand.dense)
        doc_text, sentences = self._document(chunk.doc)
        start, end = expand_span(sentences, chunk.start, chunk.end, self.settings.passage_chars, taken)
        for s in sentences:  # a sentence of the grown context that matches the question better
            if start <= s.start and s.end <= end and scored.get(f"{chunk.doc}:{s.start}-{s.end}", -1.0) > best:
                best = scored[f"{chunk.doc}:{s.start}-{s.end}"]
                highlight = Highlight(s.start, s.end, doc_text[s.start : s.end])
        if doc_text[chunk.start : chunk.end] != chunk.text:
            raise IndexMismatch(
                f"the stored text of {chunk.doc} no longer matches its chunks; rebuild: python -m indexer build"
            )
        return Passage(
            text=doc_text[start:end],
            source=record.source if record else chunk.doc,
            document=chunk.doc,
            title=record.title if record else chunk.doc,
            start=start,
            end=end,
            score=round(cand.score, 4),
            relevance=relevance_label(cand.dense - threshold.noise),
            best_sentence=highlight,
            location=location_of(doc_text, chunk, start, record.pages if record else (), record.format if record else "txt"),
            heading=chunk.heading,
        )

    def _add_passage(self, passages: list[Passage], new: Passage) -> list[Passage]:
        """Append ``new``, or join it to a passage it continues (one list or paragraph cut in two
        quotes reads as one); a joined passage may then close the gap to another one. A joined
        passage takes the place, score and emphasis of its better-ranked part."""
        passages, rank = list(passages), len(passages)
        while True:
            joined = next((i for i, p in enumerate(passages) if self._continues(p, new)), None)
            if joined is None:
                passages.insert(rank, new)
                return passages
            other = passages.pop(joined)
            if joined < rank:  # the passage shown before is the better-ranked part
                new, rank = self._join(other, new), joined
            else:
                new = self._join(new, other)

    def _continues(self, shown: Passage, new: Passage) -> bool:
        """``new`` picks up right where ``shown`` ends (or ends where it starts) in the same paragraph
        and the source did not cut the text between them, and the two together are still a quote."""
        if shown.document != new.document or new.end - new.start + shown.end - shown.start > 2 * self.settings.passage_chars:
            return False
        first, second = (shown, new) if shown.start < new.start else (new, shown)
        text, sentences = self._document(shown.document)
        if text[first.end : second.start].strip():
            return False
        i = bisect.bisect_left(sentences, second.start, key=lambda s: s.start)  # sentences are in text order
        if not 0 < i < len(sentences) or sentences[i].start != second.start or sentences[i - 1].end != first.end:
            return False
        last, after = sentences[i - 1], sentences[i]
        return last.block == after.block and not last.truncated_end and not after.truncated_start

    def _join(self, shown: Passage, new: Passage) -> Passage:
        """One passage from two that touch; the better-ranked one keeps its score and emphasis."""
        start, end = min(shown.start, new.start), max(shown.end, new.end)
        text, _ = self._document(shown.document)
        location = shown.location if shown.start <= new.start else new.location
        return replace(shown, text=text[start:end], start=start, end=end, location=location)

    def suggest(self, vector: np.ndarray, n: int = 3, asked: Sequence[str] = ()) -> tuple[str, ...]:
        """Questions the corpus does answer, nearest to what was asked first, leaving out
        those already asked in this conversation (offering them again reads as a loop)."""
        examples = list(self.info.examples)
        if not examples:
            return ()
        if self._example_vectors is None:
            self._example_vectors = self.embedder.encode(examples)
        seen = {a.casefold() for a in asked}
        order = np.argsort(-(self._example_vectors @ vector))
        return tuple(examples[i] for i in order if clean_question(examples[i]).casefold() not in seen)[:n]
