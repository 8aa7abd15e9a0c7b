"""Properties that hold for any input: the chunker's offsets and coverage, and a bot that never raises.

Hypothesis generates the texts: document-like ones built from words,
punctuation, headings, bullets, line endings and scripts of every direction,
and arbitrary Unicode (lone surrogates included for questions).

The chunker's coverage property, exactly: every non-space character outside a
heading block lies inside a sentence, and every sentence lies inside some chunk,
except a sentence the chunker never lets a window end on (one ending in ``?``,
or a cut-off fragment under 80 characters) when no longer window of its
snippet can carry it, such as a question closing a long paragraph. Such a
sentence is still shown in context by the bot, which grows quotes over it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.bot import Bot
from indexer.build import build_corpus
from indexer.chunking import ChunkingSettings, chunk_text, split_blocks, split_sentences
from indexer.settings import Settings
from indexer.stores.faiss import FaissStore
from tests.fakes import FakeEmbedder

TOKENS = [
    "word",
    "Cramp",
    "muscles",
    "the",
    "of",
    "a",
    "and",
    "your",
    "Heat",
    "stretch",
    "SECTION",
    ".",
    ". ",
    "! ",
    "? ",
    "?",
    "…",
    "; ",
    ": ",
    ", ",
    " ",
    "  ",
    "\t",
    "\u00a0",
    "\u2028",
    "\x0b",
    "\x1c",
    "\n",
    "\n\n",
    "\r\n",
    "\r\n\r\n",
    "\n \n",
    "# ",
    "## Title\n",
    "\n\n# Heading\n",
    "· ",
    "• ",
    '"',
    "”",
    "’",
    ")",
    "(",
    "שלום",
    "مرحبا بكم",
    "\u202e",
    "🙂",
    "👩‍⚕️",
    "漢字",
    "e\u0301",
    "ß",
    "A",
    "Z",
    "1.",
]
document_texts = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=150).map("".join),
    st.text(max_size=400),
)
chunking_settings = st.one_of(
    st.just(ChunkingSettings()),
    st.builds(
        ChunkingSettings,
        max_sentences=st.integers(1, 4),
        max_chars=st.integers(20, 500),
        min_sentence_chars=st.integers(1, 40),
        long_sentence_chars=st.integers(20, 400),
    ),
)
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _never_ends_a_window(text: str, sentence) -> bool:
    """The sentences the chunker keeps from ending a window (see ``_makes_a_passage``)."""
    body = text[sentence.start : sentence.end]
    return body.rstrip("\"'”’) ").endswith("?") or (sentence.truncated_end and len(body) < 80)


@FAST
@given(document_texts, chunking_settings)
@example(
    "Intro paragraph that is long enough to stand.\n\n# Sleep\nAdults need seven hours of sleep.", ChunkingSettings()
)
@example("Why? " * 3 + "Because it is. " * 10 + "Is it though?", ChunkingSettings(max_sentences=2))
def test_chunks_are_ordered_exact_slices_covering_the_text_outside_headings(text, config):
    chunks = chunk_text(text, "doc", config)
    assert [(c.start, c.end) for c in chunks] == sorted((c.start, c.end) for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text != ""
        assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
        assert all(chunk.start <= a < b <= chunk.end for a, b in chunk.sentences)

    in_heading = [False] * len(text)
    for block in split_blocks(text):
        if block.is_heading:
            in_heading[block.start : block.end] = [True] * (block.end - block.start)
    in_sentence = [False] * len(text)
    sentences = split_sentences(text, config)
    for s in sentences:
        in_sentence[s.start : s.end] = [True] * (s.end - s.start)
    stray = [i for i, ch in enumerate(text) if not ch.isspace() and not in_heading[i] and not in_sentence[i]]
    assert stray == [], f"characters in no sentence: {[text[i] for i in stray]}"

    in_chunk = [False] * len(text)
    for c in chunks:
        in_chunk[c.start : c.end] = [True] * (c.end - c.start)
    for s in sentences:
        if not all(in_chunk[s.start : s.end]):
            assert _never_ends_a_window(text, s), f"sentence in no chunk: {text[s.start : s.end]!r}"


@FAST
@given(
    st.lists(
        st.sampled_from(["Plain sentence one.", "Another line here.", "Body text, with a clause; it ends here."]),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["", " ", "\n", "Lead paragraph of the document.\n\n"]),
    st.sampled_from(["#", "##", "######"]),
)
def test_a_markdown_heading_line_is_context_never_part_of_a_quote(body, before, hashes):
    text = f"{before}{hashes} Sleep and rest\n" + "\n".join(body) + "\n"
    heading_at = text.index(hashes + " Sleep")
    chunks = chunk_text(text, "doc")
    assert chunks
    assert not any(c.start <= heading_at < c.end for c in chunks)
    assert all(c.heading == "Sleep and rest" for c in chunks if c.start > heading_at)


def test_markdown_heading_after_the_first_paragraph_starts_its_own_block():
    """Regression: ``^`` in the heading pattern never matched past position 0 of the text."""
    text = "Intro paragraph that is long enough to stand.\n\n# Sleep\nAdults need seven to nine hours of sleep."
    assert [b.is_heading for b in split_blocks(text)] == [False, True, False]
    last = chunk_text(text, "doc")[-1]
    assert last.text == "Adults need seven to nine hours of sleep." and last.heading == "Sleep"


# ---- the bot never raises ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Bot:
    root = tmp_path_factory.mktemp("property-bot")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "cramps.txt").write_text(
        "Leg Cramps\n\nA leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes. "
        "Stretching the calf gently can relieve a leg cramp.\n\nWhy do cramps happen at night? Nobody knows for sure.\n",
        encoding="utf-8",
    )
    (corpus / "sleep.md").write_text(
        "# Sleep\n\nAdults need seven to nine hours of sleep each night. מיטה שקטה עוזרת. 🙂 Un dormitorio oscuro ayuda.\n",
        encoding="utf-8",
    )
    store = FaissStore(root / "index")
    build_corpus(corpus, store, FakeEmbedder())
    return Bot(
        store, FakeEmbedder(), settings=Settings(corpus_dir=corpus, index_dir=root / "index", model="fake-hash-64")
    )


any_unicode = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)  # lone surrogates too
questions = st.one_of(
    any_unicode,
    st.lists(
        st.sampled_from(TOKENS + ["leg cramp", "sleep", "calf", "<script>alert(1)</script>", "\x00", "\ud800"]),
        max_size=40,
    ).map("".join),
)
# Whatever JSON an API client sends: a string, a number, a list where a count or a list belongs.
histories = st.one_of(st.none(), st.lists(st.one_of(any_unicode, st.none()), max_size=4), st.integers(), any_unicode)
ks = st.one_of(st.none(), st.integers(-3, 50), st.floats(), st.text(max_size=4), st.lists(st.integers(), max_size=2))
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@FAST
@given(questions, histories, ks)
@example("", None, None)
@example("   \t\n  ", None, None)
@example("cramp " * 20_000, None, None)  # 120,000 characters
@example("x" * 100_000, None, None)
@example("leg\x00cramp\x00\x00", None, None)
@example("מה עוזר לישון טוב? ما الذي يساعد؟", None, None)
@example("\u202eprmac gel\u202c why?", ["What is a leg cramp?"], 3)
@example("🙂🙂🙂 👩‍⚕️ sleep 😴", None, 1)
@example("\ud800", None, None)
@example("leg cramp \udfff calf", ["\ud83d", None, "x" * 100_000], 10)
@example("What relieves a leg cramp?", None, 0)
@example("What relieves a leg cramp?", 5, "abc")
@example("What relieves a leg cramp?", None, float("nan"))
@example("What relieves a leg cramp?", None, [3])
@example("What relieves a leg cramp?", None, float("inf"))
def test_ask_never_raises_and_quotes_verbatim_or_abstains(bot, question, history, k):
    answer = bot.ask(question, history=history, k=k)
    if answer.abstained:
        assert answer.passages == () and answer.message
    else:
        assert 1 <= len(answer.passages) <= 10
        for p in answer.passages:
            assert bot.store.document_text(p.document)[p.start : p.end] == p.text
    assert not _UNSAFE.search(answer.question) and len(answer.question) <= bot.settings.max_question_chars
    assert answer.question == unicodedata.normalize("NFC", answer.question)
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # strict UTF-8: what the API sends


def test_bundled_corpus_keeps_every_statement_quotable():
    """The property on a real document: only questions and cut fragments may be left out of chunks."""
    text = (Path(__file__).resolve().parent.parent / "corpus" / "muscle_spasms.txt").read_text(encoding="utf-8")
    chunks = chunk_text(text, "muscle_spasms.txt")
    in_chunk = [False] * len(text)
    for c in chunks:
        in_chunk[c.start : c.end] = [True] * (c.end - c.start)
    left_out = [s for s in split_sentences(text) if not all(in_chunk[s.start : s.end])]
    assert all(_never_ends_a_window(text, s) for s in left_out)
