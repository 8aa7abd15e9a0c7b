"""PDF -> the text a person reads: paragraphs, not printed lines.

A PDF knows only where each glyph is drawn. What a reader sees, and what the bot
should quote, is paragraphs: so the printed lines of a page are joined into
paragraphs (a break where the line spacing or the font size jumps, a bullet starts
or a short line ends a sentence), words split at a line end are joined again when
the whole word is a word (``man-`` + ``agement``) and keep their hyphen when it is
a real one (``well-`` + ``known``), running headers, footers and page numbers that
repeat across pages are dropped, table-of-contents and index pages (dot leaders,
columns of page numbers) are left out, and glyph artefacts (ligatures, ``c©``) are
mended. Pages stay separated by a blank line so that every quote lies on one page,
and each page keeps its printed label ("xii", "12") for citations.

The glyphs and their boxes come from PDFium (``pypdfium2``): on the development
PDFs it read the same text as pypdf about ten times faster (docs/quality.md,
``python -m bench.reading``). Everything after reading the boxes is pure
functions of ``Line`` lists, tested on their own.
"""

from __future__ import annotations

import re
import statistics
import threading
from collections import Counter
from dataclasses import dataclass

from .document import DocumentError, Extracted, PageStarts

__all__ = ["Line", "read_pdf", "page_paragraphs", "fix_glyphs", "running_lines", "is_contents_or_index", "join_lines"]

# PDFium is not thread-safe: one document at a time per process.
_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class Line:
    """One printed line: its text and box in PDF points (y grows upwards), and its font size."""

    text: str
    left: float
    right: float
    bottom: float
    top: float
    size: float


# ---- reading ------------------------------------------------------------------------------


def read_pdf(data: bytes) -> Extracted:
    """The readable text of a PDF, its page starts (with printed labels) and its title."""
    pages, labels, title = _read_lines(data)
    if not any(lines for lines in pages):
        raise DocumentError(
            f"the PDF has {len(pages)} page(s) but no text layer (probably scanned images); "
            "run OCR on it first (for example: ocrmypdf in.pdf out.pdf) and add the result"
        )
    texts = pages_to_text(pages)
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 2
    numbers = [str(n + 1) for n in range(len(pages))]
    kept_labels = tuple(labels) if list(labels) != numbers else ()
    return Extracted("\n\n".join(texts), pages=PageStarts(starts, kept_labels), title=title or _title_from_first_page(pages))


def _read_lines(data: bytes) -> tuple[list[list[Line]], list[str], str]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as err:
            raise DocumentError(_open_error(str(err))) from err
        try:
            pages, labels = [], []
            for index in range(len(document)):
                page = document[index]
                textpage = page.get_textpage()
                pages.append(_page_lines(textpage, pdfium_c))
                labels.append(document.get_page_label(index) or str(index + 1))
                textpage.close()
                page.close()
            title = (document.get_metadata_value("Title") or "").strip()
        finally:
            document.close()
    return pages, labels, _clean_title(title)


def _open_error(reason: str) -> str:
    if "password" in reason.lower():
        return (
            "the PDF is protected by a password; save a copy without the password (for example print it to PDF) "
            "and add that"
        )
    return (
        f"cannot read this PDF ({reason}); it may be truncated or damaged: download or export it again"
    )


def _page_lines(textpage, pdfium_c) -> list[Line]:
    """Group PDFium's text runs (one per font change) into printed lines, in drawing order."""
    lines: list[Line] = []
    runs: list[tuple[str, float, float, float, float, float]] = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top)
        if not text.strip():
            continue
        runs.append((text, left, right, bottom, top, _font_size(textpage, pdfium_c, left, right, bottom, top)))
    current: list[tuple[str, float, float, float, float, float]] = []
    for run in runs:
        if current and not _same_line(current[-1], run):
            lines.append(_make_line(current))
            current = []
        current.append(run)
    if current:
        lines.append(_make_line(current))
    return [line for line in lines if line.text]


