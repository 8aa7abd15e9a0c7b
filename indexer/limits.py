"""Bounded work per document: a small file must not turn into unbounded work.

An 8 KB Word file can hold 23,000 passages, an 18 KB PDF 4.5 million characters, a page of nested
tables can take minutes to parse, and all of it would be done holding the index's writer lock.
``load_within_limits`` reads a file in a child process (forked from a small server that has the
loaders imported, so it costs milliseconds) with a time limit, and refuses a document whose text or
passages exceed the limits, with a message that names the file, the limit and the setting that
raises it. The parent never parses untrusted bytes itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path

from .chunking import ChunkingSettings, chunk_text
from .document import Document, DocumentError
from .loaders import load_document

__all__ = ["DocumentLimits", "load_within_limits"]


@dataclass(frozen=True)
class DocumentLimits:
    """The most work one document may make. Walden (650 KB of prose) is 654,000 characters and 8,300
    passages, and is read in under a second."""

    max_chars: int = 4_000_000  # characters of extracted text
    max_passages: int = 25_000  # passages to embed (about 3 minutes on two CPU cores)
    max_seconds: float = 60.0  # to read the file and split it into passages
    max_memory_mb: int = 4096  # address space of the process that reads it


_CONTEXT: multiprocessing.context.BaseContext | None = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> multiprocessing.context.BaseContext:
    """A fork server with the loaders imported: each document is read in a fresh child forked from it,
    never from the parent (which has threads, a model and a web server)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["indexer.limits"])
            _CONTEXT = context
        return _CONTEXT


def load_within_limits(
    path: Path,
    name: str,
    title: str | None = None,
    source: str | None = None,
    *,
    max_bytes: int | None = None,
    limits: DocumentLimits | None = None,
    chunking: ChunkingSettings | None = None,
) -> Document:
    """``load_document`` in a child process, refused past ``limits``; raises ``DocumentError``
    naming ``name`` and the limit it went over."""
    limits = limits or DocumentLimits()
    receiver, sender = _context().Pipe(duplex=False)
    child = _context().Process(
        target=_read_in_child,
        args=(sender, Path(path), name, title, source, max_bytes, limits, chunking or ChunkingSettings()),
        daemon=True,
    )
    with _CONTEXT_LOCK, _bare_main():
        child.start()
    sender.close()
    try:
        if not receiver.poll(limits.max_seconds):
            if child.is_alive():
                raise DocumentError(
                    f"{name}: reading it took longer than {limits.max_seconds:g} s, the limit per document "
                    "(QUOTEBOT_MAX_PARSE_SECONDS); it may be built to make work (deeply nested tables, a "
                    "compressed bomb): save it in a simpler format or split it"
                )
        try:
            status, payload = receiver.recv()
        except EOFError:
            status, payload = "error", None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if status == "ok":
        return payload
    if payload is None:
        reason = (
            "it ran out of memory" if child.exitcode in (-9, 1) else f"the reader stopped with code {child.exitcode}"
        )
        raise DocumentError(
            f"{name}: cannot read it ({reason}; the limit is {limits.max_memory_mb} MB per document); "
            "it is probably damaged or built to make work: save it again or split it"
        )
    raise DocumentError(payload)


@contextlib.contextmanager
def _bare_main():
    """Start a child without the parent's main script. multiprocessing runs ``__main__`` again in
    each child it starts this way: ``app.py`` would import Gradio for every document read, and a
    script without an ``if __name__ == "__main__"`` guard would run itself again. The child needs
    only this module, so for the moment of the start ``__main__`` is an empty module."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _read_in_child(sender, path, name, title, source, max_bytes, limits: DocumentLimits, chunking) -> None:
    _limit_memory(limits.max_memory_mb)
    try:
        document = load_document(path, name, title=title, source=source, max_bytes=max_bytes)
        _check_size(document, limits, chunking)
        sender.send(("ok", document))
    except DocumentError as err:
        sender.send(("error", str(err)))
    except MemoryError:
        sender.send(
            (
                "error",
                f"{name}: reading it needs more than {limits.max_memory_mb} MB, the limit per "
                "document; it is probably built to make work (a compressed bomb): split it or save it again",
            )
        )
    finally:
        sender.close()


def _check_size(document: Document, limits: DocumentLimits, chunking: ChunkingSettings) -> None:
    chars = len(document.text)
    if chars > limits.max_chars:
        raise DocumentError(
            f"{document.name}: its text is {chars:,} characters, over the limit of {limits.max_chars:,} per document "
            "(QUOTEBOT_MAX_DOCUMENT_CHARS); split it into smaller files"
        )
    passages = len(chunk_text(document.text, document.name, chunking))
    if passages > limits.max_passages:
        raise DocumentError(
            f"{document.name}: it makes {passages:,} passages, over the limit of {limits.max_passages:,} per document "
            "(QUOTEBOT_MAX_DOCUMENT_PASSAGES); split it into smaller files"
        )


def _limit_memory(megabytes: int) -> None:
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not POSIX, or a lower hard limit already: keep it
        pass
