"""The bot: load an index and its model once, then answer many questions.

``Bot.load(settings)`` checks that the index exists, is intact and was built
with the model the bot will use; ``Bot.ask`` never raises on any string: bad
questions get an abstaining ``Answer`` with a message that says why.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.embedding import Embedder, TextEmbedder
from indexer.loaders import CorpusInfo, DocumentError, load_corpus_info
from indexer.settings import Settings
from indexer.store import IndexMismatch, IndexMissing, Manifest, VectorStore, open_store

from .answer import ABSTAIN_MESSAGE, Answer, Highlight, Passage, best_sentence, location_of, relevance_label, select_passages
from .retrieval import Candidate, Retriever, contextualize

__all__ = ["Bot", "clean_question"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_question(question: object) -> str:
    """Strip control characters and surrounding space; any language and emoji pass through."""
    text = "" if question is None else str(question)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    return " ".join(text.split())


@dataclass(frozen=True)
class _Threshold:
    noise: float
    margin: float

    @property
    def value(self) -> float:
        return self.noise + self.margin


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
        self._example_vectors: np.ndarray | None = None  # embedded on first use; the examples never change

    # ---- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, settings: Settings | None = None, *, embedder: TextEmbedder | None = None) -> "Bot":
        """Open the configured store and model; fail early with a message that says how to fix it."""
        settings = settings or Settings.from_env()
        store = open_store(settings.store, index_dir=settings.index_dir, uri=settings.uri, index_type=settings.index_type)
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
        rebuild = f"python -m indexer build --index {self.settings.index_dir}"
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
        """Pick up a changed index (documents added or removed)."""
        if hasattr(self.store, "reload"):
            self.store.reload()
        self.retriever.reset()
        self.check_index()

    @property
    def manifest(self) -> Manifest:
        return self._manifest or self.check_index()

    def _threshold(self) -> _Threshold:
        calibration = self.manifest.calibration
        return _Threshold(float(calibration.get("noise_p95", 0.25)), self.settings.min_margin)

    # ---- answering -----------------------------------------------------------------------

    def ask(self, question: object, history: Sequence[str] | None = None, k: int | None = None) -> Answer:
        """Quote the passages that answer ``question``, or abstain and say why."""
        text = clean_question(question)
        k = max(1, min(int(k or self.settings.k), 10))
        notice = self.info.notice
        if not text:
            return Answer(str(question or ""), True, "Please type a question.", notice=notice)
        limit = self.settings.max_question_chars
        if len(text) > limit:
            message = f"Your question is {len(text)} characters long; the limit is {limit}. Please shorten it."
            return Answer(text[:limit], True, message, notice=notice)
        searched = contextualize(text, [clean_question(h) for h in history or ()])
        vector = self.retriever.embed(searched)
        candidates = self.retriever.retrieve(searched, vector)
        threshold = self._threshold()
        if not candidates or max(c.dense for c in candidates) < threshold.value:
            return Answer(text, True, ABSTAIN_MESSAGE, notice=notice, suggestions=self.suggest(vector), searched_as=searched)
        chosen = [c for c in select_passages(candidates, k) if c.dense >= threshold.value or c is candidates[0]]
        passages = tuple(self._passage(c, vector, threshold) for c in chosen)
        return Answer(text, False, "", passages, notice=notice, searched_as=searched)

    def _passage(self, cand: Candidate, vector: np.ndarray, threshold: _Threshold) -> Passage:
        chunk = cand.chunk
        record = self.manifest.documents.get(chunk.doc)
        ids = [f"{chunk.doc}:{s}-{e}" for s, e in chunk.sentences]
        try:
            sentence_scores = self.store.get_vectors(ids) @ vector if len(ids) > 1 else np.zeros(1)
        except KeyError:
            sentence_scores = np.zeros(len(ids))
        highlight: Highlight = best_sentence(chunk, sentence_scores)
        try:
            doc_text = self.store.document_text(chunk.doc)
        except (KeyError, OSError):
            doc_text = ""
        return Passage(
            text=chunk.text,
            source=record.source if record else chunk.doc,
            document=chunk.doc,
            title=record.title if record else chunk.doc,
            start=chunk.start,
            end=chunk.end,
            score=round(cand.score, 4),
            relevance=relevance_label(cand.dense - threshold.noise),
            best_sentence=highlight,
            location=location_of(doc_text, chunk, record.pages if record else ()),
            heading=chunk.heading,
        )

    def suggest(self, vector: np.ndarray, n: int = 3) -> tuple[str, ...]:
        """Questions the corpus does answer, nearest to what was asked first."""
        examples = list(self.info.examples)
        if not examples:
            return ()
        if self._example_vectors is None:
            self._example_vectors = self.embedder.encode(examples)
        scores = self._example_vectors @ vector
        order = np.argsort(-scores)[:n]
        return tuple(examples[i] for i in order)
