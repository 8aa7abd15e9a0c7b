"""Small documents of every supported format, made by the tests that use them.

PDFs are written with pypdf (a real text layer in Helvetica, one ``Tj`` per
line), Word files with python-docx, so nothing binary has to be committed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

__all__ = ["make_pdf", "make_book_pdf", "BOOK_PAGES", "make_docx", "HTML_PAGE", "DOCS_PAGE", "write_mixed_formats"]


def _pdf_writer_with_fonts(*base_fonts: str):
    """A pypdf writer and a page-resources factory naming ``base_fonts`` /F1, /F2, ..."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject

    writer = PdfWriter()
    fonts = DictionaryObject()
    for n, base in enumerate(base_fonts, start=1):
        fonts[NameObject(f"/F{n}")] = writer._add_object(
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Font"),
                    NameObject("/Subtype"): NameObject("/Type1"),
                    NameObject("/BaseFont"): NameObject(base),
                    NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
                }
            )
        )
    return writer, fonts


def _add_pdf_page(writer, fonts, ops: list[str]) -> None:
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    page = writer.add_blank_page(612, 792)
    stream = StreamObject()
    stream.set_data("\n".join(ops).encode("cp1252"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _pdf_bytes(writer) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_pdf(
    pages: Sequence[Sequence[str]], *, user_password: str | None = None, owner_password: str | None = None
) -> bytes:
    """A PDF with one page per item of ``pages``, each line drawn as text; an empty page has no text."""
    writer, fonts = _pdf_writer_with_fonts("/Helvetica")
    for lines in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td", *(f"{_pdf_string(line)} Tj T*" for line in lines), "ET"]
        _add_pdf_page(writer, fonts, ops)
    if user_password is not None or owner_password is not None:
        writer.encrypt(user_password=user_password or "", owner_password=owner_password, algorithm="AES-128")
    return _pdf_bytes(writer)


def make_book_pdf(
    pages: Sequence[Sequence[str]],
    *,
    header: str | None = None,
    numbers: bool = True,
    labels: tuple[str, int] | None = None,
    title: str | None = None,
) -> bytes:
    """A typeset-looking PDF: one printed line per string, a blank string is a paragraph gap,
    a line starting with ``## `` is a 16 pt heading and one starting with ``$ `` is code in
    Courier; ``header`` (with ``{n}`` for the page number) is drawn at the top of every page
    and the page number at the bottom when ``numbers``. ``labels=("roman", 3)`` numbers the
    first 3 pages i, ii, iii and the rest from 1, as books do; ``title`` is the title property."""
    writer, fonts = _pdf_writer_with_fonts("/Times-Roman", "/Courier")

    def draw(text: str, x: float, y: float, size: float, font: int = 1) -> str:
        return f"BT /F{font} {size} Tf {x} {y} Td {_pdf_string(text)} Tj ET"

    for n, lines in enumerate(pages, start=1):
        ops = []
        if header is not None:
            ops.append(draw(header.format(n=n), 72, 750, 9))
        if numbers:
            ops.append(draw(str(n), 300, 40, 9))
        y = 710.0
        for line in lines:
            if not line:
                y -= 10
            elif line.startswith("## "):
                y -= 8
                ops.append(draw(line[3:], 72, y, 16))
                y -= 24
            elif line.startswith("$ "):
                ops.append(draw(line[2:], 90, y, 10, font=2))
                y -= 12
            else:
                ops.append(draw(line, 72, y, 11))
                y -= 13.5
        _add_pdf_page(writer, fonts, ops)
    if labels is not None:
        style, count = labels
        writer.set_page_label(0, count - 1, "/r" if style == "roman" else "/D")
        writer.set_page_label(count, len(pages) - 1, "/D", start=1)
    if title is not None:
        writer.add_metadata({"/Title": title})
    return _pdf_bytes(writer)


# A short manual as typeset: a contents page with dot leaders, two pages of prose with a
# hyphenated line end and a real hyphen at a line end, and an index page.
BOOK_PAGES = [
    [
        "## Contents",
        "1 Getting started . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 1",
        "2 Configuration . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 2",
        "3 Troubleshooting . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 2",
        "Index . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 3",
    ],
    [
        "## Getting started",
        "The gardening planner keeps track of every bed in your allotment and reminds you",
        "when to sow, water and harvest. Start it once and it runs quietly in the back-",
        "ground, checking the weather forecast every morning before you wake up.",
        "",
        "Each bed has a name, a size and a list of crops. The planner uses a well-",
        "known rotation rule so that no crop family grows in the same bed twice in",
        "a row, which keeps the soil healthy.",
        "",
        "## Configuration",
        "Settings live in a plain text file called planner.conf in your home folder.",
        "The frost date, well known to local growers, decides when tomatoes may go out.",
    ],
    [
        "## Troubleshooting",
        "If the reminders stop, check that the planner still has permission to send",
        "notifications. A missing forecast usually means the weather service was down",
        "overnight; the planner tries again an hour later without any help.",
        "The reminders come back on their own once the service answers again.",
        "Nothing you planted is lost when a forecast is missing.",
    ],
    [
        "## Index",
        "allotment, 1",
        "beds, 1, 2",
        "configuration file, 2",
        "crop rotation, 1",
        "forecast, 1, 3",
        "frost date, 2",
        "notifications, 3",
        "reminders, 1, 3",
        "tomatoes, 2",
    ],
]


def make_docx(title: str = "Core title") -> bytes:
    """A Word file with a title, headings, paragraphs, a bulleted list and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading("Leg cramps", level=1)
    document.add_paragraph(
        "A leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes."
    )
    document.add_heading("What helps", level=2)
    document.add_paragraph("Stretch the calf gently", style="List Bullet")
    document.add_paragraph("Drink water after exercise", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Mineral"
    table.cell(0, 1).text = "Food"
    table.cell(1, 0).text = "Magnesium"
    table.cell(1, 1).text = "Spinach and almonds"
    document.add_paragraph("Massage can also relieve a cramp once it has started.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


HTML_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sleep advice</title>
<style>body { font-family: serif } .x::before { content: "STYLE TEXT" }</style>
<script>var secret = "SCRIPT TEXT"; document.write("<p>written</p>");</script>
</head>
<body>
<nav hidden>HIDDEN NAV</nav>
<h1>Sleep</h1>
<p>Adults need seven to nine hours of sleep each night.
   A dark and <b>quiet</b> bedroom helps people fall asleep faster.</p>
<div style="display: none">INVISIBLE DIV</div>
<h2>Naps</h2>
<ul><li>Keep naps short</li><li>Avoid naps late in the day</li></ul>
<p>Line one<br>line two of the address.</p>
<!-- a comment that must not show -->
<noscript>NOSCRIPT TEXT</noscript>
<table><tr><th>Age</th><th>Hours</th></tr><tr><td>Adult</td><td>7-9</td></tr></table>
<script type="application/ld+json">{"name": "JSON TEXT"}</script>
</body></html>
"""


# A page of a documentation site as saved from the browser: skip link, site header with a
# menu and search box, a sidebar of links, a generated table of contents, permalink signs,
# a code block with a "# comment", a table and a site footer around the document.
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Points and vectors &mdash; Geometry Kit 2.1 documentation</title></head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header"><a href="/">Geometry Kit</a>
  <form role="search" action="/search"><input name="q" placeholder="Search the docs"><button>Go</button></form>
  <ul class="menu"><li><a href="/install">Install</a></li><li><a href="/guide">User guide</a></li><li><a href="/api">API</a></li></ul>
</header>
<div class="sphinxsidebar" role="navigation"><h3>Navigation</h3>
  <ul><li><a href="intro.html">Introduction</a></li><li><a href="points.html">Points and vectors</a></li><li><a href="shapes.html">Shapes</a></li></ul>
</div>
<aside class="sidebar"><h3>Related topics</h3><ul><li><a href="a.html">Angles</a></li><li><a href="b.html">Bezier curves</a></li></ul></aside>
<main id="main">
<h1>Points and vectors<a class="headerlink" href="#points" title="Permalink to this heading">¶</a></h1>
<nav class="toc"><p>On this page</p><ul><li><a href="#making">Making a point</a></li><li><a href="#distance">Distance</a></li></ul></nav>
<p>Geometry Kit represents every position on the plane as a point with two coordinates.</p>
<h2 id="making">Making a point<a class="headerlink" href="#making" title="Permalink to this heading">¶</a></h2>
<p>Create a point by passing its coordinates:</p>
<div class="highlight"><pre><span class="c1"># point is an (x, y) tuple</span>
<span class="n">p</span> <span class="o">=</span> <span class="n">Point</span><span class="p">(</span><span class="mi">3</span><span class="p">,</span> <span class="mi">4</span><span class="p">)</span>
</pre></div>
<p>Points are immutable, so they can be used as dictionary keys.</p>
<h2 id="distance">Distance<a class="headerlink" href="#distance">#</a></h2>
<p>The <code>distance()</code> method returns the straight-line distance between two points.</p>
<table><tr><th>Method</th><th>Returns</th></tr>
<tr><td><code>distance(other)</code></td><td>the Euclidean distance as a float</td></tr>
<tr><td><code>midpoint(other)</code></td><td>a new Point halfway between</td></tr></table>
</main>
<footer class="footer"><p>&copy; 2024 Geometry Kit contributors. Built with Sphinx.</p>
<p>This page was last updated on 3 May 2024.</p></footer>
</body></html>
"""


def write_mixed_formats(folder: Path) -> list[Path]:
    """One document per extracted format (HTML, Word, a two-page PDF) in ``folder``, which is created."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sleep.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / "cramps.docx").write_bytes(make_docx(title="Leg cramp leaflet"))
    (folder / "minerals.pdf").write_bytes(
        make_pdf([["Minerals"], ["Magnesium supplements may reduce night-time leg cramps in older adults."]])
    )
    return sorted(folder.iterdir())
