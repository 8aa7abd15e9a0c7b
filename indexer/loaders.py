"""Read documents of each supported format into one ``Document`` shape.

One function per format, picked by file suffix in ``LOADERS``; each takes the
file's bytes and returns ``Extracted`` text. For plain text that is the file's
decoded characters, untouched, so offsets into ``Document.text`` are offsets into
the file. For HTML, PDF and Word it is the extracted text, which the index
stores beside the vectors so every quote stays a checkable slice of it
(``store.document_text(name)``); PDF page starts go in ``Document.pages``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .decoding import decode_text
from .document import Document, DocumentError, Extracted
from .markup import docx_to_text, html_to_text

__all__ = [
    "Document",
    "DocumentError",
    "Extracted",
    "CorpusInfo",
    "LOADERS",
    "load_document",
    "iter_corpus_files",
    "load_corpus_info",
    "size_text",
]


def load_text(data: bytes) -> Extracted:
    """Plain text and Markdown: the decoded characters, untouched (``# `` lines are headings)."""
    return Extracted(decode_text(data))


# A Markdown heading: "# Title" (ATX) or a line underlined with === or --- (setext).
_MD_TITLE = re.compile(
    r"^(?:#{1,6}[ \t]+(?P<atx>.+?)[ \t#]*|(?P<setext>[^\n]*\S[^\n]*)\n(?:=+|-+)[ \t]*)$", re.MULTILINE
)
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def load_markdown(data: bytes) -> Extracted:
    """Markdown: the decoded characters, untouched; its title is its first heading (outside code)."""
    text = decode_text(data)
    match = _MD_TITLE.search(_FENCED.sub(lambda m: " " * len(m.group()), text))
    title = " ".join((match.group("atx") or match.group("setext")).split()) if match else ""
    return Extracted(text, title=title)


def load_html(data: bytes) -> Extracted:
    """Visible text of a web page, headings as ``#`` lines; scripts, styles and hidden parts dropped."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        raise DocumentError("this looks like a binary file, not HTML; save the page as .html and add it again")
    extracted = html_to_text(data)
    if not extracted.text.strip():
        raise DocumentError("the page has no visible text (only markup, scripts or styles)")
    decode_text(extracted.text.encode("utf-8"))  # refuses binary junk that parsed as "text"
    return extracted


def load_pdf(data: bytes) -> Extracted:
    """Paragraphs of each page (see ``indexer.pdf``), pages separated by a blank line; ``pages`` holds
    where each starts and the labels printed on them."""
    from .pdf import read_pdf

    if b"%PDF-" not in data[:1024]:
        raise DocumentError("this is not a PDF file (no %PDF header); export it as PDF again")
    return read_pdf(data)


def load_docx(data: bytes) -> Extracted:
    """Paragraphs, headings (``#`` lines), list items and table rows of a Word document."""
    return docx_to_text(data)


LOADERS: dict[str, Callable[[bytes], Extracted]] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def _default_title(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name


def size_text(n_bytes: float) -> str:
    """A file size as people read it: "3.2 MB", "40 KB", "512 bytes"."""
    if n_bytes >= 100 * 1024:
        return f"{n_bytes / (1024 * 1024):.1f} MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:.0f} KB"
    return f"{n_bytes:.0f} bytes"


def load_document(
    path: Path,
    name: str,
    title: str | None = None,
    source: str | None = None,
    *,
    max_bytes: int | None = None,
) -> Document:
    """Read one file with the loader for its suffix.

    Raises ``DocumentError`` with a message that starts with ``name`` and says
    what to do, for any bad input: unsupported, too large (``max_bytes``),
    empty, binary, undecodable, encrypted, truncated or damaged files.
    """
    path = Path(path)
    try:
        loader = LOADERS.get(path.suffix.lower())
        if loader is None:
            raise DocumentError(
                f"unsupported format {path.suffix or '(no suffix)'}; supported: {', '.join(sorted(LOADERS))}"
            )
        try:
            size = path.stat().st_size
            if max_bytes is not None and size > max_bytes:
                raise DocumentError(
                    f"the file is {size_text(size)}, over the {size_text(max_bytes)} limit; split it into smaller "
                    "files or raise the limit (QUOTEBOT_MAX_UPLOAD_MB)"
                )
            data = path.read_bytes()
        except OSError as err:
            raise DocumentError(f"cannot read the file ({err.strerror})") from err
        if not data.strip():
            raise DocumentError("the file is empty; add text to it or remove it")
        try:
            extracted = loader(data)
        except DocumentError:
            raise
        except RecursionError as err:
            raise DocumentError("the file is nested too deeply to read; it is probably damaged") from err
        if not extracted.text.strip():
            raise DocumentError("no text could be extracted from this file")
    except DocumentError as err:
        raise DocumentError(f"{name}: {err}") from err
    return Document(
        name=name,
        text=extracted.text,
        sha256=hashlib.sha256(data).hexdigest(),
        title=title or extracted.title or _default_title(Path(name)),
        format=path.suffix.lower().lstrip("."),
        source=source or name,
        pages=extracted.pages,
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
