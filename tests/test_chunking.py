"""The chunker: exact offsets, structure, snippet boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunking import ChunkingSettings, chunk_text, split_blocks, split_sentences

BUNDLED = Path(__file__).resolve().parent.parent / "corpus" / "muscle_spasms.txt"


def _bundled_text() -> str:
    return BUNDLED.read_bytes().decode("utf-8")


def test_every_chunk_is_the_exact_slice_of_the_bundled_text():
    text = _bundled_text()
    chunks = chunk_text(text, "muscle_spasms.txt")
    assert len(chunks) > 50
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.id == f"muscle_spasms.txt:{chunk.start}-{chunk.end}"
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end


def test_sentence_offsets_survive_crlf_and_non_ascii():
    text = "Título\r\n\r\nLe muscle se contracte. Ça fait mal — très mal!\r\nUne crampe passe vite. 🙂 Fin ici."
    for chunk in chunk_text(text, "fr.txt", ChunkingSettings(min_sentence_chars=5)):
        assert text[chunk.start : chunk.end] == chunk.text


def test_short_single_line_block_is_a_heading_and_gives_context():
    text = "Leg Cramps\n\nA cramp is a sudden tightening of a muscle. It passes within minutes.\n"
    blocks = split_blocks(text)
    assert [b.is_heading for b in blocks] == [True, False]
    chunks = chunk_text(text, "d")
    assert all(c.heading == "Leg Cramps" for c in chunks)
    assert not any("Leg Cramps" in c.text for c in chunks), "a heading is context, not a quote"
    assert chunks[0].embed_text.startswith("Leg Cramps: ")


@pytest.mark.parametrize(
    "line",
    [
        "you should do this",  # a sentence the source broke around a code block
        "For more details, see https://github.com/BurntSushi/ripgrep/issues/1277",
        "Or, as Raleigh rhymes it in his sonorous way,—",  # introduces a verse
        "is equivalent to",
    ],
)
def test_a_short_line_that_reads_as_a_sentence_is_no_heading_and_heads_nothing(line):
    text = f"Colors\n\nPick a color first.\n\n{line}\n\nThen run the search again with the new color set.\n"
    assert [b.is_heading for b in split_blocks(text)] == [True, False, False, False]
    last = [c for c in chunk_text(text, "d") if c.text.startswith("Then run")]
    assert last and all(c.heading == "Colors" for c in last), "the section's real heading still applies"


def test_an_html_heading_element_in_markdown_is_a_heading_without_its_tags():
    text = (
        '# FAQ\n\n<h3 name="size-limit">\nHow do I get around the regex size limit?\n</h3>\n\n'
        "Increase the limit with the size flag when a large pattern fails to compile.\n"
    )
    assert [b.is_heading for b in split_blocks(text)] == [True, True, False]
    chunks = chunk_text(text, "d")
    assert chunks and all(c.heading == "How do I get around the regex size limit?" for c in chunks)
    assert not any("<h3" in c.text for c in chunks), "the heading is context, not a quote"


def test_markdown_heading_line_starts_its_own_block():
    text = "# Sleep\nAdults need seven to nine hours of sleep each night.\n"
    assert split_blocks(text)[0].is_heading
    assert chunk_text(text, "d")[0].heading == "Sleep"


def test_bullets_split_list_items_and_keep_the_list_header_with_its_first_item():
    text = "Common Causes · Dehydration after long exercise in the heat · Low magnesium levels in the blood."
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences == [
        "Common Causes · Dehydration after long exercise in the heat",
        "· Low magnesium levels in the blood.",
    ]


def test_truncated_snippet_ends_a_segment_so_no_chunk_crosses_it():
    text = (
        "Heat loosens tight muscles after a few days. Waiting at least 72 hours after your. "
        "The exact cause of muscle spasms is unknown."
    )
    chunks = chunk_text(text, "d")
    cut = text.index("The exact cause")
    assert all(not (c.start < cut < c.end) for c in chunks)
    assert any(c.text.endswith("after your.") for c in chunks), "the fragment stays quotable with its sentence"


def test_no_chunk_ends_on_a_question_unless_it_is_all_there_is():
    text = "What Is a Muscle Cramp? A cramp is a sudden painful tightening of a muscle that does not relax."
    chunks = chunk_text(text, "d")
    assert all(not c.text.endswith("?") for c in chunks)
    assert chunk_text("Why do cramps happen?", "d")[0].text == "Why do cramps happen?"


def test_question_sentences_are_left_out_of_what_the_model_sees():
    text = "What is a muscle cramp, and why does it happen? A cramp is a sudden painful tightening of a muscle that does not relax."
    whole = [c for c in chunk_text(text, "d") if c.start == 0][0]
    assert "What is" not in whole.embed_text
    assert whole.text.startswith("What is a muscle cramp")


def test_a_short_question_stands_alone_so_a_caption_after_it_is_not_embedded_as_its_answer():
    """ "What Is a Muscle Cramp? Man holding his calf." once made one sentence that the model saw
    whole, and it came first for every question about cramps."""
    text = "What Is a Muscle Cramp? Man holding his calf. Muscle cramps or spasms can cause severe pain."
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences == [
        "What Is a Muscle Cramp?",
        "Man holding his calf. Muscle cramps or spasms can cause severe pain.",
    ]
    assert all("Cramp?" not in c.embed_text for c in chunk_text(text, "d") if len(c.sentences) > 1)


def test_tiny_pieces_are_glued_to_a_neighbour():
    text = "SECTION. 1. All legislative Powers herein granted shall be vested in a Congress."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [text]


def test_long_sentences_are_cut_at_clause_boundaries():
    clause = "the Congress shall have Power to lay and collect Taxes and Duties"
    text = "; ".join([clause] * 12) + "."
    settings = ChunkingSettings()
    pieces = split_sentences(text, settings)
    assert len(pieces) > 1
    assert all(p.end - p.start <= settings.long_sentence_chars * 2 for p in pieces)
    assert all(text[p.start : p.end] for p in pieces)


def test_clauses_cut_off_a_long_sentence_stay_one_snippet():
    """Our own cut at ';' leaves a clause starting in lower case; it must not read as text the
    source cut off, or no window could hold 'the supreme Law of the Land; and the Judges ...'."""
    clause = "the Laws of the United States which shall be made in Pursuance thereof shall bind every State"
    text = "This Constitution, and " + "; and ".join([clause] * 6) + "."
    sentences = split_sentences(text)
    assert len(sentences) > 1
    assert not any(s.truncated_start or s.truncated_end for s in sentences)
    assert any(len(c.sentences) > 1 for c in chunk_text(text, "d"))


def test_a_sentence_ends_at_a_full_stop_with_the_space_missing_but_not_inside_abbreviations():
    text = "Numbers shall include three fifths of all other Persons.The actual Enumeration shall be made by the U.S. Census, e.g. every ten Years."
    pieces = [text[s.start : s.end] for s in split_sentences(text)]
    assert pieces == [
        "Numbers shall include three fifths of all other Persons.",
        "The actual Enumeration shall be made by the U.S. Census, e.g. every ten Years.",
    ]


def test_list_items_in_paragraphs_of_their_own_carry_the_words_that_opened_the_list():
    """'To coin Money;' means nothing to the model without 'The Congress shall have Power'."""
    text = (
        "ARTICLE I\n\nSECTION. 8. The Congress shall have Power To lay and collect Taxes;\n\n"
        "To coin Money, regulate the Value thereof;\n\nTo declare War.\n\nSECTION. 9. No Bill of Attainder shall be passed."
    )
    by_start = {text[c.start : c.end]: c for c in chunk_text(text, "d")}
    coin = by_start["To coin Money, regulate the Value thereof;"]
    assert coin.heading == "ARTICLE I · SECTION. 8. The Congress shall have Power To …"
    assert coin.embed_text.startswith("ARTICLE I · SECTION. 8. The Congress shall have Power")
    assert by_start["To declare War."].heading == coin.heading
    assert by_start["SECTION. 9. No Bill of Attainder shall be passed."].heading == "ARTICLE I"


def test_windows_respect_the_character_cap():
    text = " ".join(f"Sentence number {i} says something about muscles and cramps." for i in range(30))
    settings = ChunkingSettings(max_chars=150)
    for chunk in chunk_text(text, "d", settings):
        assert len(chunk.sentences) == 1 or len(chunk.text) <= 150


@pytest.mark.parametrize("text", ["", "   \n\n  ", "\n"])
def test_empty_text_gives_no_chunks(text):
    assert chunk_text(text, "d") == []


def test_settings_round_trip_through_the_manifest():
    settings = ChunkingSettings(max_sentences=2, max_chars=300)
    assert ChunkingSettings.from_dict(settings.to_dict()) == settings


CODE_DOC = """# Points

