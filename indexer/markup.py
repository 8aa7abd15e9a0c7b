"""HTML and Word documents -> the structured plain text that quotes are sliced from.

Both formats become a list of ``TextElement``s (heading, paragraph, list item, table
row, code), rendered the one way the chunker understands: blank lines between
paragraphs, ``# ``-style lines for headings, and consecutive list items or table
rows as the lines of a single block (so a short item is not mistaken for a
heading). The parsing itself is BeautifulSoup's and python-docx's.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Iterable

from .document import DocumentError, Extracted
from .html import PERMALINK_SIGNS, main_content, page_title, prune

__all__ = ["TextElement", "render_blocks", "html_to_text", "docx_to_text"]

BULLET = "• "
# A .docx is a zip; refuse archives that would inflate past this (a "zip bomb").
MAX_DOCX_UNPACKED_BYTES = 512 * 1024 * 1024
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE container: legacy .doc, or an encrypted .docx


@dataclass(frozen=True)
class TextElement:
    """One heading, paragraph, list item, table row or code block read from HTML or Word, before it becomes text."""

    kind: str  # "heading", "para", "item", "row" or "code"
    text: str
    level: int = 0  # heading level, 1..6


def render_blocks(blocks: Iterable[TextElement]) -> str:
    """Blocks -> text: headings as ``#`` lines, items and rows grouped into one block each run."""
    parts: list[str] = []
    previous = ""
    for block in blocks:
        text = block.text.strip("\n").rstrip() if block.kind == "code" else block.text.strip()
        if not text.strip():
            continue
        if block.kind == "heading":
            line = f"{'#' * min(max(block.level, 1), 6)} {' '.join(text.split())}"
        elif block.kind == "code":  # fenced, so the chunker keeps it whole and never reads "# x" as a heading
            fence = "~~~" if "```" in block.text else "```"
            line = f"{fence}\n{text}\n{fence}"
        elif block.kind == "item":
            line = BULLET + text
        else:
            line = text
        grouped = block.kind in ("item", "row") and previous == block.kind
        if grouped:
            parts[-1] += "\n" + line
        else:
            parts.append(line)
        previous = block.kind
    return "\n\n".join(parts)


def _clean_inline(text: str) -> str:
    """Collapse runs of white space inside each line; keep the line breaks a ``<br>`` made."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# ---- HTML ---------------------------------------------------------------------------------

_SKIP_TAGS = frozenset(
    "script style noscript template head title meta link svg math canvas iframe object embed audio video "
    "select option button input textarea map area".split()
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body center dd details dialog dir div dl dt fieldset figcaption figure "
    "footer form header hgroup hr html legend li main menu nav ol p section summary ul caption".split()
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACES = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def html_to_text(data: bytes) -> Extracted:
    """Visible text of an HTML page: no scripts, styles or hidden elements; headings kept."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title = page_title(soup)
    for tag in soup.find_all(_is_invisible):
        tag.decompose()
    prune(soup)
    return Extracted(render_blocks(_html_blocks(main_content(soup))), title=title)


def _is_invisible(tag) -> bool:
    if tag.name in _SKIP_TAGS or tag.has_attr("hidden"):
        return True
    style = tag.get("style")
    return isinstance(style, str) and bool(_HIDDEN_STYLE.search(style))


def _html_blocks(soup) -> list[TextElement]:
    """Walk the tree without recursion (pages can nest thousands deep), collecting blocks."""
    from bs4.element import NavigableString, PreformattedString, Tag

    blocks: list[TextElement] = []
    inline: list[str] = []
    context = ["para"]  # kind of block that text at this depth belongs to

    def flush() -> None:
        text = _clean_inline("".join(inline))
        inline.clear()
        if text:
            blocks.append(TextElement(context[-1], text))

    stack: list[tuple[object, bool]] = [(soup, True)]
    while stack:
        node, entering = stack.pop()
        if not entering:  # leaving a block element
            flush()
            context.pop()
            continue
        if isinstance(node, PreformattedString):  # comments, doctype, CDATA
            continue
        if isinstance(node, NavigableString):
            inline.append(_SPACES.sub(" ", str(node)))  # source line breaks are spaces; only <br> breaks
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _HEADINGS:
            flush()
            heading = _inline_text(node).rstrip(PERMALINK_SIGNS + " ")
            blocks.append(TextElement("heading", heading, _HEADINGS[name]))
        elif name == "pre":
            flush()
            text = "\n".join(line.rstrip() for line in node.get_text().strip("\n").split("\n"))
            blocks.append(TextElement("code", text))
        elif name == "table":
            flush()
            blocks.extend(TextElement("row", row) for row in _html_table_rows(node))
        elif name == "br":
            inline.append("\n")
        elif name in _BLOCK_TAGS:
            flush()
            context.append("item" if name == "li" else context[-1])
            stack.append((node, False))
            stack.extend((child, True) for child in reversed(node.contents))
        else:  # inline element: its text runs on with its neighbours'
            stack.extend((child, True) for child in reversed(node.contents))
    flush()
    return blocks


def _inline_text(tag) -> str:
    """The text of a cell or heading as it reads: inline elements run together ("mozilla<wbr>.org"
    is one word), line breaks and nested blocks become spaces."""
    from bs4.element import NavigableString, Tag

    parts: list[str] = []
    stack: list[object] = [tag]
    while stack:
        node = stack.pop()
        if isinstance(node, NavigableString):
            parts.append(str(node))
        elif isinstance(node, Tag):
            if node.name == "br" or node.name in _BLOCK_TAGS:
                parts.append(" ")
            stack.extend(reversed(node.contents))
    return " ".join("".join(parts).split())


