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
from itertools import pairwise

from .document import DocumentError, Extracted, PageStarts

__all__ = ["Line", "fix_glyphs", "is_contents_or_index", "join_lines", "page_paragraphs", "read_pdf", "running_lines"]

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
    mono: bool = False  # every glyph in a monospaced font: a line of code


# ---- reading ------------------------------------------------------------------------------


def read_pdf(data: bytes) -> Extracted:
    """The readable text of a PDF, its page starts (with printed labels) and its title."""
    pages, labels, title = _read_lines(data)
    if not any(lines for lines in pages):
        raise DocumentError(
            f"the PDF has {len(pages)} page(s) but no text layer (probably scanned images); "
            "run OCR on it first (for example: ocrmypdf in.pdf out.pdf) and add the result"
        )
    texts = pages_to_text(pages, labels)
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 2
    numbers = [str(n + 1) for n in range(len(pages))]
    kept_labels = tuple(labels) if list(labels) != numbers else ()
    return Extracted(
        "\n\n".join(texts), pages=PageStarts(starts, kept_labels), title=title or _title_from_first_page(pages)
    )


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
        except Exception as err:  # PDFium fails in many ways on damaged pages: say which page, lose no other file
            raise DocumentError(_open_error(f"page {len(pages) + 1}: {type(err).__name__}: {err}")) from err
        finally:
            document.close()
    return pages, labels, _clean_title(title)


def _open_error(reason: str) -> str:
    if "password" in reason.lower():
        return (
            "the PDF is protected by a password; save a copy without the password (for example print it to PDF) "
            "and add that"
        )
    return f"cannot read this PDF ({reason}); it may be truncated or damaged: download or export it again"


# Monospaced fonts by name: Courier, *Mono*, Consolas, TeX's CMTT/SFTT/LMTT and txfonts' t1xtt typewriter faces.
_MONO_FONT = re.compile(
    r"mono|courier|consol|menlo|inconsolata|typewriter|code|(?:^|\+)(?:CM|SF|EC|LM|TC)?TT\d|tt\d*$", re.IGNORECASE
)
_HYPHEN_MARKS = ("\ufffe", "\x02")
_PDFIUM_LINE_END = re.compile(r"([^\n\ufffe\x02]*)(\n|\ufffe|\x02|$)")
_SAMPLES = 7  # glyphs of a line whose font is asked for: enough to tell a code line from prose with a word of code


def _page_lines(textpage, pdfium_c) -> list[Line]:
    """PDFium's printed lines (its text, one character per glyph, breaks lines with CR LF), each
    with its box, baseline, largest font size and whether every sampled glyph is monospaced."""
    import ctypes

    text = textpage.get_text_range()
    lines: list[Line] = []
    left, bottom, right, top = (ctypes.c_double() for _ in range(4))
    x, y = ctypes.c_double(), ctypes.c_double()
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    box_refs = [ctypes.byref(v) for v in (left, right, bottom, top)]
    mono_fonts: dict[tuple[bytes, int], bool] = {}
    pos = 0
    # PDFium joins a line that ends in a hyphen it thinks the layout added to the next one,
    # marking the hyphen U+FFFE; split there again so the line-end rule (join_lines) decides.
    for piece in _PDFIUM_LINE_END.finditer(text):
        raw = piece.group(1) + ("-" if piece.group(2) in _HYPHEN_MARKS else "")
        start, pos = pos, piece.end()
        glyphs = [start + i for i, ch in enumerate(raw) if not ch.isspace()]
        if not glyphs:
            continue
        step = max(1, len(glyphs) // _SAMPLES)
        sample = sorted({*glyphs[::step], glyphs[-1]})
        sizes, monos, boxes = [], [], []
        for index in sample:
            sizes.append(float(pdfium_c.FPDFText_GetFontSize(textpage, index)))
            pdfium_c.FPDFText_GetFontInfo(textpage, index, name, 128, ctypes.byref(flags))
            key = (name.value, flags.value)
            if key not in mono_fonts:
                mono_fonts[key] = bool(flags.value & 1) or bool(_MONO_FONT.search(name.value.decode("latin-1")))
            monos.append(mono_fonts[key])
            pdfium_c.FPDFText_GetCharBox(textpage, index, *box_refs)
            boxes.append((left.value, right.value, bottom.value, top.value))
        biggest = max(range(len(sample)), key=lambda n: sizes[n])
        pdfium_c.FPDFText_GetCharOrigin(textpage, sample[biggest], ctypes.byref(x), ctypes.byref(y))
        clean = " ".join(fix_glyphs(raw).split())
        if clean:
            lines.append(
                Line(
                    clean,
                    boxes[0][0],
                    max(b[1] for b in boxes),
                    y.value,
                    max(b[3] for b in boxes),
                    round(sizes[biggest], 1) or 10.0,
                    sum(monos) >= 0.8 * len(monos),  # a backslash or brace from a symbol font aside
                )
            )
    return lines


_BOILERPLATE_TITLE = re.compile(r"^(untitled|microsoft word - |document\d*$)", re.IGNORECASE)


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :].rsplit(".doc", 1)[0]
    if (
        not title
        or _BOILERPLATE_TITLE.match(title)
        or title.lower().endswith((".pdf", ".dvi", ".tex", ".doc", ".docx"))
    ):
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
    "\r": "",
}
_GLYPH_TABLE = str.maketrans(_GLYPHS)
# "c©": a copyright sign some fonts draw as a "c" inside a circle glyph, read as both.
_COPYRIGHT = re.compile(r"\bc\s?©|\rc\b")  # PDFium reads TeX's circle as "\r"


