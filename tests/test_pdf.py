"""PDF reading rules, each on a small typeset-looking PDF: what a person reads, not printed lines."""

from __future__ import annotations

import pytest

from bot.answer import location_of
from indexer.chunking import chunk_text
from indexer.document import PageStarts
from indexer.loaders import load_document
from indexer.pdf import (
    Line,
    fix_glyphs,
    is_contents_or_index,
    join_lines,
    running_lines,
)
from indexer.stores import DocumentRecord
from tests.docfixtures import BOOK_PAGES, make_book_pdf, make_pdf


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    path = folder / "planner.pdf"
    path.write_bytes(
        make_book_pdf(
            BOOK_PAGES, header="Garden Planner Manual  {n}", labels=("roman", 1), title="Garden Planner Manual"
        )
    )
    return load_document(path, "planner.pdf")


def test_lines_of_a_paragraph_are_joined_and_paragraphs_kept_apart(book):
    assert (
        "The gardening planner keeps track of every bed in your allotment and reminds you when to sow, water "
        "and harvest." in book.text
    )
    assert "before you wake up.\n\nEach bed has a name" in book.text
    assert "\n\n## Getting started\n\n" in book.text  # larger print is a heading, a block of its own
    headings = {c.heading for c in chunk_text(book.text, book.name)}
    assert {"Getting started", "Configuration", "Troubleshooting"} <= headings


def test_line_end_hyphenation_is_undone_but_real_hyphens_stay(book):
    assert "runs quietly in the background, checking" in book.text
    assert "back-ground" not in book.text and "back- ground" not in book.text
    assert "uses a well-known rotation rule" in book.text


def test_running_header_and_page_numbers_are_dropped(book):
    assert "Garden Planner Manual" not in book.text
    for page_start, next_start in zip(book.pages, [*book.pages[1:], len(book.text)]):
        page = book.text[page_start:next_start].strip()
        assert not page[-2:].strip().isdigit(), page[-40:]


def test_contents_and_index_pages_are_left_out_of_the_text(book):
    assert ". . . ." not in book.text
    assert "crop rotation, 1" not in book.text and "Index" not in book.text
    assert len(book.pages) == 4  # the pages still count: citations keep their numbers
    assert book.text[book.pages[2] :].startswith("## Troubleshooting")


def test_title_comes_from_the_title_property_else_the_first_page(book, tmp_path):
    assert book.title == "Garden Planner Manual"
    pages = [["## Soil Testing at Home", "Collect soil from three places in the bed and mix it well before testing."]]
    path = tmp_path / "soil_notes.pdf"
    path.write_bytes(make_book_pdf(pages, numbers=False))
    assert load_document(path, "soil_notes.pdf").title == "Soil Testing at Home"
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(make_pdf([["Just one line of body text here."]]))
    assert load_document(plain, "plain.pdf").title == "Plain"  # nothing stands out: the file name


def test_citation_names_the_printed_page_label(book):
    start = book.text.index("If the reminders stop")
    chunk = next(c for c in chunk_text(book.text, book.name) if c.start == start)
    assert location_of(book.text, chunk, start, book.pages, "pdf") == "page 2 (PDF page 3)"
    record = DocumentRecord.from_dict(
        DocumentRecord("planner.pdf", "0", "t", "pdf", "planner.pdf", 1, "", book.pages).to_dict()
    )
    assert record.pages == book.pages and record.pages.labels == ("i", "1", "2", "3")
    plain = PageStarts([0, 10])
    assert location_of("x" * 20, chunk, 12, plain, "pdf") == "page 2"


def test_glyph_artefacts_are_mended():
    assert fix_glyphs("ﬁle ﬂow eﬀect oﬃce c© 2024 Acme") == "file flow effect office © 2024 Acme"
    assert fix_glyphs("co\u00adoperate\u00a0now") == "cooperate now"


def test_join_lines_rules():
    words, compounds = {"information", "well", "known", "state", "of"}, {"state-of-the-art"}
    assert join_lines("more infor-", "mation here", words, compounds) == "more information here"
    assert join_lines("a well-", "known rule", words, compounds) == "a well-known rule"
    assert join_lines("manage-", "ment is hard", words, compounds) == "management is hard"
    assert join_lines("the state-of-the-", "art method", words, {"state-of-the-art"}) == "the state-of-the-art method"
    assert join_lines("see Section-", "B below", words, compounds) == "see Section-B below"  # not a word start
    assert join_lines("plain line", "next line", words, compounds) == "plain line next line"


def _line(text: str, y: float) -> Line:
    return Line(text, 72, 72 + 5 * len(text), y, y + 10, 10)


def test_running_lines_repeat_at_the_same_height_on_several_pages():
    pages = [
        [_line(f"Chapter 4: Functions {n}", 750), _line("Body text that differs " * (n + 1), 600), _line(str(n), 40)]
        for n in range(6)
    ]
    found = running_lines(pages)
    assert {(p, 0) for p in range(6)} <= found and {(p, 2) for p in range(6)} <= found
    assert not any(i == 1 for _, i in found)


