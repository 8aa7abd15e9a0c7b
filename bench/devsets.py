"""The development benchmark's documents, question sets and indexes, built once and cached.

Every ``eval/<slug>.jsonl`` whose corpus ``eval/docs/<slug>/`` exists is a set, beside the
bundled muscle text and the constitution. Indexes are cached under ``.cache/quality/``
(ignored by git), keyed by the documents' bytes, the model, the backend and the indexing
code, so a second run only loads them. The mixed index holds every set's documents
together (named ``<slug>/<file>``): users mix documents, and a calibration or a ranking
that only works on one document at a time would not survive that. Its vectors come from
the per-set builds (``CachingEmbedder``), so it costs no second pass of the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.build import load_corpus_documents, sync_documents
from indexer.document import Document
from indexer.settings import PROJECT_ROOT
from indexer.stores.faiss import FaissStore

__all__ = ["DevSet", "CachingEmbedder", "discover_sets", "build_index", "MIXED"]

MIXED = "mixed"
# Bumped when how the cached indexes are embedded changes (2: documents through encode_documents).
_KEY_VERSION = "2"
# The code that decides the texts and chunks: a change to any of these files rebuilds the cached indexes.
_INDEXING_CODE = ("chunking.py", "loaders.py", "markup.py", "decoding.py", "document.py")


@dataclass(frozen=True)
class DevSet:
    slug: str
    corpus: Path
    questions: Path

    def documents(self) -> list[Document]:
        documents, errors = load_corpus_documents(self.corpus)
        if errors:
            raise ValueError(f"{self.corpus}: unreadable documents {errors}; fix the loader or the file")
        return documents


def discover_sets(root: Path = PROJECT_ROOT, only: Sequence[str] = ()) -> list[DevSet]:
    """The bundled text, the constitution, then every ``eval/<slug>.jsonl`` with ``eval/docs/<slug>/``."""
    sets = [
        DevSet("muscle", root / "corpus", root / "eval" / "muscle_spasms.jsonl"),
        DevSet("constitution", root / "eval" / "constitution", root / "eval" / "us_constitution.jsonl"),
    ]
    sets += [
        DevSet(q.stem, root / "eval" / "docs" / q.stem, q)
        for q in sorted((root / "eval").glob("*.jsonl"))
        if (root / "eval" / "docs" / q.stem).is_dir()
    ]
    if only:
        unknown = sorted(set(only) - {s.slug for s in sets})
        if unknown:
            raise ValueError(f"no development set named {', '.join(unknown)}; known: {', '.join(s.slug for s in sets)}")
        sets = [s for s in sets if s.slug in only]
    return sets


class CachingEmbedder:
    """An embedder that remembers the vector of every document text it embedded (the mixed index
    re-uses them), and of every question within a run.

    Documents go through the inner embedder's ``encode_documents`` where it has one, as the
    app's indexing does (under ``onnx-int8``: the fp32 export), questions through ``encode``
    (int8 there). With ``memo_dir``, the documents' vectors are also kept on disk (one file per
    model and backend, keyed by the text), so an index rebuilt after a change to the chunker
    embeds only the texts that changed: trying a chunking idea on all the development
    documents costs minutes, not the twenty of a first build.
    """

    def __init__(self, embedder, memo_dir: Path | None = None, backend: str = "") -> None:
        self.inner = embedder
        self._documents: dict[str, np.ndarray] = {}
        self._questions: dict[str, np.ndarray] = {}
        self._memo_file = None
        self._saved = 0
        if memo_dir is not None:
            tag = hashlib.sha256(f"{embedder.name}|{backend}|documents".encode()).hexdigest()[:12]
            self._memo_file = Path(memo_dir) / f"documents-{tag}.npz"
            if self._memo_file.exists():
                with np.load(self._memo_file, allow_pickle=False) as data:
                    self._documents = dict(zip(data["texts"].tolist(), data["vectors"]))
                self._saved = len(self._documents)

    def save(self) -> None:
        """Write the documents' memo to disk (atomically) when it learned texts since the last save."""
        if self._memo_file is None or len(self._documents) == self._saved or not self._documents:
            return
        texts = list(self._documents)
        tmp = self._memo_file.with_suffix(".tmp.npz")
        vectors = np.stack([self._documents[t] for t in texts]).astype(np.float32)
        np.savez(tmp, texts=np.array(texts), vectors=vectors)
        tmp.replace(self._memo_file)
        self._saved = len(texts)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Questions (and anything else asked at answer time), as the bot embeds them."""
        return self._cached(self._questions, self.inner.encode, texts, show_progress)

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Chunks for an index, as the indexer embeds them."""
        encode = getattr(self.inner, "encode_documents", self.inner.encode)
        return self._cached(self._documents, encode, texts, show_progress)

    def _cached(self, memo: dict, encode, texts: Sequence[str], show_progress: bool) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            memo.update(zip(missing, encode(missing, show_progress=show_progress)))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([memo[t] for t in texts]).astype(np.float32)

    def remember(self, store: FaissStore) -> None:
        """Learn the vectors a cached index already holds, so the mixed index need not encode them."""
        chunks = store.all_chunks()
        if chunks:
            vectors = store.get_vectors([c.id for c in chunks])
            self._documents.update(zip((c.embed_text for c in chunks), vectors))


def _key(documents: Sequence[Document], model: str, backend: str) -> str:
    code = b"".join(
        (PROJECT_ROOT / "indexer" / name).read_bytes()
        for name in _INDEXING_CODE
        if (PROJECT_ROOT / "indexer" / name).exists()
    )
    parts = [model, backend, _KEY_VERSION, hashlib.sha256(code).hexdigest()]
    parts += sorted(f"{d.name}:{d.sha256}" for d in documents)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def build_index(
    slug: str, documents: Sequence[Document], embedder: CachingEmbedder, cache: Path, backend: str
) -> FaissStore:
    """The cached index of ``documents`` (built now when the cache has none for them)."""
    folder = cache / f"{slug}-{_key(documents, embedder.name, backend)}"
    store = FaissStore(folder)
    marker = cache / f"{folder.name}.built"
    if marker.exists():
        embedder.remember(store)
        return store
    sync_documents(store, embedder, list(documents))
    embedder.save()
    marker.write_text("ok\n", encoding="utf-8")
    return store


def mixed_documents(sets: Sequence[DevSet], documents: dict[str, list[Document]]) -> list[Document]:
    """Every set's documents in one corpus, each named ``<slug>/<its name>``."""
    return [replace(d, name=f"{s.slug}/{d.name}") for s in sets for d in documents[s.slug]]
