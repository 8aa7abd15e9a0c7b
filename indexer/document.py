"""The shapes a loaded document takes, shared by the loaders and the indexer.

Kept apart from ``loaders`` so that the format helpers (``decoding``, ``markup``)
can raise ``DocumentError`` without importing the loader table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Document", "DocumentError", "Extracted"]


class DocumentError(ValueError):
    """A document could not be read; the message says which one and what to do."""


@dataclass(frozen=True)
class Extracted:
    """What a format loader gets out of a file's bytes.

    ``text`` is what quotes are sliced from; for formats that are not plain
    text it is built with blank lines between paragraphs and pages and
    Markdown-style ``# `` heading lines, so the chunker sees the structure.
    """

    text: str
    pages: tuple[int, ...] = ()  # start offset of each page in ``text``, for paged formats
    title: str = ""  # a title the file declares about itself (HTML <title>, DOCX properties)


@dataclass(frozen=True)
class Document:
    name: str  # path relative to the corpus folder, with "/" separators
    text: str  # the text quotes are taken from
    sha256: str  # hash of the file's bytes: unchanged bytes mean nothing to re-embed
    title: str
    format: str
    source: str = ""  # path shown to users: relative to the project root where possible
    pages: tuple[int, ...] = field(default=())  # start offset of each page, for paged formats
