"""Properties of reading real documents: whatever a page holds, every quote is an exact slice of
the stored text, and the site's chrome, fence lines and permalink signs are never quoted."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.chunking import ChunkingSettings, chunk_text, split_blocks
from indexer.markup import html_to_text

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = st.sampled_from(
    [
        "point",
        "Distance",
        "the",
        "returns",
        "a",
        "float",
        "x",
        "y",
        "WAL",
        "mode",
        "is",
        "faster",
        "(3, 4)",
        "é",
        "漢字",
        "—",
    ]
)
SENTENCE = st.lists(WORDS, min_size=1, max_size=12).map(lambda ws: " ".join(ws).capitalize() + ".")
CODE_LINE = st.one_of(
    st.just("# point is an (x, y) tuple"),
    st.just(""),
    st.lists(WORDS, min_size=1, max_size=6).map(lambda ws: "    " + " = ".join(ws)),
    st.just("print(point)  # show it"),
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


CONTENT = st.one_of(
    SENTENCE.map(lambda s: f"<p>{_escape(s)}</p>"),
    SENTENCE.map(lambda s: f'<h2>{_escape(s[:-1])}<a class="headerlink" href="#h">¶</a></h2>'),
    st.lists(CODE_LINE, min_size=1, max_size=8).map(lambda ls: "<pre>" + _escape("\n".join(ls)) + "</pre>"),
    st.lists(SENTENCE, min_size=1, max_size=4).map(
        lambda ss: "<ul>" + "".join(f"<li>{_escape(s)}</li>" for s in ss) + "</ul>"
    ),
    st.lists(st.tuples(SENTENCE, SENTENCE), min_size=1, max_size=4).map(
        lambda rows: (
            "<table>" + "".join(f"<tr><td>{_escape(a)}</td><td>{_escape(b)}</td></tr>" for a, b in rows) + "</table>"
        )
    ),
)
CHROME = [
    '<nav class="menu"><a href="/">NAVLINK Home</a></nav>',
    '<a class="skip-link" href="#main">Skip to content</a>',
    '<div class="sphinxsidebar"><a href="/x">SIDEBARLINK</a></div>',
    "<footer><p>FOOTERTEXT 2024</p></footer>",
    '<form role="search"><input name="q"></form>',
]


@FAST
@given(st.lists(CONTENT, min_size=1, max_size=12), st.lists(st.sampled_from(CHROME), max_size=4), st.booleans())
def test_html_quotes_are_exact_slices_and_never_chrome(parts, chrome, in_main):
    body = "".join(parts)
    body = f"<main>{body}</main>" if in_main else body
    page = f"<html><head><title>T</title></head><body>{''.join(chrome)}{body}{''.join(chrome)}</body></html>"
    text = html_to_text(page.encode("utf-8")).text
    for marker in ("NAVLINK", "SIDEBARLINK", "FOOTERTEXT", "Skip to content", "¶"):
        assert marker not in text
    for chunk in chunk_text(text, "page.html"):
        assert text[chunk.start : chunk.end] == chunk.text
        assert "```" not in chunk.text and "~~~" not in chunk.text
        assert chunk.text == chunk.text.strip()
        assert "point is an (x, y) tuple" not in chunk.heading, "a code comment is never a heading"


FENCED = st.lists(
    st.one_of(
        SENTENCE,
        st.just("# Heading"),
        st.lists(CODE_LINE, max_size=6).map(lambda ls: "```\n" + "\n".join(ls) + "\n```"),
        st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=4).map(
            lambda rows: "\n".join(f"{a} | {b}" for a, b in rows)
        ),
    ),
    max_size=10,
).map("\n\n".join)


@FAST
@given(FENCED, st.integers(20, 500))
def test_fenced_code_and_tables_stay_exact_slices_of_any_size(text, max_chars):
    settings_ = ChunkingSettings(max_chars=max_chars)
    for chunk in chunk_text(text, "doc.md", settings_):
        assert text[chunk.start : chunk.end] == chunk.text
        assert "```" not in chunk.text
    for block in split_blocks(text):
        if block.kind == "code":
            assert not block.is_heading


PDF_LINE = st.lists(
    st.sampled_from(
        [
            "garden",
            "beds",
            "water",
            "the",
            "planner",
            "reminds",
            "you",
            "when",
            "to",
            "sow",
            "har-",
            "vest",
            "well-",
            "known",
        ]
    ),
    min_size=1,
    max_size=12,
).map(" ".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(PDF_LINE, st.just("")), min_size=1, max_size=12), min_size=3, max_size=5))
def test_pdf_quotes_are_exact_slices_without_running_heads_or_split_words(tmp_path_factory, pages):
    from indexer.loaders import load_document
    from tests.docfixtures import make_book_pdf

    path = tmp_path_factory.mktemp("pdf") / "book.pdf"
    path.write_bytes(make_book_pdf(pages, header="Garden Manual Chapter One {n}"))
    try:
        doc = load_document(path, "book.pdf")
    except ValueError:  # a book of blank lines has no text layer: refused with a message, fine
        return
    assert "Garden Manual" not in doc.text
    for chunk in chunk_text(doc.text, doc.name):
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert "-\n" not in chunk.text