# TeX sets an ellipsis as three spaced full stops; a person reads "...". (Longer runs are leaders.)
_SPACED_ELLIPSIS = re.compile(r"(?<![.\s]\s)(?<!\.)\. \. \.(?! ?\.)")
# Control characters a symbol font without a Unicode map comes out as (TeX's ⊙ reads as a form feed).
_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r\x02")


def fix_glyphs(text: str) -> str:
    """Ligatures spelled out, odd spaces made plain, PDF hyphen marks made hyphens, ``c©`` -> ``©``,
    spaced ellipses closed up, stray control characters dropped."""
    text = _COPYRIGHT.sub("©", text).translate(_GLYPH_TABLE).translate(_CONTROLS)
    return _SPACED_ELLIPSIS.sub("...", text)


# ---- running headers, footers, page numbers -----------------------------------------------

_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_MARGIN_LINES = 4  # how many lines at the top and at the bottom of a page can be a running header/footer


def _margin_key(line: Line) -> tuple[str, int]:
    text = _DIGITS.sub("#", line.text.lower())
    text = re.sub(r"\b[ivxlcdm]{1,7}\b\s*$", "#", text)
    return " ".join(text.split()), round(line.bottom / 6)


def _margin_indexes(lines: list[Line], depth: int = _MARGIN_LINES) -> set[int]:
    order = sorted(range(len(lines)), key=lambda i: -lines[i].top)
    return set(order[:depth]) | set(order[-depth:])


