"""Add documents to a corpus folder and its index, or take them out: for the CLI and the page.

The page calls, in order::

    results = add_files(settings.corpus_dir, uploaded_paths, max_bytes=settings.max_upload_bytes)
    report = index_added(store, embedder, results, on_progress=lambda done, total: ...)
    bot.changed()

``add_files`` never raises for a bad file: each gets an ``AddResult`` with a
message a person can act on, and the good ones are still added. A file lands in
the corpus folder only once it has been read successfully, under a safe name,
by an atomic rename, and never over a different file of the same name unless the
caller asks for that. Index changes are serialised by ``index_lock`` so that two
uploads (or an upload and ``python -m indexer build``) cannot interleave.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .build import BuildReport, build_corpus, remove_documents, source_path, sync_documents
from .chunking import ChunkingSettings
from .embedding import TextEmbedder
from .fsutil import fsync_dir
from .limits import DocumentLimits, load_within_limits
from .loaders import LOADERS, Document, DocumentError, load_corpus_info, size_text
from .stores import IndexCorrupt, IndexProblem, VectorStore

__all__ = [
    "AddResult",
    "RemoveResult",
    "IndexBusy",
    "safe_name",
    "add_files",
    "index_added",
    "remove_document",
    "index_lock",
    "discard_damaged_index",
    "build_index",
    "build_warnings",
]

CONFLICT_POLICIES = ("rename", "replace", "error")
_MAX_NAME_BYTES = 150  # well under the 255-byte limit of common file systems, leaving room for "-2"
_UNSAFE = re.compile(r"[^\w .()\[\]+,&@'-]", re.UNICODE)
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))]
)


class IndexBusy(IndexProblem):
    """Another process is changing the index right now."""


@dataclass(frozen=True)
class AddResult:
    """What became of one file offered to ``add_files``."""

    original: str  # the file name as given (for messages)
    name: str  # its name in the corpus folder, "" when it was refused
    ok: bool
    message: str  # why it was refused, or a note ("saved as ...", "unchanged")
    document: Document | None = None  # the loaded document, ready for ``index_added``


@dataclass(frozen=True)
class RemoveResult:
    name: str
    removed_from_index: bool
    file_deleted: bool


def safe_name(filename: str) -> str:
    """A file name that is safe to create inside the corpus folder, from whatever a browser sent.

    Drops any folder part (``../``, ``C:\\``, absolute paths), control and odd
    characters and leading dots (no hidden files); keeps letters of any script,
    digits, spaces and common punctuation. Raises ``DocumentError`` when nothing
    usable is left or the format is not supported.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", str(filename)))[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = " ".join(_UNSAFE.sub("_", base).split())
    base = base.lstrip(". -").rstrip(". ")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = "." + suffix.lower() if suffix else ""
    if suffix not in LOADERS:
        shown = suffix or "(no suffix)"
        raise DocumentError(f"{filename}: unsupported format {shown}; supported: {', '.join(sorted(LOADERS))}")
    stem = stem.rstrip(". ")
    while len(stem.encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    stem = stem.rstrip(". ")
    if not stem:
        raise DocumentError(f"{filename}: the file name has no usable characters; rename the file")
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    return stem + suffix


def add_files(
    corpus_dir: Path,
    paths: Sequence[Path | str],
    *,
    max_bytes: int,
    names: Sequence[str] | None = None,
    on_conflict: str = "rename",
    limits: DocumentLimits | None = None,
) -> list[AddResult]:
    """Check and copy files into ``corpus_dir``; one ``AddResult`` per path, in order.

    ``names`` are the files' original names when ``paths`` are temporary copies
    (an upload); by default each path's own name is used. When a *different*
    file already has the name: ``rename`` saves the new one as ``name-2.ext``
    (and says so), ``replace`` replaces the old one, ``error`` refuses it. A file
    identical to the one already there is accepted as unchanged. Nothing is
    embedded here; pass the results to ``index_added``. Each file is read in a child process
    within ``limits`` (``indexer.limits``), before the index is locked.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise ValueError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}, not {on_conflict!r}")
    if names is not None and len(names) != len(paths):
        raise ValueError("names must give one original name per path")
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_uploads(corpus_dir)
    try:
        titles = load_corpus_info(corpus_dir).document_titles
    except DocumentError:
        titles = {}
    results = []
    for i, path in enumerate(paths):
        original = names[i] if names is not None else Path(path).name
        try:
            results.append(_add_one(corpus_dir, Path(path), original, max_bytes, on_conflict, titles, limits))
        except DocumentError as err:
            results.append(AddResult(original, "", False, str(err)))
        except OSError as err:
            message = f"{original}: cannot save the file into {corpus_dir} ({err.strerror}); check that folder"
            results.append(AddResult(original, "", False, message))
    return results


def _remove_stale_uploads(corpus_dir: Path, older_than_s: float = 3600) -> None:
    """Temporary copies left by an add that was killed midway (they are hidden, so builds skip them)."""
    cutoff = time.time() - older_than_s
    for path in corpus_dir.glob(".upload-*"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def _add_one(
    corpus_dir: Path,
    path: Path,
    original: str,
    max_bytes: int,
    on_conflict: str,
    titles: dict,
    limits: DocumentLimits | None,
) -> AddResult:
    name = safe_name(original)
    try:
        if not path.is_file():
            raise DocumentError(f"{original}: not a file (it may have been moved or deleted); choose the file again")
        size = path.stat().st_size
    except OSError as err:
        raise DocumentError(f"{original}: cannot read the file ({err.strerror})") from err
    if size > max_bytes:
        raise DocumentError(
            f"{original}: the file is {size_text(size)}, over the {size_text(max_bytes)} upload limit; "
            "split it into smaller files (or raise QUOTEBOT_MAX_UPLOAD_MB)"
        )
    tmp = corpus_dir / f".upload-{secrets.token_hex(6)}{Path(name).suffix}"  # hidden: builds skip it
    try:
        digest = _copy_capped(path, tmp, max_bytes, original)
        final, note = _choose_name(corpus_dir, name, digest, on_conflict, original)
        if note == "unchanged":
            tmp.unlink()
            tmp = corpus_dir / final
        document = load_within_limits(
            tmp,
            final,
            title=titles.get(final),
            source=source_path(corpus_dir, final),
            max_bytes=max_bytes,
            limits=limits,
        )
        if note != "unchanged":
            _place(tmp, corpus_dir / final, replace_existing=on_conflict == "replace", original=original)
    finally:
        if tmp.name.startswith(".upload-"):
            tmp.unlink(missing_ok=True)
    message = {
        "unchanged": f"{final} is already in the corpus with the same content",
        "renamed": f"saved as {final}: a different file named {name} is already in the corpus",
        "replaced": f"replaced the earlier {final}",
    }.get(note, f"added as {final}")
    return AddResult(original, final, True, message, document)


def _copy_capped(src: Path, dst: Path, max_bytes: int, original: str) -> str:
    """Copy at most ``max_bytes`` (a file may grow after it was measured); return its sha256."""
    digest, copied = hashlib.sha256(), 0
    try:
        with open(src, "rb") as reader, open(dst, "xb") as writer:
            while block := reader.read(1 << 20):
                copied += len(block)
                if copied > max_bytes:
                    raise DocumentError(f"{original}: the file is over the {size_text(max_bytes)} upload limit")
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
    except OSError as err:
        raise DocumentError(f"{original}: cannot copy the file into the corpus folder ({err.strerror})") from err
    return digest.hexdigest()


def _choose_name(corpus_dir: Path, name: str, digest: str, on_conflict: str, original: str) -> tuple[str, str]:
    """The name to save under and why: "" (free), "unchanged", "renamed" or "replaced"."""
    target = corpus_dir / name
    if not target.exists():
        return name, ""
    if target.is_file() and _sha256_of(target) == digest:
        return name, "unchanged"
    if on_conflict == "replace" and target.is_file():
        return name, "replaced"
    if on_conflict == "error" or on_conflict == "replace":
        raise DocumentError(
            f"{original}: a different file named {name} is already in the corpus; remove it first "
            "(python -m indexer remove NAME), or add this one with --replace, or rename it"
        )
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(2, 1000):
        candidate = f"{stem}-{n}{suffix}"
        path = corpus_dir / candidate
        if not path.exists():
            return candidate, "renamed"
        if path.is_file() and _sha256_of(path) == digest:
            return candidate, "unchanged"
    raise DocumentError(f"{original}: too many files named like {name} in the corpus; rename the file")


def _place(tmp: Path, target: Path, *, replace_existing: bool, original: str) -> None:
    """Move the checked copy into place atomically; never over another file unless replacing."""
    if replace_existing:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if the name was taken meanwhile, unlike a rename
        except FileExistsError as err:
            raise DocumentError(f"{original}: another file named {target.name} was just added; try again") from err
        except OSError:  # a file system without hard links: a plain check-then-rename
            if target.exists():
                raise DocumentError(f"{original}: another file named {target.name} was just added; try again") from None
            os.replace(tmp, target)
    fsync_dir(target.parent)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def index_added(
    store: VectorStore,
    embedder: TextEmbedder,
    results: Sequence[AddResult],
    *,
    chunking: ChunkingSettings | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    lock_timeout: float | None = None,
) -> BuildReport:
    """Embed the documents ``add_files`` accepted (only new or changed ones), keeping all others.

    ``on_progress(done, total)`` is called with chunk counts while embedding.
    Refused files are listed in the report's ``errors`` under their original names.
    """
    documents = [r.document for r in results if r.ok and r.document is not None]
    with index_lock(store, timeout=lock_timeout):
        report = sync_documents(
            store,
            embedder,
            documents,
            settings=chunking or ChunkingSettings(),
            remove_missing=False,
            on_progress=on_progress,
        )
    report.errors.update({r.original: r.message for r in results if not r.ok})
    return report


def remove_document(
    corpus_dir: Path, store: VectorStore, name: str, *, lock_timeout: float | None = None
) -> RemoveResult:
    """Take a document out of the corpus folder and the index.

    ``name`` is the name ``python -m indexer list`` shows (a path into the
    corpus folder is accepted too). The file goes first, so that if the index
    change fails the next build still drops the document. Raises ``DocumentError``
    when there is no such document.
    """
    corpus_dir = Path(corpus_dir)
    key = _corpus_name(corpus_dir, name)
    path = corpus_dir / key
    with index_lock(store, timeout=lock_timeout):
        in_index = key in store.documents()
        is_file = path.is_file() or path.is_symlink()  # a link is removed, never what it points to
        if not in_index and not is_file:
            raise DocumentError(f"{name}: no such document; see python -m indexer list")
        if is_file:
            path.unlink()
        removed = remove_documents(store, [key]) if in_index else []
    return RemoveResult(key, bool(removed), is_file)


def _corpus_name(corpus_dir: Path, name: str) -> str:
    """``name`` as a path relative to the corpus folder; refuses anything that points outside it."""
    root = corpus_dir.resolve()
    candidate = Path(name)
    if not candidate.is_absolute() and not (corpus_dir / candidate).exists() and candidate.exists():
        candidate = candidate.resolve()  # a path from the working folder, e.g. corpus/notes.txt
    full = candidate if candidate.is_absolute() else root / candidate
    # The folder part is resolved, the name is not: a link in the corpus folder is itself the document.
    full = full.resolve() if full.name in ("", ".", "..") else full.parent.resolve() / full.name
    if not full.is_relative_to(root) or full == root:
        raise DocumentError(f"{name}: not a document of the corpus folder {corpus_dir}; see python -m indexer list")
    return full.relative_to(root).as_posix()


def discard_damaged_index(store: VectorStore) -> str | None:
    """Check the whole index (files, counts, every stored text against its quotes); if it is
    damaged, delete it so the build that follows starts afresh, and say what was wrong.

    The index holds nothing that the corpus folder does not (``add`` copies files
    there first), so a damaged one is rebuilt rather than repaired. Returns
    ``None`` when the index is sound or absent. Call it holding ``index_lock``.
    """
    try:
        for name in store.documents():
            store.document_text(name)
        return None
    except IndexCorrupt as err:
        if not store.discard():
            raise
        return str(err)


def build_index(
    store: VectorStore,
    embedder: TextEmbedder,
    corpus_dir: Path,
    *,
    max_bytes: int | None,
    show_progress: bool = False,
    limits: DocumentLimits | None = None,
) -> tuple[BuildReport, str | None]:
    """The build that ``python -m indexer build`` and the app's start-up both run: a damaged index
    is discarded first, then the corpus folder is synced, refusing files over ``max_bytes`` as an
    upload would be. Returns the report and what was wrong with a discarded index (``None``: it
    was sound). Call it holding ``index_lock``."""
    damage = discard_damaged_index(store)
    report = build_corpus(corpus_dir, store, embedder, show_progress=show_progress, max_bytes=max_bytes, limits=limits)
    return report, damage


def build_warnings(report: BuildReport, damage: str | None, corpus_dir: Path) -> list[str]:
    """What a build run by a person should tell them on standard error: a damaged index that was
    discarded, and each file left out (every message names its file)."""
    lines = [f"warning: the index is damaged: {damage}; building the index again from {corpus_dir}"] if damage else []
    return lines + [f"skipped {message}" for message in report.errors.values()]


# ---- serialising index changes ------------------------------------------------------------

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()
_HELD = threading.local()  # keys of the locks this thread holds, so that nesting does not deadlock


@contextlib.contextmanager
def index_lock(store: VectorStore, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the store's writer lock: one change at a time, across threads and processes.

    A store that names a ``lock_file`` (a FAISS index folder: ``<index>/.lock``) is
    locked with ``flock`` on it (released by the kernel if the holder dies, even by
    ``kill -9``); other stores with a lock per process, keyed by ``lock_key``. A
    thread may nest it. Raises ``IndexBusy`` after ``timeout`` seconds of waiting
    (``None``: wait as long as it takes).
    """
    key = store.lock_key()
    lock_file = store.lock_file()
    held: set[str] = _HELD.__dict__.setdefault("keys", set())
    if key in held:
        yield
        return
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    if not thread_lock.acquire(timeout=-1 if timeout is None else timeout):
        raise IndexBusy(f"another change to the index {key} is in progress; try again when it finishes")
    try:
        with contextlib.nullcontext() if lock_file is None else _file_lock(Path(lock_file), timeout):
            held.add(key)
            try:
                yield
            finally:
                held.discard(key)
    finally:
        thread_lock.release()


@contextlib.contextmanager
def _file_lock(lock_file: Path, timeout: float | None) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the per-process lock is all we have
        yield
        return
    index_dir = lock_file.parent
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise IndexBusy(
                        f"another process is changing the index at {index_dir} (python -m indexer build or add?); "
                        "try again when it finishes"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
