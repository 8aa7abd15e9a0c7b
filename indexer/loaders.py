"""Read documents of each supported format into one ``Document`` shape.

One function per format, picked by file suffix in ``LOADERS``. A loader returns
the exact text that will be quoted: for plain text that is the file's decoded
characters, untouched, so offsets into ``Document.text`` are offsets into the file.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = [
    "Document",
    "DocumentError",
    "CorpusInfo",
    "LOADERS",
    "load_document",
    "iter_corpus_files",
    "load_corpus_info",
]


class DocumentError(ValueError):
    """A document could not be read; the message says which one and what to do."""


@dataclass(frozen=True)
class Document:
    name: str  # path relative to the corpus folder, with "/" separators
    text: str  # the text quotes are taken from
    sha256: str  # hash of the file's bytes: unchanged bytes mean nothing to re-embed
    title: str
    format: str
    source: str = ""  # path shown to users: relative to the project root where possible
    pages: tuple[int, ...] = field(default=())  # start offset of each page, for paged formats


def _decode_text(data: bytes, path: Path) -> str:
    if not data.strip():
        raise DocumentError(f"{path.name}: the file is empty; add text to it or remove it from the corpus.")
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{path.name}: this looks like a binary file, not text; convert it to .txt or remove it.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for encoding in ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ():
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    # Legacy single-byte text (Windows-1252 covers Latin-1 and the curly quotes).
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as err:
        raise DocumentError(
            f"{path.name}: the text is not UTF-8 and could not be decoded ({err.reason}); save it as UTF-8."
        ) from err


def load_text(path: Path, data: bytes) -> tuple[str, tuple[int, ...]]:
    """Plain text and Markdown: the decoded characters, untouched."""
    return _decode_text(data, path), ()


LOADERS: dict[str, Callable[[Path, bytes], tuple[str, tuple[int, ...]]]] = {
    ".txt": load_text,
    ".md": load_text,
    ".markdown": load_text,
}


def _default_title(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name


def load_document(path: Path, name: str, title: str | None = None, source: str | None = None) -> Document:
    """Read one file with the loader for its suffix; raises ``DocumentError`` on bad input."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DocumentError(f"{path.name}: unsupported format; supported: {', '.join(sorted(LOADERS))}.")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DocumentError(f"{path.name}: cannot read the file ({err.strerror}).") from err
    text, pages = loader(path, data)
    if not text.strip():
        raise DocumentError(f"{path.name}: no text could be extracted from this file.")
    return Document(
        name=name,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        title=title or _default_title(path),
        format=path.suffix.lower().lstrip("."),
        source=source or name,
        pages=pages,
    )


def iter_corpus_files(corpus_dir: Path) -> list[Path]:
    """Supported files under ``corpus_dir``, sorted, skipping hidden files and folders."""
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in LOADERS:
            files.append(path)
    return files


@dataclass(frozen=True)
class CorpusInfo:
    """What the page shows about a collection: read from ``corpus.toml`` when present."""

    title: str = "Documents"
    description: str = "Ask a question; the answer quotes the documents word for word."
    notice: str = ""
    examples: tuple[str, ...] = ()
    document_titles: dict[str, str] = field(default_factory=dict)


def load_corpus_info(corpus_dir: Path) -> CorpusInfo:
    path = corpus_dir / "corpus.toml"
    if not path.exists():
        return CorpusInfo(title=corpus_dir.name.replace("_", " ").capitalize() or "Documents")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DocumentError(f"{path}: cannot read the corpus metadata ({err}); fix or delete the file.") from err
    documents = data.get("documents", {})
    return CorpusInfo(
        title=str(data.get("title", CorpusInfo.title)),
        description=str(data.get("description", CorpusInfo.description)),
        notice=str(data.get("notice", "")),
        examples=tuple(str(e) for e in data.get("examples", ())),
        document_titles={name: str(meta.get("title", "")) for name, meta in documents.items() if meta.get("title")},
    )
