"""The default store: a FAISS index and plain files in one local folder.

Layout of an index folder::

    CURRENT                 name of the live generation, replaced atomically
    gen-000007/
        manifest.json       model, dimension, chunking, documents, calibration, file sizes and
                            checksums, and the sha256 of all that (a changed character is damage)
        chunks.jsonl        one chunk per line, row i <-> vector i
        vectors.npy         float32 (n, dimension), the source of truth for rebuilds
        index.faiss         the search structure built from vectors.npy
    texts/<sha256>.txt      the exact text of each document, content-addressed

Every change writes a whole new generation beside the live one and then flips
``CURRENT``: a crash or ``kill -9`` at any moment leaves the old generation
live and loadable. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from ..chunking import Chunk
from ..fsutil import fsync_dir, write_atomic
from .base import (
    FORMAT_VERSION,
    HNSW_EF_SEARCH,
    INDEX_TYPES,
    IVF_NPROBE,
    TIE_SLACK,
    Hit,
    IndexCorrupt,
    IndexMissing,
    IndexProblem,
    Manifest,
    NewDocument,
    UnknownDocument,
    VectorStore,
    check_index_type,
    rank_hits,
    text_key,
)

__all__ = [
    "FaissStore",
    "build_faiss_index",
    "choose_index_type",
    "faiss_read_flags",
    "manifest_checksum",
    "EXACT_BELOW",
]

# Below this many vectors exact search is both fast enough and exact: its median single-query time
# reaches 5 ms at about 60k passages on the reference CPU (docs/performance.md).
EXACT_BELOW = 50_000
# Above it, IVF with 8-bit scalar quantisation: recall@10 0.99 at 1M passages in 0.4 ms, 400 bytes each.
APPROXIMATE = "ivf-sq8"
# Indexes at least this large (in bytes) are memory-mapped on load rather than read into RAM.
MMAP_ABOVE_BYTES = 256 * 1024 * 1024
# Characters of document text kept in memory for quoting (every answer reads 1 to 10 documents).
TEXT_CACHE_CHARS = 50_000_000
REBUILD_HINT = "rebuild it with: python -m indexer build --index {dir}"
# A generation replaced less than this long ago is kept (with the texts it needs), so that a reader
# that read ``CURRENT`` just before the flip can still open it; older ones go at the next commit.
GENERATION_GRACE_S = 15.0
# Times a reader follows ``CURRENT`` to a newer generation when the one it was opening went away.
OPEN_ATTEMPTS = 4
_GEN_NAME = re.compile(r"gen-\d{6,}")
log = logging.getLogger("quotebot.index")


def faiss_read_flags(file_bytes: int) -> int:
    """``faiss.read_index`` flags for an index file of this size: memory-mapped above ``MMAP_ABOVE_BYTES``.

    ``IO_FLAG_MMAP_IFC`` (recent FAISS, e.g. 1.15) maps the vectors of flat and HNSW indexes
    and the lists of IVF ones straight from the file; the older ``IO_FLAG_MMAP``
    maps IVF lists only and silently reads flat and HNSW indexes into RAM
    (docs/performance.md has the measurement). Mapped indexes are read-only,
    which suits the store: every change builds a new index.
    """
    import faiss

    if file_bytes <= MMAP_ABOVE_BYTES:
        return 0
    mmap = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP)
    return mmap | faiss.IO_FLAG_READ_ONLY


def choose_index_type(n: int, requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    return "flat" if n < EXACT_BELOW else APPROXIMATE


def build_faiss_index(vectors: np.ndarray, index_type: str):
    """A FAISS inner-product index over unit vectors, of the given type.

    ``flat`` is exact; ``hnsw`` is a graph (fast, ~1.2x the vectors' memory);
    ``ivf-sq8`` and ``ivf-pq`` cluster and compress (least memory, need training).
    ``ivf-pq`` (48 bytes a vector) alone finds only about half of the true top 10
    on our benchmark: use it only where memory matters more than recall.
    """
    import faiss

    n, dim = vectors.shape if vectors.ndim == 2 else (0, 0)
    if index_type == "flat" or n == 0:
        index = faiss.IndexFlatIP(dim or 1)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif index_type in ("ivf-sq8", "ivf-pq"):
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(dim)
        if index_type == "ivf-sq8":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        else:
            m = next(m for m in (48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        sample = vectors if n <= 100_000 else vectors[np.random.default_rng(0).choice(n, 100_000, replace=False)]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = max(1, min(nlist, IVF_NPROBE))
    else:
        check_index_type(index_type)
        raise ValueError(f"index type {index_type!r} is chosen by size; pass one of {', '.join(INDEX_TYPES[1:])}")
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


@dataclass
class _Generation:
    manifest: Manifest
    chunks: list[Chunk]
    vectors: np.ndarray
    index: object
    row_of: dict[str, int]
    by_doc: dict[str, list[Chunk]] | None = None  # built on first use
    verified: set[str] = field(default_factory=set)  # documents whose stored text matched their chunks
    exact: object | None = None  # TorchExactSearch over the vectors, when searching on a GPU
    name: str = ""  # the generation's folder name, e.g. gen-000007


def _best_hits(chunks: Sequence[Chunk], scores: np.ndarray, rows: np.ndarray, k: int) -> list[Hit]:
    """``rank_hits`` of one result row, building ``Hit`` objects for the ``k`` kept only."""
    values, order = _best_rows(chunks, scores, rows, k)
    return [Hit(chunks[r], s) for s, r in zip(values, order)]


def _best_rows(chunks: Sequence[Chunk], scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[list[float], list[int]]:
    """The scores and rows of ``rank_hits`` of one result row, the ``k`` kept only.

    FAISS returns a row best first, so scores equal to 5 decimals (the ties ``rank_hits``
    orders by position) are neighbours less than 1e-5 apart: only such runs are looked at
    (Python's ``round`` costs more than FAISS's whole search of a small index) and sorted
    by position. A row that is not best first (no index type gives one) goes through
    ``rank_hits`` itself. Plain Python over the row's few dozen values: after the model has
    run, each numpy call here cost tens of microseconds (its code no longer in the caches),
    more than this whole loop.
    """
    values, order = scores.tolist(), rows.tolist()
    if min(order, default=0) < 0:  # FAISS's "no result"
        kept = [(s, r) for s, r in zip(values, order) if r >= 0]
        values, order = [s for s, _ in kept], [r for _, r in kept]
    if values != sorted(values, reverse=True):  # not best first
        ranked = rank_hits((_Ranked(chunks[r], s, r) for s, r in zip(values, order)), k)
        return [h.score for h in ranked], [h.row for h in ranked]
    # Neighbours less than 2e-5 apart (the gaps as float64, as the scores' own float32 values),
    # then only those equal to 5 decimals.
    near = [i for i, (a, b) in enumerate(zip(values, values[1:])) if a - b < 2e-5]
    tied = [i for i in near if round(values[i], 5) == round(values[i + 1], 5)]
    start = 0
    while start < len(tied) and tied[start] < k:  # runs of ties that reach into the first k
        end = start
        while end + 1 < len(tied) and tied[end + 1] == tied[end] + 1:
            end += 1
        first, last = tied[start], tied[end] + 1  # the run holds rows first..last
        run = sorted(zip(values[first : last + 1], order[first : last + 1]), key=lambda p: _position(chunks[p[1]]))
        values[first : last + 1], order[first : last + 1] = (list(part) for part in zip(*run))
        start = end + 1
    return values[:k], order[:k]


class _Ranked(NamedTuple):
    """What ``rank_hits`` reads of a hit (``chunk``, ``score``), with the row it came from."""

    chunk: Chunk
    score: float
    row: int


class _IndexMemory:
    """Exposes a flat index's own vector storage to numpy and keeps the index alive with the view."""

    def __init__(self, index, view: np.ndarray) -> None:
        self.index = index
        self.__array_interface__ = view.__array_interface__


def _shared_vectors(index, vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as a view on the flat index's own copy of them, when it holds the same
    values; otherwise ``vectors`` itself.

    A flat index keeps every vector, so a second array of them doubles the memory. It also costs
    each answer time: the emphasis reads a few dozen of those vectors right after the search has
    scanned the index's copy, which is then in the CPU caches, while the other copy was pushed
    out by the model that embedded the question.
    """
    import faiss

    if not isinstance(index, faiss.IndexFlat) or isinstance(vectors, np.memmap) or index.ntotal == 0:
        return vectors
    n, dim = index.ntotal, index.d
    if vectors.shape != (n, dim) or vectors.dtype != np.float32:
        return vectors
    view = faiss.rev_swig_ptr(index.get_xb(), n * dim).reshape(n, dim)
    if not np.array_equal(view, vectors):
        return vectors
    return np.asarray(_IndexMemory(index, view))


class _Pin:
    """``FaissStore.pinned``: a class rather than a generator, as every answer enters one."""

    __slots__ = ("store", "outer")

    def __init__(self, store: FaissStore) -> None:
        self.store = store
        self.outer: _Generation | None = None

    def __enter__(self) -> None:
        local = self.store._local
        self.outer = getattr(local, "pinned", None)
        local.pinned = self.outer or self.store._load()

    def __exit__(self, *exc: object) -> None:
        self.store._local.pinned = self.outer


def _position(chunk: Chunk) -> tuple[str, int, int]:
    return chunk.doc, chunk.start, chunk.end


class FaissStore(VectorStore):
    """Index folder on local disk. Loads lazily; every ``apply`` is a new generation."""

    def __init__(self, index_dir: Path, *, index_type: str = "auto", search_device: str | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.index_type = index_type
        # None: FAISS on the CPU. "cuda": exact search on the GPU (indexer.torch_search), the
        # FAISS files still written and kept for CPU machines; "cpu" runs that path on the CPU (tests).
        self.search_device = search_device
        self._gen: _Generation | None = None
        self._gen_name: str | None = None
        self._problem: str | None = None  # the last read failure logged, so it is logged once
        self._lock = threading.RLock()
        self._pointer_stamp: tuple[int, int, int] | None = None  # (inode, mtime, size) of CURRENT when last read
        self._pointer_name: str | None = None
        # Document texts by content hash: a text file never changes, so the cache never goes stale.
        self._texts: dict[str, str] = {}
        self._local = threading.local()  # .pinned: the generation this thread reads inside ``pinned``
        self._pointer, self._pointer_of = self.index_dir / "CURRENT", self.index_dir

    def describe(self) -> str:
        return f"FAISS index at {self.index_dir}"

    def rebuild_command(self) -> str:
        return f"python -m indexer build --index {self.index_dir}"

    # ---- reading -------------------------------------------------------------------------

    def _current_name(self) -> str | None:
        """The live generation's name. Every call checks the pointer, so a change by another process is
        seen at once; the file is read again only when its identity changed (it is replaced, never edited)."""
        if self._pointer_of is not self.index_dir:  # made once: every answer checks the pointer
            self._pointer, self._pointer_of = self.index_dir / "CURRENT", self.index_dir
        pointer = self._pointer
        try:
            st = os.stat(pointer)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp == self._pointer_stamp and self._pointer_name is not None:
                return self._pointer_name
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            name = ""
        except OSError as err:
            raise IndexCorrupt(f"cannot read {pointer} ({err}); {self._hint()}") from err
        if not _GEN_NAME.fullmatch(name):
            raise IndexCorrupt(f"the index pointer {pointer} is damaged; {self._hint()}")
        self._pointer_stamp, self._pointer_name = stamp, name
        return name

    def _hint(self) -> str:
        return REBUILD_HINT.format(dir=self.index_dir)

    def exists(self) -> bool:
        return self._current_name() is not None

    def _load(self, *, strict: bool = False) -> _Generation | None:
        """The live generation, read again whenever ``CURRENT`` names another one.

        When the folder is deleted or damaged underneath a store that already has a
        generation loaded, readers keep that generation (and a warning is logged
        once) rather than failing every question: the bot goes on answering from
        what it had. ``strict`` (for writers) raises instead, so that nothing new is
        ever built on top of an index that is no longer on disk.
        """
        pinned = None if strict else getattr(self._local, "pinned", None)
        if pinned is not None:
            return pinned
        with self._lock:
            try:
                name = self._current_name()
                if name is None and self._gen is not None:
                    raise IndexMissing(
                        f"the index folder {self.index_dir} has lost its CURRENT pointer; {self._hint()}"
                    )
                if name is None:
                    return None
                if name != self._gen_name or self._gen is None:
                    self._gen = self._read_live(name)
                    self._gen_name = self._gen.name
            except IndexProblem as err:
                if strict or self._gen is None:
                    raise
                if str(err) != self._problem:
                    log.warning("%s; still serving the generation loaded before (%s)", err, self._gen_name)
                    self._problem = str(err)
                return self._gen
            self._problem = None
            return self._gen

    def generation(self) -> str | None:
        gen = self._load()
        return gen.name if gen is not None else None

    def pinned(self) -> contextlib.AbstractContextManager[None]:
        """Reads of this thread use the generation live now until the block ends (writes never do)."""
        return _Pin(self)

    def _read_live(self, name: str) -> _Generation:
        """Open generation ``name``; when it fails because a writer replaced it meanwhile (and its grace
        period ran out), follow ``CURRENT`` to the newer one. Damage that stays put is raised."""
        for _ in range(OPEN_ATTEMPTS - 1):
            try:
                return self._read_generation(self.index_dir / name)
            except IndexProblem:
                newer = self._current_name()
                if newer is None or newer == name:
                    raise
                name = newer
        return self._read_generation(self.index_dir / name)

    def reload(self) -> None:
        """Forget what is cached so the next call reads the live generation again."""
        with self._lock:
            self._gen, self._gen_name, self._problem = None, None, None

    def discard(self) -> bool:
        """Delete every generation and stored text; the pointer goes first, so that from then on
        there is no index rather than half of one."""
        with self._lock:
            (self.index_dir / "CURRENT").unlink(missing_ok=True)
            for path in self.index_dir.iterdir():
                if path.is_dir() and (path.name == "texts" or path.name.startswith(("gen-", ".tmp-gen-"))):
                    shutil.rmtree(path)
            self.reload()
        return True

    def lock_key(self) -> str:
        return str(self.index_dir.resolve())

    def lock_file(self) -> Path:
        return self.index_dir / ".lock"

    def _read_generation(self, folder: Path) -> _Generation:
        import faiss

        hint = self._hint()
        try:
            data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            claimed = data.pop("checksum", None) if isinstance(data, dict) else None
            manifest = Manifest.from_dict(data)
        except FileNotFoundError as err:
            raise IndexCorrupt(f"the index at {self.index_dir} has no manifest ({folder.name}); {hint}") from err
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise IndexCorrupt(f"the index manifest in {folder} is damaged ({err}); {hint}") from err
        if manifest.format_version != FORMAT_VERSION:
            raise IndexCorrupt(
                f"the index at {self.index_dir} has format {manifest.format_version}, this version reads "
                f"{FORMAT_VERSION}; {hint}"
            )
        if claimed != manifest_checksum(data):  # one changed character could change titles, sources, calibration
            raise IndexCorrupt(f"the index manifest in {folder} is damaged (its checksum does not match); {hint}")
        _check_files(folder, data, hint)
        try:
            with open(folder / "chunks.jsonl", encoding="utf-8") as handle:
                chunks = [Chunk.from_dict(json.loads(line)) for line in handle if line.strip()]
            big = (folder / "vectors.npy").stat().st_size > MMAP_ABOVE_BYTES
            vectors = np.load(folder / "vectors.npy", mmap_mode="r" if big else None, allow_pickle=False)
            index_path = folder / "index.faiss"
            index = faiss.read_index(str(index_path), faiss_read_flags(index_path.stat().st_size))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
            raise IndexCorrupt(f"the index in {folder} cannot be read ({err}); {hint}") from err
        if not (len(chunks) == vectors.shape[0] == index.ntotal):
            raise IndexCorrupt(
                f"the index in {folder} is inconsistent ({len(chunks)} chunks, {vectors.shape[0]} vectors, "
                f"{index.ntotal} in FAISS); {hint}"
            )
        if len(chunks) and vectors.shape[1] != manifest.dimension:
            raise IndexCorrupt(f"the vectors in {folder} do not have the manifest's dimension; {hint}")
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = max(index.hnsw.efSearch, HNSW_EF_SEARCH)
        elif hasattr(index, "nprobe"):
            index.nprobe = max(index.nprobe, min(index.nlist, IVF_NPROBE))
        vectors = _shared_vectors(index, vectors)
        return _Generation(manifest, chunks, vectors, index, {c.id: i for i, c in enumerate(chunks)}, name=folder.name)

    def read_manifest(self) -> Manifest | None:
        gen = self._load()
        return gen.manifest if gen else None

    def _require(self) -> _Generation:
        gen = self._load()
        if gen is None:
            raise IndexMissing(
                f"there is no index at {self.index_dir}; build it with: python -m indexer build --index {self.index_dir}"
            )
        return gen

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        return [[Hit(c, s) for c, s in zip(chunks, scores)] for chunks, scores in self._nearest(queries, k)]

    def nearest(self, query: np.ndarray, k: int) -> tuple[list[Chunk], list[float]]:
        """Without ``Hit`` objects: retrieval asks for 40 a question, and after the model has run,
        making them (an object and its ``__dict__`` each) costs more than FAISS's search of a small index."""
        return self._nearest(query, k)[0]

    def _nearest(self, queries: np.ndarray, k: int) -> list[tuple[list[Chunk], list[float]]]:
        gen = self._require()
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if not gen.chunks or k <= 0:
            return [([], []) for _ in range(len(queries))]
        searcher = self._exact_searcher(gen) if self.search_device else gen.index
        scores, rows = searcher.search(queries, min(k + TIE_SLACK, len(gen.chunks)))
        found = []
        for score_row, row_row in zip(scores, rows):
            values, order = _best_rows(gen.chunks, score_row, row_row, k)
            found.append(([gen.chunks[r] for r in order], values))
        return found

    def _exact_searcher(self, gen: _Generation):
        with self._lock:
            if gen.exact is None:
                from ..torch_search import TorchExactSearch

                gen.exact = TorchExactSearch(gen.vectors, self.search_device)
            return gen.exact

    def get_vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        gen = self._require()
        rows = [gen.row_of[cid] for cid in chunk_ids]
        return np.asarray(gen.vectors[rows], dtype=np.float32)

    def all_chunks(self) -> list[Chunk]:
        gen = self._load()
        return list(gen.chunks) if gen else []

    def document_text(self, name: str) -> str:
        gen = self._require()
        record = gen.manifest.documents.get(name)
        if record is None:
            raise UnknownDocument(f"no document named {name!r} in the index")
        key = text_key(record.sha256)
        with self._lock:
            cached = self._texts.get(key)
        if cached is not None:
            return cached
        path = self.index_dir / "texts" / f"{key}.txt"
        try:
            text = path.read_bytes().decode("utf-8")  # as written: read_text would turn "\r\n" into "\n"
        except (OSError, UnicodeDecodeError) as err:
            raise IndexCorrupt(f"the stored text of {name} is missing or unreadable ({path}); {self._hint()}") from err
        if name not in gen.verified:  # the promise, checked once per generation: quotes are slices of this text
            if any(text[c.start : c.end] != c.text for c in self._chunks_of(gen, name)):
                raise IndexCorrupt(f"the stored text of {name} ({path}) does not match its quotes; {self._hint()}")
            gen.verified.add(name)
        with self._lock:
            if sum(map(len, self._texts.values())) + len(text) > TEXT_CACHE_CHARS:
                self._texts.clear()
            self._texts[key] = text
        return text

    def _chunks_of(self, gen: _Generation, name: str) -> list[Chunk]:
        with self._lock:
            if gen.by_doc is None:
                gen.by_doc = {}
                for chunk in gen.chunks:
                    gen.by_doc.setdefault(chunk.doc, []).append(chunk)
        return gen.by_doc.get(name, [])

    def count(self) -> int:
        gen = self._load()
        return len(gen.chunks) if gen else 0

    # ---- writing -------------------------------------------------------------------------

    def apply(self, *, remove: Iterable[str], add: Sequence[NewDocument], manifest: Manifest) -> None:
        with self._lock:
            current = self._load(strict=True)
            drop = set(remove) | {doc.record.name for doc in add}
            keep_rows = [i for i, c in enumerate(current.chunks) if c.doc not in drop] if current is not None else []
            chunks = [current.chunks[i] for i in keep_rows] if current is not None else []
            parts = (
                [np.asarray(current.vectors[keep_rows], dtype=np.float32)] if current is not None and keep_rows else []
            )
            for doc in add:
                if len(doc.chunks) != len(doc.vectors):
                    raise ValueError(f"{doc.record.name}: {len(doc.chunks)} chunks but {len(doc.vectors)} vectors")
                chunks.extend(doc.chunks)
                parts.append(np.asarray(doc.vectors, dtype=np.float32).reshape(len(doc.chunks), manifest.dimension))
            vectors = np.concatenate(parts) if parts else np.zeros((0, manifest.dimension), dtype=np.float32)
            index_type = choose_index_type(len(chunks), self.index_type)
            manifest = replace(manifest, index_type=index_type, format_version=FORMAT_VERSION)
            index = build_faiss_index(vectors, index_type)
            try:
                texts_dir = self.index_dir / "texts"
                for doc in add:
                    path = texts_dir / f"{text_key(doc.record.sha256)}.txt"
                    if not path.exists():
                        write_atomic(path, doc.text)
                self._write_generation(manifest, chunks, vectors, index)
            except OSError as err:  # a full disk, a read-only folder: nothing live was touched
                raise OSError(
                    err.errno,
                    f"could not write the index at {self.index_dir} ({err.strerror or err}); the index was left as "
                    "it was before this change. Free some disk space (or make the folder writable) and build again",
                ) from err
            self._collect_garbage(manifest)

    def _write_generation(self, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, index) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        current = self._current_name()
        number = int(current.split("-")[1]) + 1 if current else 1
        name = f"gen-{number:06d}"
        tmp = self.index_dir / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            self._write_files(tmp, manifest, chunks, vectors, index)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # give the space back; CURRENT still names the old generation
            raise
        final = self.index_dir / name
        shutil.rmtree(final, ignore_errors=True)  # a leftover of a crashed earlier attempt
        os.replace(tmp, final)
        fsync_dir(self.index_dir)
        write_atomic(self.index_dir / "CURRENT", name + "\n")  # the commit point
        vectors = _shared_vectors(index, vectors)
        self._gen = _Generation(manifest, chunks, vectors, index, {c.id: i for i, c in enumerate(chunks)}, name=name)
        self._gen_name = name

    @staticmethod
    def _write_files(tmp: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, index) -> None:
        import faiss

        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        try:
            faiss.write_index(index, str(tmp / "index.faiss"))
        except RuntimeError as err:  # FAISS reports a failed write (a full disk) as RuntimeError
            raise OSError(f"FAISS could not write {tmp / 'index.faiss'}: {err}") from err
        files = {f: (tmp / f).stat().st_size for f in ("chunks.jsonl", "vectors.npy", "index.faiss")}
        crc = {f: _crc32(tmp / f) for f in files if files[f] <= MMAP_ABOVE_BYTES}
        data = manifest.to_dict() | {"files": files, "crc32": crc}
        data["checksum"] = manifest_checksum(data)
        (tmp / "manifest.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        for fname in (*files, "manifest.json"):
            with open(tmp / fname, "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(tmp)

    def _collect_garbage(self, manifest: Manifest) -> None:
        """Remove crashed temporaries, generations replaced more than ``GENERATION_GRACE_S`` ago, and
        texts that no generation still kept needs.

        A generation's replacement time is when the next one was written (its folder's mtime), so a
        reader that read ``CURRENT`` just before a flip finds every file of what it read.
        """
        for path in self.index_dir.glob(".tmp-gen-*"):
            shutil.rmtree(path, ignore_errors=True)
        generations = sorted(p for p in self.index_dir.iterdir() if _GEN_NAME.fullmatch(p.name))
        wanted = {f"{text_key(rec.sha256)}.txt" for rec in manifest.documents.values()}
        now = time.time()
        for older, newer in zip(generations, generations[1:]):
            if older.name == self._gen_name:
                continue
            try:
                replaced_at = newer.stat().st_mtime
            except OSError:
                replaced_at = now
            if now - replaced_at > GENERATION_GRACE_S or older.name > (self._gen_name or ""):
                shutil.rmtree(older, ignore_errors=True)
                continue
            try:  # kept for now: so are its texts
                kept = json.loads((older / "manifest.json").read_text(encoding="utf-8"))
                wanted.update(f"{text_key(rec['sha256'])}.txt" for rec in kept.get("documents", {}).values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                shutil.rmtree(older, ignore_errors=True)
        texts_dir = self.index_dir / "texts"
        if texts_dir.is_dir():
            for path in texts_dir.iterdir():
                if path.name not in wanted:
                    path.unlink(missing_ok=True)


def manifest_checksum(data: dict) -> str:
    """sha256 of a manifest's content (everything but the checksum itself), independent of layout."""
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_files(folder: Path, data: dict, hint: str) -> None:
    """Every file the manifest lists is one of a generation's own, there, of its size and checksum.

    A missing file (or a name that is not one of the generation's files) is damage that ``build``
    repairs, never a bare ``FileNotFoundError``."""
    try:
        for fname, size in data.get("files", {}).items():
            path = folder / str(fname)
            if fname not in _GENERATION_FILES or not path.is_file() or path.stat().st_size != size:
                raise IndexCorrupt(f"the index file {path} is missing or truncated; {hint}")
        for fname, crc in data.get("crc32", {}).items():  # same size, other bytes: a damaged disk or copy
            path = folder / str(fname)
            if fname not in _GENERATION_FILES or not path.is_file():
                raise IndexCorrupt(f"the index file {path} is missing; {hint}")
            if path.stat().st_size <= MMAP_ABOVE_BYTES and _crc32(path) != crc:
                raise IndexCorrupt(f"the index file {path} is damaged (its checksum does not match); {hint}")
    except OSError as err:
        raise IndexCorrupt(f"the index in {folder} cannot be read ({err}); {hint}") from err
    except (AttributeError, TypeError) as err:
        raise IndexCorrupt(f"the index manifest in {folder} is damaged ({err}); {hint}") from err


_GENERATION_FILES = frozenset(["chunks.jsonl", "vectors.npy", "index.faiss"])


def _crc32(path: Path) -> int:
    value = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            value = zlib.crc32(block, value)
    return value
