"""The reading benchmark's boilerplate rules, on chunks a person would and would not skip."""

from __future__ import annotations

import re

import pytest

from bench.reading import Labels, is_boilerplate, load_labels

HEADINGS = {"History", "Values", "Software", "Firefox"}


@pytest.mark.parametrize(
    "text",
    [
        "3 Patterns . . . . . . . . . . . . . . . . . 9",
        "Getting started.........................12",
        "Points and vectors¶",
        "the man-\nagement of memory",
        "yylex, 12, 40\nyylineno, 8\nyymore(), 19, 21",
        "• 1 History\n• 2 Values\n• 3 Software",
    ],
)
def test_generic_rules_flag_what_a_reader_skips(text):
    assert is_boilerplate(text, None, HEADINGS)


@pytest.mark.parametrize(
    "text",
    [
        "Laths,...........................  1.25",  # Thoreau's price list: a table, not a contents line
        "A well-known rule keeps the soil healthy.",
        "Revision: | 9051\nDate: | 2022-04-02\nAuthor: | David Goodger",
        "• WAL is faster.\n• Readers do not block writers.\n• Disk I/O is more sequential.",
    ],
)
def test_generic_rules_leave_content_alone(text):
    assert not is_boilerplate(text, None, HEADINGS)


def test_document_labels_are_regexes_per_slug(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"slug": "site", "boilerplate": ["^Choose any three\\\\.$"]}\n', encoding="utf-8")
    labels = load_labels(path)
    assert is_boilerplate("Small. Fast. Reliable.\nChoose any three.", labels["site"])
    assert not is_boilerplate("Choose any three. Then more.", labels["site"])
    assert not is_boilerplate("Choose any three.", Labels("other", (re.compile("x"),)))
