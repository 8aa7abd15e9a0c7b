"""A PDF citation shown on the page itself: the page rendered (PDFium, ``pypdfium2``) with the
quoted words highlighted, and the page's printed label.

The quote is found on the page by its letters and digits, in order, in PDFium's text page
(whitespace, line-end hyphens and ligatures do not count), so the highlight lands on the
quoted words whichever extraction made the stored text. Each matched glyph's box, merged per
printed line, becomes one rectangle, given as fractions of the page so the page image can be
shown at any width.
"""

from __future__ import annotations

import base64
import io
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PageView", "Rect", "find_span", "page_view"]

_PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe
RENDER_WIDTH = 1000  # pixels across the rendered page: sharp in a side panel, ~100-250 KB as JPEG


@dataclass(frozen=True)
class Rect:
    """A highlight, as fractions of the page (0..1 from the top left)."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class PageView:
    image: bytes  # JPEG
    width: int  # pixels
    height: int
    label: str  # the printed page label ("xii", "12"), or the page number
    number: int  # 1-based
    rects: tuple[Rect, ...]

    def data_uri(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.image).decode("ascii")


def _key(char: str) -> str:
    """What a character counts as when matching: its letters and digits, lower case (NFKC turns
    a ligature glyph into its letters); everything else counts as nothing."""
    return "".join(c for c in unicodedata.normalize("NFKC", char).casefold() if c.isalnum())


def find_span(page_chars: list[str], quote: str) -> tuple[int, int] | None:
    """Indexes (first, last) into ``page_chars`` of the glyphs that spell ``quote``, or ``None``."""
    keys, owners = [], []
    for i, char in enumerate(page_chars):
        for k in _key(char):
            keys.append(k)
            owners.append(i)
    needle = _key(quote)
    if not needle:
        return None
    at = "".join(keys).find(needle)
    if at < 0:
        return None
    return owners[at], owners[at + len(needle) - 1]


def _line_rects(boxes: list[tuple[float, float, float, float]], width: float, height: float) -> tuple[Rect, ...]:
    """Glyph boxes (left, right, bottom, top in PDF points, y up) merged per printed line."""
    lines: list[list[float]] = []
    for left, right, bottom, top in boxes:
        if right <= left or top <= bottom:
            continue  # spaces and line breaks have no box
        for line in lines:
            overlap = min(top, line[3]) - max(bottom, line[2])
            if overlap > 0.5 * min(top - bottom, line[3] - line[2]):
                line[0], line[1] = min(line[0], left), max(line[1], right)
                line[2], line[3] = min(line[2], bottom), max(line[3], top)
                break
        else:
            lines.append([left, right, bottom, top])
    pad = 1.0  # points around the glyphs, so the mark does not clip descenders
    return tuple(
        Rect(
            (x0 - pad) / width, (height - y1 - pad) / height, (x1 - x0 + 2 * pad) / width, (y1 - y0 + 2 * pad) / height
        )
        for x0, x1, y0, y1 in lines
    )


def page_view(path: Path, page_index: int, quote: str, fallback: str = "") -> PageView | None:
    """Page ``page_index`` (0-based) of the PDF at ``path``, rendered, with ``quote`` (else
    ``fallback``, e.g. the best sentence) highlighted; ``None`` when the page cannot be read."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(str(path))
        except (pdfium.PdfiumError, OSError):
            return None
        try:
            if not 0 <= page_index < len(document):
                return None
            page = document[page_index]
            width, height = page.get_size()
            textpage = page.get_textpage()
            count = pdfium_c.FPDFText_CountChars(textpage.raw)
            chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)) for i in range(max(count, 0))]
            span = find_span(chars, quote) or (find_span(chars, fallback) if fallback else None)
            boxes = []
            if span:
                for i in range(span[0], span[1] + 1):
                    boxes.append(textpage.get_charbox(i))  # (left, bottom, right, top)
            rects = _line_rects([(b[0], b[2], b[1], b[3]) for b in boxes], width, height)
            scale = RENDER_WIDTH / width
            image = page.render(scale=scale).to_pil()
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=85)  # 5-10x faster and smaller than PNG
            label = document.get_page_label(page_index) or str(page_index + 1)
            textpage.close()
            page.close()
            return PageView(buffer.getvalue(), image.width, image.height, label, page_index + 1, rects)
        except pdfium.PdfiumError:
            return None
        finally:
            document.close()