def _font_size(textpage, pdfium_c, left: float, right: float, bottom: float, top: float) -> float:
    """The font size of a run, from a glyph inside it (a probe can fall between two words)."""
    middle = (bottom + top) / 2
    for share in (0.5, 0.25, 0.75, 0.1, 0.9):
        index = pdfium_c.FPDFText_GetCharIndexAtPos(textpage, left + share * (right - left), middle, 2.0, 2.0)
        if index >= 0:
            size = float(pdfium_c.FPDFText_GetFontSize(textpage, index))
            if size > 0:
                return size
    return top - bottom


def _same_line(a, b) -> bool:
    """Runs share a line when they overlap vertically and ``b`` does not start back at the left."""
    overlap = min(a[4], b[4]) - max(a[3], b[3])
    smaller = max(min(a[4] - a[3], b[4] - b[3]), 0.1)
    return overlap >= 0.4 * smaller and b[1] >= a[1] - 1


def _make_line(runs) -> Line:
    parts: list[str] = []
    for n, (text, left, *_rest) in enumerate(runs):
        text = text.replace("\r", "").replace("\n", " ")
        if n and parts[-1][-1:] != " " and not text.startswith(" "):
            gap = left - runs[n - 1][2]
            if gap > 0.15 * runs[n - 1][5]:
                parts.append(" ")
        parts.append(text)
    text = " ".join(fix_glyphs("".join(parts)).split())
    main = max(runs, key=lambda r: (round(r[5], 1), len(r[0])))  # the largest print: body text beside code
    return Line(
        text,
        min(r[1] for r in runs),
        max(r[2] for r in runs),
        main[3],  # the main run's bottom: smaller code or index runs sit higher
        max(r[4] for r in runs),
        round(main[5], 1),
    )


_BOILERPLATE_TITLE = re.compile(r"^(untitled|microsoft word - |document\d*$)", re.IGNORECASE)


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :].rsplit(".doc", 1)[0]
    if not title or _BOILERPLATE_TITLE.match(title) or title.lower().endswith((".pdf", ".dvi", ".tex", ".doc", ".docx")):
        return ""
    return title


def _title_from_first_page(pages: list[list[Line]]) -> str:
    """The largest print near the top of the first page with text, when it stands out from the body."""
    for lines in pages:
        if not lines:
            continue
        body = _body_size(lines)
        biggest = max(line.size for line in lines)
        if biggest < body * 1.2:
            return ""
        title = " ".join(line.text for line in lines if line.size >= biggest - 0.5)
        return title if len(title) <= 120 else ""
    return ""


# ---- glyphs -------------------------------------------------------------------------------

_GLYPHS = {
    "ﬀ": "ff",
    "ﬁ": "fi",
    "ﬂ": "fl",
    "ﬃ": "ffi",
    "ﬄ": "ffl",
    "ﬅ": "st",
    "ﬆ": "st",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u00ad": "",  # soft hyphen: invisible unless at a line end, where PDFium reports it as \x02
    "\u200b": "",
    "\ufeff": "",
    "\x00": "",
    "\u2010": "-",
    "\u2011": "-",
    "\x02": "-",  # PDFium: a hyphen the layout added at a line end
    "\ufffe": "-",
}
_GLYPH_TABLE = str.maketrans(_GLYPHS)
# "c©": a copyright sign some fonts draw as a "c" inside a circle glyph, read as both.
_COPYRIGHT = re.compile(r"\bc\s?©")


def fix_glyphs(text: str) -> str:
    """Ligatures spelled out, odd spaces made plain, PDF hyphen marks made hyphens, ``c©`` -> ``©``."""
    return _COPYRIGHT.sub("©", text.translate(_GLYPH_TABLE))


# ---- running headers, footers, page numbers -----------------------------------------------

_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_MARGIN_LINES = 2  # how many lines at the top and at the bottom of a page can be a running header/footer


def _margin_key(line: Line) -> tuple[str, int]:
    text = _DIGITS.sub("#", line.text.lower())
    text = re.sub(r"\b[ivxlcdm]{1,7}\b\s*$", "#", text)
    return " ".join(text.split()), round(line.bottom / 6)