A point is made from two numbers:

```python
# point is an (x, y) tuple
point = (3, 4)

print(point)
```

Distances are measured from the origin.
"""


def test_fenced_code_is_one_quotable_block_and_its_comments_are_not_headings():
    blocks = split_blocks(CODE_DOC)
    code = [b for b in blocks if b.kind == "code"]
    assert len(code) == 1 and not code[0].is_heading
    assert CODE_DOC[code[0].start : code[0].end] == "# point is an (x, y) tuple\npoint = (3, 4)\n\nprint(point)"
    chunks = chunk_text(CODE_DOC, "d")
    assert all(c.heading == "Points" for c in chunks), "a # comment in code is never a heading"
    assert any(c.text == "# point is an (x, y) tuple\npoint = (3, 4)\n\nprint(point)" for c in chunks), (
        "short code stays whole"
    )
    assert not any("```" in c.text for c in chunks), "fence lines are never quoted"
    assert any(c.text == "Distances are measured from the origin." and c.heading == "Points" for c in chunks)


def test_long_code_is_cut_between_whole_lines_within_the_chunk_size():
    lines = [f"    value_{n} = compute(value_{n - 1}, step={n})" for n in range(1, 40)]
    text = "Setup\n\n```\n" + "\n".join(lines) + "\n```\n"
    settings = ChunkingSettings()
    chunks = chunk_text(text, "d", settings)
    assert chunks and all(len(c.text) <= settings.max_chars for c in chunks)
    code_lines = {line.strip() for line in lines}
    for chunk in chunks:
        assert all(line.strip() in code_lines for line in chunk.text.split("\n")), "no line is cut in two"


def test_each_table_row_is_a_sentence_so_one_row_can_be_found():
    text = "## Expenses\n\nItem | Rate\nMileage rate | 0.30 euros per km\nMeals | 12 euros a day\n"
    blocks = split_blocks(text)
    assert [b.kind for b in blocks] == ["text", "table"]
    rows = [text[s.start : s.end] for s in split_sentences(text)]
    assert rows == ["Item | Rate", "Mileage rate | 0.30 euros per km", "Meals | 12 euros a day"]
    single = [c for c in chunk_text(text, "d") if len(c.sentences) == 1]
    assert any(c.text == "Mileage rate | 0.30 euros per km" and c.heading == "Expenses" for c in single)


def test_a_markdown_list_of_in_page_links_is_a_table_of_contents_and_never_quoted():
    text = (
        "## FAQ\n\n* [How do I search compressed files?](#compressed)\n* [How is ripgrep licensed?](#license)\n\n"
        "### How do I search compressed files?\n\nUse the -z/--search-zip flag.\n"
    )
    assert [b.kind for b in split_blocks(text)][1] == "links"
    chunks = chunk_text(text, "faq.md")
    assert [c.text for c in chunks] == ["Use the -z/--search-zip flag."]
