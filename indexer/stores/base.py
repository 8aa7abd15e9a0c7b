"""The seam between the bot and where vectors live: the contract every store keeps.

``VectorStore`` is the whole interface the indexer, the bot and the page use;
each backend is one module of this package (``faiss`` for the local default,
``milvus`` for a collection that outgrows one machine), picked by
``indexer.stores.factory.open_store``. This module imports no backend, and
nothing outside a backend knows its files: reloading, discarding a damaged
index and the writers' lock all go through the contract.

A store holds, per document, its record, the text that quotes are taken from,
its chunks and one unit vector per chunk. Changes go in through ``apply`` as one
transaction: the FAISS store writes a new generation and flips a pointer, so a
crash at any point leaves the previous state loadable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ContextManager, Iterable, Sequence

import numpy as np

from ..chunking import Chunk
from ..document import PageStarts

__all__ = [
    "FORMAT_VERSION",
    "IndexProblem",
    "IndexMissing",
    "IndexCorrupt",
    "IndexMismatch",
    "DocumentRecord",
    "Manifest",
    "NewDocument",
    "Hit",
    "TIE_SLACK",
    "rank_hits",
    "INDEX_TYPES",
    "check_index_type",
    "VectorStore",
]

FORMAT_VERSION = 1
# Search-time accuracy knobs of the approximate index types, shared by every store so that they
# answer alike: HNSW's search breadth and IVF's lists probed per query (docs/performance.md).
HNSW_EF_SEARCH = 256
IVF_NPROBE = 32
# The index types a store can be asked for (``--index-type``); "auto" lets the store choose by size.
INDEX_TYPES = ("auto", "flat", "hnsw", "ivf-sq8", "ivf-pq")


def check_index_type(index_type: str) -> str:
    """``index_type`` if it is one of ``INDEX_TYPES``, else a ``ValueError`` that lists them."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"unknown index type {index_type!r}: use {', '.join(INDEX_TYPES[:-1])} or {INDEX_TYPES[-1]}")
    return index_type


def text_key(sha256: str) -> str:
    """Storage key of a document's text; the source hash is enough to tell versions apart."""
    return hashlib.sha256(f"text:{sha256}".encode()).hexdigest()[:32]


class IndexProblem(RuntimeError):
    """Base of the index errors (missing, damaged, built with another model, busy, unreachable):
    each message says how to get a working index back."""


