"""Each format's loader: the text quotes come from, its structure, and a clear error for each bad file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from indexer.build import load_corpus_documents
from indexer.chunking import chunk_text
from indexer.loaders import LOADERS, DocumentError, load_document
from tests.docfixtures import HTML_PAGE, make_docx, make_pdf


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _load(tmp_path: Path, name: str, data: bytes | str, **kwargs):
    return load_document(_write(tmp_path, name, data), name, **kwargs)


# ---- formats ------------------------------------------------------------------------------


def test_plain_text_is_the_file_untouched(tmp_path):
    raw = "Cramps hurt.\r\n\r\nStretch the calf.  Twice.\n"
    doc = _load(tmp_path, "notes.txt", raw)
    assert doc.text == raw
    assert doc.format == "txt" and doc.pages == () and doc.title == "Notes"


def test_markdown_headings_become_chunk_headings(tmp_path):
    doc = _load(
        tmp_path,
        "guide.md",
        "# Sleep\n\nAdults need seven to nine hours of sleep each night.\n\n## Naps\n\nKeep naps short and early in the day.\n",
    )
    headings = {c.text: c.heading for c in chunk_text(doc.text, doc.name)}
    assert headings["Adults need seven to nine hours of sleep each night."] == "Sleep"
    assert headings["Keep naps short and early in the day."] == "Naps"


def test_html_keeps_visible_text_and_headings_only(tmp_path):
    doc = _load(tmp_path, "sleep.html", HTML_PAGE)
    for hidden in (
        "SCRIPT TEXT",
        "STYLE TEXT",
        "HIDDEN NAV",
        "INVISIBLE DIV",
        "NOSCRIPT",
        "JSON TEXT",
        "comment",
        "written",
        "var secret",
    ):
        assert hidden not in doc.text
    assert doc.text.startswith("# Sleep\n\n")
    assert "\n\n## Naps\n\n" in doc.text
    # Source line breaks inside a paragraph are spaces; <br> is a line break; inline tags vanish.
    assert "each night. A dark and quiet bedroom helps" in doc.text
    assert "Line one\nline two of the address." in doc.text
    assert "• Keep naps short\n• Avoid naps late in the day" in doc.text
    assert "Age | Hours\nAdult | 7-9" in doc.text
    assert doc.title == "Sleep advice" and doc.format == "html"
    chunks = chunk_text(doc.text, doc.name)
    assert {c.heading for c in chunks} == {"Sleep", "Naps"}


def test_html_declared_legacy_charset_is_honoured(tmp_path):
    page = '<html><head><meta charset="windows-1252"></head><body><p>Le café est très “chaud”.</p></body></html>'
    doc = _load(tmp_path, "cafe.htm", page.encode("cp1252"))
    assert doc.text == "Le café est très “chaud”."


def test_html_nested_thousands_deep_does_not_overflow(tmp_path):
    page = "<div>" * 5000 + "<p>Deep text is still found here.</p>" + "</div>" * 5000
    assert _load(tmp_path, "deep.html", page).text == "Deep text is still found here."


def test_pdf_text_per_page_with_page_offsets(tmp_path):
    data = make_pdf(
        [["Leg cramps", "A leg cramp is painful. It passes."], [], ["Magnesium helps some people with cramps."]]
    )
    doc = _load(tmp_path, "leaflet.pdf", data)
    assert doc.format == "pdf" and len(doc.pages) == 3 and doc.pages[0] == 0
    third = doc.text[doc.pages[2] :]
    assert third == "Magnesium helps some people with cramps."
    assert "A leg cramp is painful. It passes." in doc.text[: doc.pages[1]]
    # Pages are separated by blank lines, so no chunk spans two pages.
    for chunk in chunk_text(doc.text, doc.name):
        page = sum(1 for p in doc.pages if p <= chunk.start)
        end_page = sum(1 for p in doc.pages if p < chunk.end)
        assert page == end_page


def test_pdf_locked_only_against_editing_opens(tmp_path):
    doc = _load(tmp_path, "owner.pdf", make_pdf([["Readable by anyone."]], owner_password="owner-secret"))
    assert doc.text == "Readable by anyone."


def test_docx_paragraphs_headings_lists_and_tables(tmp_path):
    doc = _load(tmp_path, "cramps.docx", make_docx(title="Leg cramp leaflet"))
    assert doc.text.startswith("# Leg cramps\n\nA leg cramp is a sudden painful tightening of the calf muscle.")
    assert "\n\n## What helps\n\n• Stretch the calf gently\n• Drink water after exercise\n\n" in doc.text
    assert "Mineral | Food\nMagnesium | Spinach and almonds" in doc.text
    assert doc.text.endswith("Massage can also relieve a cramp once it has started.")
    assert doc.title == "Leg cramp leaflet" and doc.format == "docx"
    headings = {c.heading for c in chunk_text(doc.text, doc.name)}
    assert headings == {"Leg cramps", "What helps"}


def test_explicit_title_wins_over_the_files_own(tmp_path):
    doc = _load(tmp_path, "sleep.html", HTML_PAGE, title="From corpus.toml")
    assert doc.title == "From corpus.toml"


# ---- encodings ----------------------------------------------------------------------------

TEXT = "Le café est très “chaud” — naïve façade.\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM
        b"\xfe\xff" + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),
        TEXT.encode("cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16be-bom", "utf32", "cp1252"],
)
def test_text_encodings_decode_to_the_same_characters(tmp_path, data):
    assert _load(tmp_path, "enc.txt", data).text == TEXT


def test_latin1_is_not_misread_as_central_european(tmp_path):
    text = "Le café est très chaud. Résumé du problème.\n"
    assert _load(tmp_path, "fr.txt", text.encode("latin-1")).text == text


def test_utf16_without_bom_is_recognised(tmp_path):
    text = "Hello world, this is a test of UTF-16 text without a byte-order mark.\n"
    assert _load(tmp_path, "u16.txt", text.encode("utf-16-le")).text == text


def test_cyrillic_legacy_encoding_is_recognised(tmp_path):
    text = "Привет, как дела? Это тест русского текста в старой кодировке Windows.\n"
    assert _load(tmp_path, "ru.txt", text.encode("cp1251")).text == text


# ---- bad input ----------------------------------------------------------------------------


def _docx_truncated() -> bytes:
    data = make_docx()
    return data[: len(data) // 2]


def _zip_not_word() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    return buffer.getvalue()


def _pdf_truncated() -> bytes:
    data = make_pdf([["Some text on the page that is long enough."]] * 3)
    return data[: int(len(data) * 0.6)]


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8

BAD_FILES = [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"  \n\n\t \n", "empty"),
    ("empty.pdf", b"", "empty"),
    ("empty.docx", b"", "empty"),
    ("image.txt", PNG, "binary"),
    ("random.txt", bytes((i * 37 + 11) % 256 for i in range(4000)).replace(b"\x00", b"\x01"), "binary"),
    ("image.html", PNG, "binary"),
    ("image.pdf", PNG, "not a PDF"),
    ("image.docx", PNG, "not a readable .docx"),
    ("scan.pdf", make_pdf([[], []]), "no text layer"),
    ("locked.pdf", make_pdf([["Secret words."]], user_password="pw"), "password"),
    ("cut.pdf", _pdf_truncated(), "truncated"),
    ("cut.docx", _docx_truncated(), "truncated"),
    ("other.docx", _zip_not_word(), "not a Word document"),
    ("legacy.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "password-protected"),
    ("scripts.html", "<html><script>alert(1)</script><style>p{}</style></html>", "no visible text"),
    ("sheet.xlsx", b"PK\x03\x04whatever", "unsupported format"),
]


@pytest.mark.parametrize("name,data,expected", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_gets_its_own_clear_error(tmp_path, name, data, expected):
    with pytest.raises(DocumentError) as err:
        _load(tmp_path, name, data)
    message = str(err.value)
    assert message.startswith(f"{name}: ")
    assert expected in message


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = _write(tmp_path, "huge.txt", "word " * 1000)
    with pytest.raises(DocumentError, match=r"huge.txt: the file is 5 KB, over the 1000 bytes limit"):
        load_document(path, "huge.txt", max_bytes=1000)
    assert load_document(path, "huge.txt", max_bytes=5000).text.startswith("word")


def test_folder_with_bad_files_still_loads_the_good_ones(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data, _ in BAD_FILES:
        if Path(name).suffix in LOADERS:
            _write(corpus, name, data)
    _write(corpus, "good.txt", "Stretching the calf relieves a leg cramp.\n")
    _write(corpus, "good.pdf", make_pdf([["Magnesium may help with cramps."]]))
    _write(corpus, "huge.md", "# Big\n\n" + "A long line of words. " * 500)
    documents, errors = load_corpus_documents(corpus, max_bytes=5000)
    assert sorted(d.name for d in documents) == ["good.pdf", "good.txt"]
    expected = {name for name, _, _ in BAD_FILES if Path(name).suffix in LOADERS} | {"huge.md"}
    assert set(errors) == expected
    assert "over the" in errors["huge.md"]


# ---- titles from the documents ------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("# Sourdough starter\n\nFeed it flour and water.\n", "Sourdough starter"),
        ("Intro line.\n\n## Feeding ##\n\nText.\n", "Feeding"),
        ("Sourdough Guide\n===============\n\nText.\n", "Sourdough Guide"),
        ("```sh\n# not a title\n```\n\n# Real title\n", "Real title"),
        ("Just text, no heading at all.\n", "Mydocs"),
    ],
)
def test_markdown_title_is_its_first_heading_else_the_file_name(tmp_path, text, expected):
    assert _load(tmp_path, "mydocs.md", text).title == expected


def test_docx_title_falls_back_to_the_title_styled_paragraph(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("Travel expenses policy", style="Title")
    document.add_paragraph("Claims are paid monthly.")
    buffer = io.BytesIO()
    document.save(buffer)
    assert _load(tmp_path, "policy_v2.docx", buffer.getvalue()).title == "Travel expenses policy"


def test_docx_table_row_is_a_chunk_of_its_own(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Allowances", level=1)
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [("Item", "Rate", "Unit"), ("Mileage rate", "0.30 euros", "per km"), ("Meals", "12 euros", "per day")]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    doc = _load(tmp_path, "allowances.docx", buffer.getvalue())
    chunks = chunk_text(doc.text, doc.name)
    assert any(c.text == "Mileage rate | 0.30 euros | per km" and c.heading == "Allowances" for c in chunks)


def test_docx_generated_table_of_contents_is_left_out(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    for name in ("TOC Heading", "toc 1"):
        if name not in [s.name for s in document.styles]:
            document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Contents", style="TOC Heading")
    document.add_paragraph("Travel allowances\t3", style="toc 1")
    document.add_heading("Travel allowances", level=1)
    document.add_paragraph("Staff are paid for every kilometre driven on duty.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = _load(tmp_path, "policy.docx", buffer.getvalue())
    assert doc.text == "# Travel allowances\n\nStaff are paid for every kilometre driven on duty."


def test_docx_code_paragraphs_are_one_code_block_and_their_comments_are_not_headings(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.styles.add_style("Source Code", WD_STYLE_TYPE.PARAGRAPH)
    document.add_heading("Host names", level=2)
    document.add_paragraph("The file /etc/hosts maps names to addresses:")
    document.add_paragraph("127.0.0.1 localhost\n\n# The following lines are desirable for IPv6", style="Source Code")
    document.add_paragraph("::1     localhost ip6-localhost", style="Source Code")
    document.add_paragraph("Edit it as root.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = _load(tmp_path, "hosts.docx", buffer.getvalue())
    code = "127.0.0.1 localhost\n\n# The following lines are desirable for IPv6\n::1     localhost ip6-localhost"
    assert f"```\n{code}\n```" in doc.text
    chunks = chunk_text(doc.text, doc.name)
    assert {c.heading for c in chunks} == {"Host names"}
    assert any(c.text == code for c in chunks)
