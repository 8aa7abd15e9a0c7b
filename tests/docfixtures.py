"""Small documents of every supported format, made by the tests that use them.

PDFs are written with pypdf (a real text layer in Helvetica, one ``Tj`` per
line), Word files with python-docx, so nothing binary has to be committed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

__all__ = ["make_pdf", "make_docx", "HTML_PAGE", "write_mixed_formats"]


def make_pdf(pages: Sequence[Sequence[str]], *, user_password: str | None = None, owner_password: str | None = None) -> bytes:
    """A PDF with one page per item of ``pages``, each line drawn as text; an empty page has no text."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = StreamObject()
        stream.set_data("\n".join(ops).encode("cp1252"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    if user_password is not None or owner_password is not None:
        writer.encrypt(user_password=user_password or "", owner_password=owner_password, algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_docx(title: str = "Core title") -> bytes:
    """A Word file with a title, headings, paragraphs, a bulleted list and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading("Leg cramps", level=1)
    document.add_paragraph("A leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes.")
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


def write_mixed_formats(folder: Path) -> list[Path]:
    """One document per extracted format (HTML, Word, a two-page PDF) in ``folder``, which is created."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sleep.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / "cramps.docx").write_bytes(make_docx(title="Leg cramp leaflet"))
    (folder / "minerals.pdf").write_bytes(
        make_pdf([["Minerals"], ["Magnesium supplements may reduce night-time leg cramps in older adults."]])
    )
    return sorted(folder.iterdir())