def _margin_indexes(lines: list[Line]) -> set[int]:
    order = sorted(range(len(lines)), key=lambda i: -lines[i].top)
    return set(order[:_MARGIN_LINES]) | set(order[-_MARGIN_LINES:])


def running_lines(pages: list[list[Line]]) -> set[tuple[int, int]]:
    """``(page, line)`` of running headers, footers and page numbers.

    A line is one when it is among the top or bottom lines of its page and either
    is a bare page number ("12", "xii", "Page 3 of 9") or repeats, digits aside, at
    the same height on at least three pages (two when the PDF has three or four).
    """
    keys: Counter = Counter()
    margins: list[set[int]] = []
    for lines in pages:
        indexes = _margin_indexes(lines) if len(lines) > 1 else set()
        margins.append(indexes)
        keys.update({_margin_key(lines[i]) for i in indexes})
    needed = 3 if len(pages) >= 5 else 2
    found: set[tuple[int, int]] = set()
    if len(pages) < 2:
        return found
    for p, lines in enumerate(pages):
        for i in margins[p]:
            line = lines[i]
            if _PAGE_NUMBER.match(line.text) or keys[_margin_key(line)] >= needed:
                found.add((p, i))
    return found


# ---- tables of contents and indexes -------------------------------------------------------

_DOT_LEADER = re.compile(r"(?:\.\s?){4,}|(?:·\s?){4,}|(?:…\s?){2,}")
_ENDS_IN_PAGE_REF = re.compile(r"(?:[\s,]\s*(?:\d{1,4}|[ivxlc]{1,6})(?:\s*[-–]\s*\d{1,4})?)+\s*$")
_CONTENTS_HEADING = re.compile(r"^(?:table of )?contents$|^index$|^general index$|^(?:list of )?(?:figures|tables)$", re.IGNORECASE)


def _is_leader_line(text: str) -> bool:
    return bool(_DOT_LEADER.search(text)) and bool(_ENDS_IN_PAGE_REF.search(text))


def is_contents_or_index(lines: list[Line], previous: bool = False) -> bool:
    """A page that lists where things are (a table of contents or an index) rather than saying them.

    Most of its lines end in page numbers after dot leaders or short entries; a
    page headed "Contents"/"Index" or following such a page needs fewer of them.
    """
    texts = [line.text for line in lines if line.text.strip()]
    if len(texts) < 3:
        return False
    leaders = sum(_is_leader_line(t) for t in texts)
    refs = sum(bool(_ENDS_IN_PAGE_REF.search(t)) and len(t) <= 70 for t in texts)
    headed = any(_CONTENTS_HEADING.match(t.strip()) for t in texts[:3])
    share = (leaders + refs) / (2 * len(texts))
    if leaders / len(texts) >= 0.3:
        return True
    return refs / len(texts) >= (0.35 if headed or previous else 0.6) or (headed and share >= 0.25)


# ---- lines -> paragraphs ------------------------------------------------------------------

_BULLET_START = re.compile(r"^(?:[•◦▪‣∙●○■□–—*-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s)")
_SENTENCE_END = re.compile(r"[.!?:;]['\")\]”’]*$")
_HYPHENATED = re.compile(r"((?:[A-Za-z]+-)*)([A-Za-z]+)-$")
_WORD_START = re.compile(r"^([a-z]+)")
_WORDS = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def _body_size(lines: list[Line]) -> float:
    sizes = Counter(line.size for line in lines for _ in range(max(len(line.text), 1)))
    return sizes.most_common(1)[0][0] if sizes else 10.0


def vocabulary(pages: list[list[Line]]) -> tuple[set[str], set[str]]:
    """Words of the document (lower case) and its hyphenated compounds, seen inside lines."""
    words: set[str] = set()
    compounds: set[str] = set()
    for lines in pages:
        split = False  # the previous line ended in a hyphen: this line's first word is a fragment
        for line in lines:
            tokens = _WORDS.findall(line.text.lower())
            if line.text.endswith("-") and tokens:
                tokens = tokens[:-1]
            if split and tokens:
                tokens = tokens[1:]
            split = line.text.endswith("-")
            for token in tokens:
                if "-" in token:
                    compounds.add(token)
                    words.update(token.split("-"))
                else:
                    words.add(token)
    return words, compounds