def test_contents_and_index_pages_are_recognised_and_prose_is_not():
    contents = [_line("Contents", 700)] + [
        _line(f"{n} Section . . . . . . . . . . {n * 3}", 680 - 14 * n) for n in range(1, 9)
    ]
    index = [_line("Index", 700)] + [_line(f"entry{n}, {n}, {n + 4}", 680 - 14 * n) for n in range(1, 12)]
    prose = [_line("Mix the soil well. Water it on 3 days, 2 of them warm.", 680 - 14 * n) for n in range(8)]
    assert is_contents_or_index(contents) and is_contents_or_index(index)
    assert not is_contents_or_index(prose)


def test_monospaced_lines_are_a_code_block_kept_line_by_line(tmp_path):
    pages = [
        [
            "## Running it",
            "Start the planner from a terminal with the path of your allotment file:",
            "$ planner --beds allotment.conf",
            "$ planner --check",
            "",
            "The second command only checks the file and changes nothing at all.",
        ]
    ]
    path = tmp_path / "run.pdf"
    path.write_bytes(make_book_pdf(pages, numbers=False))
    doc = load_document(path, "run.pdf")
    assert "\n\n```\nplanner --beds allotment.conf\nplanner --check\n```\n\n" in doc.text
    chunks = chunk_text(doc.text, doc.name)
    assert any(c.text == "planner --beds allotment.conf\nplanner --check" for c in chunks)


def test_a_papers_contents_list_without_page_numbers_is_dropped():
    lines = [
        _line("CONTENTS", 700),
        *(
            _line(t, 680 - 14 * n)
            for n, t in enumerate(
                [
                    "1 Introduction",
                    "2 Obtaining the package",
                    "2.1 Installing",
                    "Acknowledgements",
                    "A Journal abbreviations",
                ]
            )
        ),
    ]
    lines.append(_line("The journal encourages authors to prepare their papers using LaTeX.", 500))
    from indexer.pdf import drop_contents_lists

    assert [line.text for line in drop_contents_lists(lines)] == [
        "The journal encourages authors to prepare their papers using LaTeX."
    ]


def test_a_web_address_broken_at_a_line_end_is_joined():
    assert join_lines("report it at https://", "github.com/westes/flex/issues/", set(), set()) == (
        "report it at https://github.com/westes/flex/issues/"
    )
    assert join_lines("see http://www.", "ietf.org/rfc/rfc2396.txt for details", set(), set()) == (
        "see http://www.ietf.org/rfc/rfc2396.txt for details"
    )
    assert join_lines("the end.", "Next line", set(), set()) == "the end. Next line"
    assert (
        join_lines("at https://example.org/.", "Then restart it", set(), set())
        == "at https://example.org/. Then restart it"
    )


def test_an_answer_from_an_indexed_book_cites_the_printed_page(tmp_path):
    from bot.bot import Bot
    from indexer.build import build_corpus
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore
    from tests.fakes import FakeEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "planner.pdf").write_bytes(
        make_book_pdf(
            BOOK_PAGES, header="Garden Planner Manual  {n}", labels=("roman", 1), title="Garden Planner Manual"
        )
    )
    store = FaissStore(tmp_path / "index")
    build_corpus(corpus, store, FakeEmbedder())
    bot = Bot(
        FaissStore(tmp_path / "index"),
        FakeEmbedder(),
        settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="fake-hash-64"),
    )
    answer = bot.ask("What should I check if the reminders stop?")
    passage = next(p for p in answer.passages if "reminders stop" in p.text)
    assert passage.location == "page 2 (PDF page 3)"
    assert passage.title == "Garden Planner Manual"


def test_a_split_after_a_compound_opener_keeps_its_hyphen_unless_the_joined_word_occurs():
    assert join_lines("equations for one-", "dimensional flow", set(), set()) == "equations for one-dimensional flow"
    assert join_lines("a non-", "zero value", {"nonzero"}, set()) == "a nonzero value"


def test_a_chapter_title_starting_with_the_page_label_is_not_a_running_head():
    def page(n: int, title: str, title_size: float) -> list[Line]:
        return [
            Line(str(n), 300, 306, 750, 760, 10),
            Line(f"{n} {title}", 72, 200, 700, 717, title_size),
            *(_line(f"Body text line {k} of chapter {title}, page {n}." * (k % 3 + 1), 680 - 14 * k) for k in range(6)),
        ]

    labels = ["1", "2"]
    found = running_lines([page(1, "Copyright", 17.2), page(2, "Reporting Bugs", 17.2)], labels)
    assert (0, 0) in found and (1, 0) in found  # the bare page numbers go
    assert (0, 1) not in found and (1, 1) not in found  # titles in large print stay
    found = running_lines([page(1, "Copyright", 10), page(2, "Reporting Bugs", 10)], labels)
    assert (0, 1) in found  # in body print, "1 Copyright" on page 1 reads as a running head
