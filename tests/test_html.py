"""HTML pages read as a person reads them: the document, not the site around it."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from indexer.chunking import chunk_text
from indexer.html import page_title
from indexer.loaders import load_document
from indexer.markup import html_to_text
from tests.docfixtures import DOCS_PAGE, HTML_PAGE

CHROME = [
    "Skip to main content",
    "Search the docs",
    "User guide",
    "Navigation",
    "Introduction",
    "Shapes",
    "Related topics",
    "Bezier",
    "On this page",
    "Built with Sphinx",
    "last updated",
    "¶",
]


@pytest.fixture()
def page(tmp_path):
    path = tmp_path / "points.html"
    path.write_text(DOCS_PAGE, encoding="utf-8")
    return load_document(path, "points.html")


def test_site_chrome_is_left_out(page):
    for text in CHROME:
        assert text not in page.text, text
    assert page.text.startswith("# Points and vectors\n\nGeometry Kit represents every position")


def test_headings_keep_their_words_without_permalink_signs(page):
    assert "\n\n## Making a point\n\n" in page.text and "\n\n## Distance\n\n" in page.text
    headings = {c.heading for c in chunk_text(page.text, page.name)}
    assert headings == {"Points and vectors", "Making a point", "Distance"}


def test_code_block_is_one_quotable_chunk_and_its_comment_is_not_a_heading(page):
    code = "# point is an (x, y) tuple\np = Point(3, 4)"
    assert f"```\n{code}\n```" in page.text
    chunks = chunk_text(page.text, page.name)
    assert any(c.text == code and c.heading == "Making a point" for c in chunks)
    assert "point is an (x, y) tuple" not in {c.heading for c in chunks}


def test_table_rows_read_as_rows_with_inline_code_joined(page):
    assert "Method | Returns\ndistance(other) | the Euclidean distance as a float" in page.text
    assert any(c.text == "midpoint(other) | a new Point halfway between" for c in chunk_text(page.text, page.name))


def test_title_is_the_pages_heading_when_the_title_adds_the_site_name(page):
    assert page.title == "Points and vectors"


@pytest.mark.parametrize(
    "head,body,expected",
    [
        ("<title>Sleep advice</title>", "<h1>Sleep</h1>", "Sleep advice"),  # not "Sleep - Site": the title wins
        ("<title>Mozilla - Wikipedia</title>", "<h1>Mozilla</h1>", "Mozilla"),
        ("<title>Docs | Install guide</title>", "<h1>Install guide</h1>", "Install guide"),
        ("", "<h1>Only a heading</h1>", "Only a heading"),
        ("<title>Only a title</title>", "<p>text</p>", "Only a title"),
    ],
)
def test_page_title_rules(head, body, expected):
    soup = BeautifulSoup(f"<html><head>{head}</head><body>{body}</body></html>", "html.parser")
    assert page_title(soup) == expected


def test_a_sidebar_of_facts_is_content_but_a_sidebar_of_links_is_not():
    html = """<body><h1>About</h1><div class="rightsidebar"><h4>Summary</h4><ul>
    <li>Max DB size: <a href="limits.html">281 terabytes</a> (2<sup>48</sup> bytes), more than any disk holds</li>
    <li>Max row size: <a href="limits.html">1 gigabyte</a> for every single row of a table</li></ul></div>
    <div class="sidebar"><a href="a">Home</a> <a href="b">Download</a> <a href="c">Support</a></div>
    <p>SQLite is an in-process library.</p></body>"""
    text = html_to_text(html.encode()).text
    assert "Max DB size: 281 terabytes" in text
    assert "Download" not in text


def test_wikipedia_chrome_citation_marks_and_edit_links_are_dropped():
    html = """<body><div id="mw-navigation"><h2>Navigation menu</h2><ul><li><a href="/">Main page</a></li></ul></div>
    <div id="content"><h1 id="firstHeading">Mozilla</h1><div id="siteSub">From Wikipedia, the free encyclopedia</div>
    <div id="jump-to-nav">Jump to: <a href="#mw-head">navigation</a>, <a href="#p-search">search</a></div>
    <div id="toc" class="toc"><div id="toctitle"><h2>Contents</h2></div><ul><li><a href="#History">1 History</a></li></ul></div>
    <h2><span class="mw-headline" id="History">History</span><span class="mw-editsection">[<a href="/edit">edit</a>]</span></h2>
    <p>Mozilla was created in 1998 by members of Netscape.<sup class="reference"><a href="#cite-1">[1]</a></sup></p>
    </div><div id="footer"><ul><li>This page was last modified on 28 October 2016.</li></ul></div></body>"""
    text = html_to_text(html.encode()).text
    assert text == "# Mozilla\n\n## History\n\nMozilla was created in 1998 by members of Netscape."


def test_the_old_fixture_page_still_reads_the_same(tmp_path):
    path = tmp_path / "sleep.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    doc = load_document(path, "sleep.html")
    assert doc.title == "Sleep advice" and "• Keep naps short\n• Avoid naps late in the day" in doc.text


def test_heading_links_keep_their_words():
    html = """<body><div class="contents topic" id="contents"><p class="topic-title">Contents</p>
    <ul><li><a class="reference internal" href="#whitespace" id="toc-entry-3">Whitespace</a></li></ul></div>
    <h1 class="title">reStructuredText Markup Specification</h1>
    <h2><a class="toc-backref" href="#toc-entry-3">Whitespace</a></h2>
    <p>Spaces are the recommended white space characters for indentation.</p></body>"""
    text = html_to_text(html.encode()).text
    assert text == (
        "# reStructuredText Markup Specification\n\n## Whitespace\n\n"
        "Spaces are the recommended white space characters for indentation."
    )


def test_permalinks_of_other_site_generators_are_dropped():
    html = """<body><h2 id="setup">Setup<a href="#setup" class="hash-link" title="Direct link to Setup">\u200b</a></h2>
    <h2 id="run">Run <a href="#run" aria-label="Permalink to this heading"><svg></svg></a></h2>
    <p>Install it first, then run it.</p></body>"""
    text = html_to_text(html.encode()).text
    assert text == "## Setup\n\n## Run\n\nInstall it first, then run it."


def test_a_header_box_that_holds_the_pages_title_is_kept():
    html = """<body><div class="header"><h1>Install guide</h1></div><div class="header"><a href="/">Home</a></div>
    <p>Download the archive and unpack it.</p></body>"""
    assert html_to_text(html.encode()).text == "# Install guide\n\nDownload the archive and unpack it."