class IndexMissing(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class IndexMismatch(IndexProblem):
    pass


class UnknownDocument(IndexProblem, KeyError):
    """No document of that name in the index: asked by name (a ``KeyError``), or removed between
    a search and the read of its text (an index error, which ``Bot.ask`` answers by trying again)."""


@dataclass(frozen=True)
class DocumentRecord:
    """What the index remembers of a document: enough to tell whether it changed."""

    name: str
    sha256: str
    title: str
    format: str
    source: str
    n_chunks: int
    indexed_at: str
    pages: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["pages"] = list(self.pages)
        data["page_labels"] = list(getattr(self.pages, "labels", ()))  # printed page labels, for citations
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DocumentRecord:
        return cls(
            name=data["name"],
            sha256=data["sha256"],
            title=data.get("title", data["name"]),
            format=data.get("format", "txt"),
            source=data.get("source", data["name"]),
            n_chunks=int(data.get("n_chunks", 0)),
            indexed_at=data.get("indexed_at", ""),
            pages=PageStarts(data.get("pages", ()), data.get("page_labels", ())),
        )


@dataclass(frozen=True)
class Manifest:
    """How an index was built. A bot refuses an index whose model it does not use."""

    model: str
    dimension: int
    chunking: dict
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    index_type: str = "flat"
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict:
        return {
            "format_version": self.format_version,
            "model": self.model,
            "dimension": self.dimension,
            "chunking": self.chunking,
            "index_type": self.index_type,
            "calibration": self.calibration,
            "documents": {name: rec.to_dict() for name, rec in sorted(self.documents.items())},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        return cls(
            model=data["model"],
            dimension=int(data["dimension"]),
            chunking=dict(data.get("chunking", {})),
            documents={name: DocumentRecord.from_dict(rec) for name, rec in data.get("documents", {}).items()},
            calibration=dict(data.get("calibration", {})),
            index_type=data.get("index_type", "flat"),
            format_version=int(data.get("format_version", 0)),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class NewDocument:
    record: DocumentRecord
    text: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # (len(chunks), dimension) float32, unit length


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # inner product of unit vectors: cosine similarity


# Extra hits a store fetches beyond ``k`` so that ``rank_hits`` can order ties across the cut-off.
TIE_SLACK = 16


def rank_hits(hits: Iterable[Hit], k: int) -> list[Hit]:
    """The best ``k`` hits; equal scores (a sentence the text repeats) ordered by position.

    Backends return ties in arbitrary orders, and may compute the same dot product a
    few float32 ulps apart; scores equal to 5 decimals count as ties and are ordered by
    document and offsets, so every store, and every replica, quotes the same place.
    """
    return sorted(hits, key=lambda h: (-round(h.score, 5), h.chunk.doc, h.chunk.start, h.chunk.end))[:k]


class VectorStore(ABC):
    """Where chunks and their vectors live. Retrieval knows nothing else about the backend."""

    @abstractmethod
    def read_manifest(self) -> Manifest | None:
        """The manifest of the stored index, or ``None`` when nothing was built yet."""

    @abstractmethod
    def apply(self, *, remove: Iterable[str], add: Sequence[NewDocument], manifest: Manifest) -> None:
        """Remove documents by name, add (or replace) documents, record the manifest: all or nothing."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """Best ``k`` chunks per query row, best first by inner product, ties by position (``rank_hits``)."""

    def nearest(self, query: np.ndarray, k: int) -> tuple[list[Chunk], list[float]]:
        """``search`` of one query as two lists, its chunks and their scores (what retrieval reads).
        A store may answer it without making ``Hit`` objects (the FAISS store does)."""
        hits = self.search(np.atleast_2d(query), k)[0]
        return [h.chunk for h in hits], [h.score for h in hits]

    @abstractmethod
    def get_vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of the given chunks, in the order asked."""

    @abstractmethod
    def all_chunks(self) -> list[Chunk]:
        """Every chunk, for lexical scoring and listing."""

    @abstractmethod
    def document_text(self, name: str) -> str:
        """The exact text quotes of document ``name`` are slices of."""

    @abstractmethod
    def count(self) -> int:
        """Number of stored chunks."""

    def documents(self) -> dict[str, DocumentRecord]:
        manifest = self.read_manifest()
        return dict(manifest.documents) if manifest else {}

    def describe(self) -> str:
        return type(self).__name__

    def rebuild_command(self) -> str:
        """The command that (re)builds this index, for error messages."""
        return "python -m indexer build"

    def reload(self) -> None:
        """Forget what is cached, so the next call reads what another process committed.

        Stores that check for changes on every call need nothing here.
        """
        return None

    def generation(self) -> str | None:
        """A name for the state a read sees now (the pinned one inside ``pinned``), which changes with
        every commit; ``None`` when this store cannot tell (then callers cannot notice changes)."""
        return None

    def pinned(self) -> ContextManager[None]:
        """Within this block, every read of the calling thread sees one and the same committed state,
        even if another process commits meanwhile: one answer never mixes two generations.
        Stores that cannot pin serve whatever is current at each call."""
        return contextlib.nullcontext()

    def discard(self) -> bool:
        """Delete the whole stored index, so that the next build starts afresh; ``False`` when this
        store does not discard itself (the caller then reports the damage instead).

        The index holds nothing that the corpus folder does not, so a damaged one is rebuilt
        rather than repaired. Call it holding the writers' lock (``indexer.manage.index_lock``).
        """
        return False

    def lock_key(self) -> str:
        """What the writers' lock is keyed on: two stores with the same key are one index."""
        return f"store-{id(self)}"

    def lock_file(self) -> Path | None:
        """A file that writers ``flock`` so that other processes wait too; ``None``: a lock per process."""
        return None