def join_lines(first: str, second: str, words: set[str], compounds: set[str]) -> str:
    """Two lines of one paragraph as one: a line-end hyphen goes when it only split a word.

    The hyphen stays when the document spells the compound with one elsewhere, or
    when both halves are words and the joined spelling never occurs ("well-known").
    """
    head = _HYPHENATED.search(first)
    tail = _WORD_START.match(second)
    if head and tail and not first.endswith("--"):
        left, right = head.group(2), tail.group(1)
        joined = (left + right).lower()
        compound = f"{head.group(1)}{left}-{right}".lower()
        keep = compound in compounds or (
            joined not in words and left.lower() in words and right in words and len(left) > 1 and len(right) > 1
        )
        if joined in words or not keep:
            return first[:-1] + second
        return first + second
    if head and not first.endswith("--") and second[:1].isalnum():  # "Section-" + "B": a hyphen, not a dash
        return first + second
    return f"{first} {second}"


def _column_right(lines: list[Line], line: Line) -> float:
    """Where full lines of ``line``'s column end (its neighbours' right edge)."""
    rights = [other.right for other in lines if abs(other.left - line.left) < 3 * line.size]
    return max(rights) if rights else line.right


def _breaks_between(lines: list[Line], first: Line, a: Line, b: Line, pitch: float, body: float) -> bool:
    """Whether ``b`` starts a new paragraph after ``a`` (``first`` opened the current one)."""
    step = a.bottom - b.bottom
    if step <= 0 or step > 1.45 * pitch:  # new column, or a blank line's worth of space
        return True
    if abs(a.size - b.size) > 0.6 or b.size > body * 1.15 or a.size > body * 1.15:  # a heading
        return True
    if _BULLET_START.match(b.text):
        return True
    if _BULLET_START.match(first.text) and b.left < first.left + 0.5 * b.size < a.left:  # back out of a hanging indent
        return True
    if _SENTENCE_END.search(a.text):  # a short line that ends a sentence ends its paragraph
        right = _column_right(lines, a)
        if a.right < right - max(2 * a.size, 0.15 * (right - a.left)):
            return True
    return b.left > a.left + 1.5 * b.size and _SENTENCE_END.search(a.text) is not None  # first-line indent


def page_paragraphs(lines: list[Line], words: set[str], compounds: set[str]) -> list[str]:
    """The paragraphs of one page's remaining lines, in order."""
    if not lines:
        return []
    body = _body_size(lines)
    steps = [a.bottom - b.bottom for a, b in zip(lines, lines[1:]) if a.size == b.size == body and a.bottom > b.bottom]
    pitch = statistics.median(steps) if steps else body * 1.2
    paragraphs: list[str] = []
    current, first = lines[0].text, lines[0]
    for a, b in zip(lines, lines[1:]):
        if _breaks_between(lines, first, a, b, pitch, body):
            paragraphs.append(current)
            current, first = b.text, b
        else:
            current = join_lines(current, b.text, words, compounds)
    paragraphs.append(current)
    return [p for p in paragraphs if p.strip()]


def pages_to_text(pages: list[list[Line]]) -> list[str]:
    """Each page's readable text: paragraphs separated by blank lines; listing pages left empty."""
    drop = running_lines(pages)
    kept_pages = [[line for i, line in enumerate(lines) if (p, i) not in drop] for p, lines in enumerate(pages)]
    words, compounds = vocabulary(kept_pages)
    texts: list[str] = []
    previous_listing = False
    for lines in kept_pages:
        listing = is_contents_or_index(lines, previous_listing)
        previous_listing = listing
        if listing:
            texts.append("")
            continue
        body = [line for line in lines if not _is_leader_line(line.text)]
        texts.append("\n\n".join(page_paragraphs(body, words, compounds)))
    return texts
