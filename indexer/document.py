"""The shapes a loaded document takes, shared by the loaders and the indexer.

Kept apart from ``loaders`` so that the format helpers (``decoding``, ``markup``)
can raise ``DocumentError`` without importing the loader table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Document", "DocumentError", "Extracted", "PageStarts", "page_citation"]


class DocumentError(ValueError):
    """A document could not be read; the message says which one and what to do."""


class PageStarts(tuple):
    """Start offsets of a paged document's pages, carrying the labels printed on them.

    A plain tuple of ints wherever pages are counted or compared; ``labels`` holds
    the printed page label of each page ("iii", "12") when the PDF numbers its
    pages differently from their order, else it is empty. Kept on the tuple so
    every place that passes ``pages`` along passes the labels with it.
    """

    labels: tuple[str, ...]

    def __new__(cls, starts=(), labels=()):
        self = super().__new__(cls, (int(s) for s in starts))
        self.labels = tuple(str(label) for label in labels) if len(labels) == len(self) else ()
        return self

    def __reduce__(self):
        return (PageStarts, (tuple(self), self.labels))


def page_citation(pages, start: int) -> str:
    """Where a passage starting at ``start`` is: "page 12 (PDF page 15)", or "page 15" when unlabelled."""
    number = max(sum(1 for p in pages if p <= start), 1)
    labels = getattr(pages, "labels", ())
    label = labels[number - 1] if len(labels) >= number else ""
    if label and label != str(number):
        return f"page {label} (PDF page {number})"
    return f"page {number}"


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
