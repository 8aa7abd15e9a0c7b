"""The bot: load an index and its model once, then answer many questions.

``Bot.load(settings)`` checks that the index exists, is intact and was built
with the model the bot will use; ``Bot.ask`` never raises on any string: bad
questions get an abstaining ``Answer`` with a message that says why.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from indexer.chunking import Chunk, ChunkingSettings, Sentence, split_sentences
from indexer.embedding import Embedder, TextEmbedder
from indexer.loaders import CorpusInfo, DocumentError, load_corpus_info
from indexer.settings import Settings
from indexer.stores import IndexMismatch, IndexMissing, IndexProblem, Manifest, VectorStore, open_store
from indexer.torch_search import search_device_for

from .answer import Answer, ChunkCache, SourceText, abstains, compose
from .examples import examples_for
from .freshness import GenerationGate
from .inputs import earlier_questions, passage_count
from .language import LANGUAGE_MESSAGE, foreign_language, reads_english_only
from .retrieval import Candidate, LexicalIndex, Retriever, contextualize

__all__ = ["Bot", "clean_question", "open_settings_store"]

# Control characters, and lone surrogates (no UTF-8 encoding: the model's tokenizer and JSON refuse them).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
log = logging.getLogger("quotebot.bot")


def clean_question(question: object) -> str:
    """Strip control characters and surrounding space; any language and emoji pass through."""
    text = "" if question is None else str(question)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    return " ".join(text.split())


def open_settings_store(settings: Settings) -> VectorStore:
    """The store the settings name, searching on the GPU when the model runs there."""
    return open_store(
        settings.store,
        index_dir=settings.index_dir,
        uri=settings.uri,
        index_type=settings.index_type,
        search_device=search_device_for(settings.device, settings.backend),
    )


class _Documents(Mapping):
    """The bot's documents as composition reads them, loaded (and cached by the bot) on first use."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    def __getitem__(self, name: str) -> SourceText:
        return self._bot._source(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._bot.manifest.documents)

    def __len__(self) -> int:
        return len(self._bot.manifest.documents)


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
        self._chunk_cache = ChunkCache()  # what answers derive from a chunk alone (sentence ids, words)
        self._windows: dict[str, tuple[str, ...]] = {}  # chunk id -> its sentences with a vector
        self._sources: dict[str, SourceText] = {}  # name -> the document as composition reads it
        self._example_vectors: np.ndarray | None = None
        self._derived_examples: tuple[str, ...] | None = None
        self._cache_lock = threading.Lock()
        self._gate = GenerationGate()  # one generation per answer (bot.freshness)

    # ---- loading -------------------------------------------------------------------------

    @classmethod
    def load(
        cls, settings: Settings | None = None, *, embedder: TextEmbedder | None = None, store: VectorStore | None = None
    ) -> Bot:
        """Open the configured store and model; fail early with a message that says how to fix it.

        Pass ``store`` (from ``open_settings_store``) when the caller has opened it already, e.g. to
        bring the index up to date first: the index is then read once, not twice.
        """
        settings = settings or Settings.from_env()
        store = store or open_settings_store(settings)
        embedder = embedder or Embedder.from_settings(settings)
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
        """Load the model and derive what answers need (manifest, lexical index) from one generation,
        which the first answer then uses as it is rather than deriving it again."""
        with self._one_generation():
            self.check_index()
            self.retriever.warm_up()

    def refresh(self) -> None:
        """Pick up an index that another process changed (documents added or removed)."""
        self.store.reload()  # part of the contract: a no-op for stores that read afresh on every call
        self.changed()

    def changed(self) -> None:
        """This bot's own store was just changed (through ``self.store``): the store already holds
        the new index, so what the bot derived from the old one is dropped before the next answer
        (answers in flight finish on the generation they started on)."""
        self._gate.invalidate()

    def _forget_derived(self) -> None:
        """Drop what the bot derived from the generation it last read (texts, sentences, manifest,
        lexical index); the store itself keeps serving whatever generation it can."""
        self.retriever.reset()
        with self._cache_lock:
            self._doc_cache.clear()
            self._sources.clear()
        self._chunk_cache = ChunkCache()
        self._windows = {}
        self._manifest = None
        self._derived_examples = self._example_vectors = None

    @property
    def manifest(self) -> Manifest:
        return self._manifest or self.check_index()

    # ---- answering -----------------------------------------------------------------------

    def ask(
        self,
        question: object,
        history: Sequence[str] | None = None,
        k: int | None = None,
        documents: Collection[str] | None = None,
    ) -> Answer:
        """Quote the passages that answer ``question``, or abstain and say why.

        ``documents`` (names in the index) restricts the search to those documents.

        An index that cannot be read (deleted or damaged while the bot runs, and
        not already in memory) is an abstention with a plain message, never an
        exception; the details, with the command that repairs it, go to the log.
        """
        try:
            return self._ask_newest(question, history, k, documents)
        except IndexProblem:  # a text gone with a replaced generation, a damaged one: once more, on the newest
            pass
        try:
            self._gate.invalidate()  # texts, sentences and manifest may belong to the generation read before
            return self._ask_newest(question, history, k, documents)
        except IndexProblem as err:
            log.error("cannot answer from the index: %s", err)
            message = "Sorry, the documents cannot be read right now, so I cannot answer. Please try again later."
            return Answer(
                clean_question(question)[: self.settings.max_question_chars], True, message, notice=self.info.notice
            )

    def _ask_newest(
        self, question: object, history: Sequence[str] | None, k: int | None, documents: Collection[str] | None = None
    ) -> Answer:
        """Answer from one generation, the newest committed, with everything derived from it (texts,
        titles, pages, calibration, lexical index): a commit by any process is seen by the next answer."""
        with self._one_generation():
            return self._ask(question, history, k, documents)

    @contextlib.contextmanager
    def _one_generation(self) -> Iterator[None]:
        """Pin the store's live generation for this thread and hold a place on it at the gate, which
        first drops what was derived from another generation (bot.freshness)."""
        pinned = getattr(self.store, "pinned", contextlib.nullcontext)  # a store that cannot pin: whatever is current
        with pinned():
            generation = getattr(self.store, "generation", lambda: None)()
            with self._gate.enter(generation, self._forget_derived):
                yield

    def _ask(
        self, question: object, history: Sequence[str] | None, k: int | None, documents: Collection[str] | None = None
    ) -> Answer:
        text = clean_question(question)
        k = passage_count(k, self.settings.k)
        notice = self.info.notice
        if not text:
            return Answer(text, True, "Please type a question.", notice=notice)
        limit = self.settings.max_question_chars
        if len(text) > limit:
            message = f"Your question is {len(text)} characters long; the limit is {limit}. Please shorten it."
            return Answer(text[:limit], True, message, notice=notice)
        if reads_english_only(self.embedder.name) and foreign_language(text):
            return Answer(text, True, LANGUAGE_MESSAGE, notice=notice)
        earlier = [clean_question(h)[:limit] for h in earlier_questions(history)]
        searched = contextualize(text, earlier)
        vector = self.retriever.embed(searched)
        candidates = self.retriever.retrieve(searched, vector, documents)
        min_score = self.settings.min_score
        answer = compose(
            text,
            candidates,
            _Documents(self),
            min_score,
            k=k,
            passage_chars=self.settings.passage_chars,
            sentence_scores={} if abstains(candidates, min_score) else self._sentence_scores(candidates, vector),
            searched_as=searched,
            notice=notice,
            cache=self._chunk_cache,
        )
        if answer.abstained:
            return replace(answer, suggestions=self.suggest(vector, asked=[text, *earlier]))
        return answer

    def _sentence_scores(self, candidates: Sequence[Candidate], vector: np.ndarray) -> dict[str, float]:
        """Cosine to the question of each sentence of the candidates' multi-sentence windows that has
        a vector of its own (questions and fragments have none), read from the store in one call."""
        lexical = self.retriever.lexical()
        windows = [self._window(c.chunk, lexical) for c in candidates]
        wanted = list(dict.fromkeys(chain.from_iterable(windows)))
        try:
            return dict(zip(wanted, (self.store.get_vectors(wanted) @ vector).tolist())) if wanted else {}
        except KeyError:  # the store changed since the ids were read: one window at a time
            scores: dict[str, float] = {}
            for chunk in (c.chunk for c in candidates if len(c.chunk.sentences) > 1):
                ids = self._chunk_cache.sentence_ids(chunk)
                try:
                    scores.update(zip(ids, (self.store.get_vectors(ids) @ vector).tolist()))
                except KeyError:  # a sentence that is no chunk of its own (a question, a fragment)
                    continue
            return scores

    def _window(self, chunk: Chunk, lexical: LexicalIndex | None) -> tuple[str, ...]:
        """The ids of a multi-sentence window's sentences that are chunks of the index (all of them
        when the bot cannot tell; none for a single sentence), made once per chunk and generation."""
        window = self._windows.get(chunk.id)
        if window is None:
            if len(self._windows) >= 100_000:  # a large index: keep memory bounded
                self._windows = {}
            ids = self._chunk_cache.sentence_ids(chunk) if len(chunk.sentences) > 1 else ()
            window = self._windows[chunk.id] = lexical.known(ids) if lexical is not None else ids
        return window

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

    def _source(self, name: str) -> SourceText:
        """A document as composition reads it, made once per document and generation (an answer
        asks for it once per passage)."""
        with self._cache_lock:
            source = self._sources.get(name)
        if source is not None:
            return source
        text, sentences = self._document(name)
        record = self.manifest.documents.get(name)
        if record is None:
            source = SourceText(text, sentences, source=name, title=name)
        else:
            source = SourceText(
                text, sentences, source=record.source, title=record.title, pages=record.pages, format=record.format
            )
        with self._cache_lock:
            if len(self._sources) > 256:
                self._sources.clear()
            self._sources[name] = source
        return source

    def examples(self) -> tuple[str, ...]:
        """``corpus.toml``'s example questions, or, without them, questions derived from the
        documents that the bot answers (``bot.examples``; computed once per index generation)."""
        if self.info.examples:
            return tuple(self.info.examples)
        if self._derived_examples is None:
            self._derived_examples = examples_for(self)
        return self._derived_examples

    def suggest(self, vector: np.ndarray, n: int = 3, asked: Sequence[str] = ()) -> tuple[str, ...]:
        """Questions the corpus does answer, nearest to what was asked first, leaving out
        those already asked in this conversation (offering them again reads as a loop)."""
        examples = list(self.examples())
        if not examples:
            return ()
        if self._example_vectors is None:
            self._example_vectors = self.embedder.encode(examples)
        seen = {a.casefold() for a in asked}
        order = np.argsort(-(self._example_vectors @ vector))
        return tuple(examples[i] for i in order if clean_question(examples[i]).casefold() not in seen)[:n]