def running_lines(pages: list[list[Line]], labels: list[str] | tuple[str, ...] = ()) -> set[tuple[int, int]]:
    """``(page, line)`` of running headers, footers and page numbers.

    A line is one when it is among the top or bottom lines of its page and either
    is a bare page number ("12", "xii", "Page 3 of 9"), or starts or ends with the
    page's printed label in a short line ("Chapter 4: Examples 5"), or repeats,
    digits aside, at the same height on at least three pages (two when the PDF has
    three or four).
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
    # A line in the margins of most pages is running even where it sits a little higher or lower
    # (a first page's foot); a margin line that starts with one ("MNRAS 000, 1-10 (2020) Preprint
    # ...") is the same running line with more said.
    texts = Counter(key for key, _ in keys.elements())
    running = {text for text, n in texts.items() if n >= max(needed, len(pages) / 2) and len(text) >= 10}
    for p, lines in enumerate(pages):
        outermost = _margin_indexes(lines, 2)  # a page number sits on the very first or last line
        small = (
            _body_size(lines) * 1.05 if lines else 0.0
        )  # ... in print no larger than the text ("1 Copyright" is a title)
        for i in margins[p]:
            line = lines[i]
            label = labels[p] if p < len(labels) else str(p + 1)
            text = _margin_key(line)[0]
            numbered = (
                i in outermost
                and line.size <= small
                and (_PAGE_NUMBER.match(line.text) or _carries_label(line.text, label))
            )
            if numbered or keys[_margin_key(line)] >= needed or any(text.startswith(r) for r in running):
                found.add((p, i))
    return found


def _carries_label(text: str, label: str) -> bool:
    words = text.split()
    return 1 < len(words) <= 14 and label in (words[0], words[-1])


# ---- tables of contents and indexes -------------------------------------------------------

_DOT_LEADER = re.compile(r"(?:\.\s?){4,}|(?:·\s?){4,}|(?:…\s?){2,}")
_ENDS_IN_PAGE_REF = re.compile(r"(?:[\s,]\s*(?:\d{1,4}|[ivxlc]{1,6})(?:\s*[-–]\s*\d{1,4})?)+\s*$")
_CONTENTS_HEADING = re.compile(
    r"^(?:table of )?contents$|^index$|^general index$|^(?:list of )?(?:figures|tables)$", re.IGNORECASE
)


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
_CAPITALS_START = re.compile(r"^([A-Z]+)\b")
# Words that usually open a hyphenated compound ("one-dimensional", "non-zero", "real-time"): split
# after one, the hyphen is kept unless the document spells the word joined elsewhere.
_COMPOUND_HEADS = frozenset(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "ten",
        "non",
        "self",
        "well",
        "multi",
        "cross",
        "high",
        "low",
        "long",
        "short",
        "real",
        "full",
        "half",
        "single",
        "double",
        "left",
        "right",
        "top",
        "bottom",
        "first",
        "second",
        "third",
        "user",
        "case",
        "all",
        "ill",
        "ever",
        "built",
        "read",
        "write",
    ]
)
_URL_TAIL = re.compile(r"(?:https?:|www\.)\S*[/._=?&#-]$")
_WORDS = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


_HEADING_SIZE = 1.15  # print this much larger than the page's body text is a heading


def _body_size(lines: list[Line]) -> float:
    sizes: Counter = Counter()
    for line in lines:
        sizes[line.size] += len(line.text)
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
    # A web address broken at a slash or dot (not one that ends a sentence before a capital).
    if _URL_TAIL.search(first) and second[:1] not in " (" and not (first.endswith(".") and second[:1].isupper()):
        return first + second
    head = _HYPHENATED.search(first)
    tail = _WORD_START.match(second)
    if head and not tail and head.group(2).isupper():  # "IM-" + "PLIED": capitals split like words
        tail = _CAPITALS_START.match(second)
    if head and tail and not first.endswith("--"):
        left, right = head.group(2), tail.group(1)
        joined = (left + right).lower()
        compound = f"{head.group(1)}{left}-{right}".lower()
        right = right.lower()
        halves_are_words = left.lower() in words and right in words and len(left) > 1 and len(right) > 1
        keep = compound in compounds or (joined not in words and (halves_are_words or left.lower() in _COMPOUND_HEADS))
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
    if step <= 0 or step > 1.45 * pitch * max(1.0, a.size / body):  # new column, or a blank line's worth of space
        return True
    if abs(a.size - b.size) > 0.6:  # into or out of a heading (its lines share one size and run on)
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
    """The paragraphs of one page's remaining lines, in order; runs of monospaced lines are
    code, kept line by line (with their indentation) inside a ``` fence."""
    if not lines:
        return []
    body = _body_size(lines)
    steps = [a.bottom - b.bottom for a, b in pairwise(lines) if a.size == b.size == body and a.bottom > b.bottom]
    pitch = statistics.median(steps) if steps else body * 1.2
    paragraphs: list[str] = []
    group: list[Line] = [lines[0]]
    for a, b in pairwise(lines):
        if a.mono and b.mono and 0 < a.bottom - b.bottom <= 2.6 * pitch:
            group.append(b)  # code keeps its blank lines
        elif not a.mono and not b.mono and not _breaks_between(lines, group[0], a, b, pitch, body):
            group.append(b)
        else:
            paragraphs.append(_render(group, words, compounds, body))
            group = [b]
    paragraphs.append(_render(group, words, compounds, body))
    return [p for p in paragraphs if p.strip()]


def _render(group: list[Line], words: set[str], compounds: set[str], body: float) -> str:
    """One paragraph's text; a short one in larger print is a heading (``#`` to ``###`` by size),
    so that it heads what follows even when it is long or asks a question ("How does flex
    compile the DFA so quickly?")."""
    if not group[0].mono:
        text = group[0].text
        for line in group[1:]:
            text = join_lines(text, line.text, words, compounds)
        size = min(line.size for line in group)
        if size >= _HEADING_SIZE * body and len(group) <= 3 and len(text) <= 200 and any(c.isalpha() for c in text):
            level = 1 if size >= 1.6 * body else 2 if size >= 1.3 * body else 3
            return f"{'#' * level} {text}"
        return text
    left = min(line.left for line in group)
    width = 0.525 * group[0].size  # a typewriter glyph's advance, near enough to count indent steps
    code = "\n".join(" " * round((line.left - left) / width) + line.text for line in group)
    return f"```\n{code}\n```"


def merge_same_baseline(lines: list[Line]) -> list[Line]:
    """Pieces PDFium cut out of one printed line (at a superscript footnote mark) put back together."""
    merged: list[Line] = []
    for line in lines:
        last = merged[-1] if merged else None
        if last and abs(last.bottom - line.bottom) < 0.3 * line.size and -1 <= line.left - last.right < 2 * line.size:
            glue = "" if line.left - last.right < 0.15 * line.size or line.text[:1] in ".,;:)" else " "
            merged[-1] = Line(
                last.text + glue + line.text,
                last.left,
                line.right,
                last.bottom,
                max(last.top, line.top),
                max(last.size, line.size),
                last.mono and line.mono,
            )
        else:
            merged.append(line)
    return merged


_TOC_ENTRY = re.compile(r"^(?:(?:\d+|[A-Z])(?:\.\d+)*\.?\s+\S.{0,70}|.{1,70}\s\d{1,4})$")


def drop_contents_lists(lines: list[Line]) -> list[Line]:
    """A "Contents" heading and the numbered entries under it (a paper's table of contents has
    no dot leaders), up to the first line that is not an entry."""
    kept: list[Line] = []
    entry: Line | None = None  # the last entry dropped, while in a list
    listing = False
    for line in lines:
        if _CONTENTS_HEADING.match(line.text.strip()):
            listing, entry = True, None
            continue
        if listing:
            looks = (_TOC_ENTRY.match(line.text) or len(line.text) <= 60) and not _SENTENCE_END.search(line.text)
            # The list ends at the first line that is not an entry, or after a gap or a change of print.
            close = entry is None or (
                abs(line.size - entry.size) <= 0.5 and 0 < entry.bottom - line.bottom <= 2.5 * line.size
            )
            if looks and close:
                entry = line
                continue
        listing = False
        kept.append(line)
    return kept


def pages_to_text(pages: list[list[Line]], labels: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Each page's readable text: paragraphs separated by blank lines; listing pages left empty."""
    drop = running_lines(pages, labels)
    kept_pages = [
        merge_same_baseline([line for i, line in enumerate(lines) if (p, i) not in drop])
        for p, lines in enumerate(pages)
    ]
    listings, previous = [], False
    for lines in kept_pages:
        previous = is_contents_or_index(lines, previous)
        listings.append(previous)
    kept_pages = [[] if listing else drop_contents_lists(lines) for lines, listing in zip(kept_pages, listings)]
    words, compounds = vocabulary(kept_pages)
    texts: list[str] = []
    for lines in kept_pages:
        body = [line for line in lines if not _is_leader_line(line.text)]
        texts.append("\n\n".join(page_paragraphs(body, words, compounds)))
    return texts