def _html_table_rows(table) -> list[str]:
    rows = []
    for tr in table.find_all("tr"):
        cells = [_inline_text(cell) for cell in tr.find_all(["td", "th"], recursive=False)]
        line = " | ".join(c for c in cells if c)
        if line:
            rows.append(line)
    return rows


# ---- DOCX ---------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def docx_to_text(data: bytes) -> Extracted:
    """Paragraphs, headings (by style or outline level), list items and tables of a .docx, in order."""
    _check_docx_container(data)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_docx_blocks(document))
        title = " ".join((document.core_properties.title or "").split()) or _docx_title(document)
    except Exception as err:  # python-docx raises many types on damaged files
        raise DocumentError(
            f"cannot read this Word file ({type(err).__name__}: {err}); it may be truncated or damaged: "
            "open it in Word or LibreOffice, save it again as .docx and add it again"
        ) from err
    return Extracted(render_blocks(blocks), title=title)


def _docx_title(document) -> str:
    """The first paragraph in the Title style, when the file has no title property."""
    for paragraph in document.paragraphs[:20]:
        style = paragraph.style
        if style is not None and (style.name or "").lower() == "title" and paragraph.text.strip():
            return " ".join(paragraph.text.split())
    return ""


def _check_docx_container(data: bytes) -> None:
    if data.startswith(_CFB_MAGIC):
        raise DocumentError(
            "this is a password-protected Word file or an old-style .doc renamed .docx; "
            "save it as .docx without a password and add it again"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile as err:
        raise DocumentError(
            "this is not a readable .docx file (the zip container is damaged or truncated); "
            "save it again from Word or LibreOffice as .docx"
        ) from err
    if "word/document.xml" not in names:
        raise DocumentError("this zip file is not a Word document (no word/document.xml); save it as .docx")
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise DocumentError(
            f"the .docx would unpack to {unpacked // (1024 * 1024)} MB, more than "
            f"{MAX_DOCX_UNPACKED_BYTES // (1024 * 1024)} MB; split it into smaller documents"
        )


def _docx_blocks(document) -> Iterable[TextElement]:
    """Word's elements in order; consecutive code paragraphs are one code block."""
    code: list[str] = []
    for element in _docx_elements(document):
        if element.kind == "code":
            code.append(element.text)
            continue
        if code:
            yield TextElement("code", "\n".join(code))
            code = []
        yield element
    if code:
        yield TextElement("code", "\n".join(code))


def _docx_elements(document) -> Iterable[TextElement]:
    from docx.table import Table

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            yield from (TextElement("row", row) for row in _docx_table_rows(item))
            continue
        text = item.text
        if not text.strip():
            continue
        style = item.style  # resolved once: python-docx looks styles up by id on every access
        if _is_docx_listing(style):
            continue
        level = _docx_heading_level(item, style)
        if _is_docx_code(item, style):  # kept line by line; a "# comment" in it is code, not a heading
            yield TextElement("code", "\n".join(line.rstrip() for line in text.replace("\t", "    ").split("\n")))
        elif level:
            yield TextElement("heading", text, level)
        elif _is_list_paragraph(item, style):
            yield TextElement("item", _clean_inline(text))
        else:
            yield TextElement("para", _clean_inline(text))


# Word's generated table of contents and index: paragraphs in the "TOC 1".."TOC 9", "TOC Heading"
# and "Index 1".. styles, entries with a tab leader and a page number; a reader skips them.
_DOCX_LISTING_STYLE = re.compile(r"^(?:toc\s*\d|toc heading|index\s*\d|index heading|table of figures)", re.IGNORECASE)


# Paragraph styles Word, LibreOffice and pandoc give code: "Source Code", "HTML Preformatted",
# "Plain Text", "Macro Text", "Preformatted Text", "Code", "Verbatim".
_DOCX_CODE_STYLE = re.compile(
    r"^(?:source code|html preformatted|preformatted text|plain text|macro text|code|verbatim)", re.IGNORECASE
)
_MONO_FONT_NAME = re.compile(r"courier|consolas|mono|menlo|lucida console|source code", re.IGNORECASE)


def _is_docx_code(paragraph, style) -> bool:
    """A paragraph in a code style, or every run of it in a monospaced font."""
    if style is not None and _DOCX_CODE_STYLE.match(style.name or ""):
        return True
    runs = [run for run in paragraph.runs if run.text.strip()]
    return bool(runs) and all(run.font.name and _MONO_FONT_NAME.search(run.font.name) for run in runs)


def _is_docx_listing(style) -> bool:
    return style is not None and bool(_DOCX_LISTING_STYLE.match(style.name or ""))


def _docx_table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _docx_heading_level(paragraph, style) -> int:
    """1..6 for Title/Heading N styles (or an outline level, which survives translated style names), else 0."""
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(name)
    if match:
        return min(max(int(match.group(1)), 1), 6)
    for element in (paragraph._p, *_style_chain(style)):
        outline = element.find(".//" + _w("outlineLvl"))
        if outline is not None:
            value = outline.get(_w("val"))
            if value is not None and value.isdigit() and int(value) < 9:
                return min(int(value) + 1, 6)
    return 0


def _style_chain(style):
    seen = 0
    while style is not None and seen < 10:
        yield style.element
        style = style.base_style
        seen += 1


def _is_list_paragraph(paragraph, style) -> bool:
    name = (style.name or "").lower() if style is not None else ""
    return "list" in name or paragraph._p.find(".//" + _w("numPr")) is not None


def _w(tag: str) -> str:
    return "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}" + tag
