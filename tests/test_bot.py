"""The bot with the fake embedder: verbatim quotes, abstention, dedup, bad questions, index checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer import ABSTAIN_MESSAGE, continues, expand_span, is_near_duplicate, join, select_passages
from bot.bot import Bot, clean_question
from bot.retrieval import Candidate, contextualize
from indexer.build import build_corpus
from indexer.chunking import Chunk, split_sentences
from indexer.settings import Settings
from indexer.stores import IndexMismatch, IndexMissing
from indexer.stores.faiss import FaissStore
from tests.fakes import FakeEmbedder


@pytest.fixture
def bot(small_corpus: Path, tmp_path: Path) -> Bot:
    store = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, store, FakeEmbedder())
    # The bar for answering is a property of the model: hashed words in 64 dimensions collide more
    # often than all-MiniLM-L6-v2's vectors agree by chance, so the fake model's bar is higher.
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", model="fake-hash-64", min_score=0.5)
    return Bot(store, FakeEmbedder(), settings=settings)


def _source(small_corpus: Path, name: str) -> str:
    return (small_corpus / name).read_bytes().decode("utf-8")


def test_every_quote_is_the_exact_slice_of_its_source(bot, small_corpus):
    for question in ["What is a leg cramp?", "What causes cramps?", "How much sleep do adults need?"]:
        answer = bot.ask(question)
        assert not answer.abstained, question
        for p in answer.passages:
            assert _source(small_corpus, p.document)[p.start : p.end] == p.text
            assert p.start <= p.best_sentence.start < p.best_sentence.end <= p.end
            assert p.text[p.best_sentence.start - p.start : p.best_sentence.end - p.start] == p.best_sentence.text


def test_the_passage_that_answers_comes_first(bot):
    answer = bot.ask("How many hours of sleep do adults need each night?")
    assert "seven to nine hours" in answer.passages[0].text
    assert answer.passages[0].document == "sleep.md"


def test_unrelated_question_abstains_plainly(bot):
    answer = bot.ask("Who won the football world cup in Brazil?")
    assert answer.abstained
    assert answer.message == ABSTAIN_MESSAGE
    assert answer.passages == ()


def test_suggestions_leave_out_questions_already_asked_in_the_conversation(bot):
    from indexer.loaders import CorpusInfo

    asked = "What causes cramps?"
    bot.info = CorpusInfo(
        examples=(asked, "How much sleep do adults need?", "What is a leg cramp?", "Why do we dream?")
    )
    off_topic = "Who won the football world cup in Brazil?"
    assert asked in bot.ask(off_topic).suggestions
    answer = bot.ask(off_topic, history=[asked])
    assert answer.abstained and asked not in answer.suggestions and len(answer.suggestions) == 3


def test_a_repeated_sentence_is_quoted_once(bot):
    answer = bot.ask("sudden painful tightening of the calf muscle", k=5)
    repeated = "A leg cramp is a sudden painful tightening of the calf muscle."
    assert sum(p.text.count(repeated) for p in answer.passages) == 1


def test_passages_never_overlap(bot):
    answer = bot.ask("leg cramp calf stretching dehydration magnesium", k=5)
    spans = sorted((p.document, p.start, p.end) for p in answer.passages)
    for (d1, _, e1), (d2, s2, _) in zip(spans, spans[1:]):
        assert d1 != d2 or e1 <= s2


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", None])
def test_empty_question_gets_a_clear_message(bot, question):
    answer = bot.ask(question)
    assert answer.abstained and answer.message == "Please type a question."


def test_too_long_question_is_refused_with_the_limit(bot):
    answer = bot.ask("cramp " * 1000)
    assert answer.abstained
    assert "limit is 1000" in answer.message


def test_control_characters_are_stripped_and_unicode_kept():
    assert clean_question("leg\x00 cramp\x1b\n  ok 🙂 مرحبا") == "leg cramp ok 🙂 مرحبا"


def test_answer_json_has_the_documented_fields(bot):
    data = bot.ask("What is a leg cramp?").to_dict()
    assert set(data) == {"question", "abstained", "message", "passages", "notice", "suggestions", "searched_as"}
    passage = data["passages"][0]
    assert set(passage) >= {
        "text",
        "source",
        "document",
        "title",
        "start",
        "end",
        "score",
        "relevance",
        "best_sentence",
        "location",
    }
    assert set(passage["best_sentence"]) == {"start", "end", "text"}


def test_bot_refuses_an_index_built_with_another_model(small_corpus, tmp_path):
    store = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, store, FakeEmbedder(name="model-a"))
    with pytest.raises(IndexMismatch, match="model-a.*model-b.*python -m indexer build"):
        Bot(store, FakeEmbedder(name="model-b")).check_index()


def test_bot_on_a_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexMissing, match="python -m indexer build"):
        Bot(FaissStore(tmp_path / "nothing"), FakeEmbedder()).check_index()


def test_follow_up_is_read_with_the_previous_question():
    assert (
        contextualize("What about treatment?", ["What causes cramps?"]) == "What causes cramps? What about treatment?"
    )
    assert contextualize("How much sleep does an adult need every night?", ["What causes cramps?"]).startswith(
        "How much"
    )
    assert contextualize("What about treatment?", []) == "What about treatment?"


def test_a_self_contained_how_question_is_not_read_as_a_follow_up():
    history = ["How do I stop a cramp?", "and what causes them?"]
    assert (
        contextualize("How many mg of magnesium should I take?", history) == "How many mg of magnesium should I take?"
    )
    assert contextualize("Why do cramps happen at night?", ["What is a spasm?"]) == "Why do cramps happen at night?"


@pytest.mark.parametrize(
    ("question", "previous"),
    [
        ("What causes muscle cramps?", "What is dystonia?"),
        ("What is spasticity?", "Does twitching mean my ALS is the fast kind?"),
        ("What is tetany?", "How do I stop a cramp?"),
        ("Should I run NetworkManager on a server?", "What's the iproute2 replacement for ifconfig?"),
    ],
)
def test_a_short_question_on_a_new_topic_is_searched_alone(question, previous):
    assert contextualize(question, [previous]) == question


@pytest.mark.parametrize(
    "question",
    [
        "Is it permanent?",
        "and for fish?",
        "what about on ethernet?",
        "in the shoulder?",
        "When should I worry about them?",
        "Is that normal?",
    ],
)
def test_a_real_ellipsis_takes_the_previous_question(question):
    assert contextualize(question, ["What is a cramp?"]) == f"What is a cramp? {question}"


def test_a_chain_of_follow_ups_keeps_the_topic_of_the_question_that_started_it():
    history = ["How do I stop a cramp?", "and what causes them?"]
    assert (
        contextualize("what about at night?", history)
        == "How do I stop a cramp? and what causes them? what about at night?"
    )
    assert contextualize("and then?", ["a", "b", "c", "d", "e"]) == "c d e and then?"  # three questions back at most


def test_follow_up_through_ask_uses_history(bot):
    answer = bot.ask("and the causes?", history=["Tell me about leg cramps"])
    assert answer.searched_as == "Tell me about leg cramps and the causes?"
    assert not answer.abstained


def test_near_duplicate_detection():
    assert is_near_duplicate(
        "Muscle cramps are when a muscle gets tight.", "muscle cramps are when a muscle gets tight"
    )
    assert not is_near_duplicate("Muscle cramps are when a muscle gets tight.", "Sleep needs a dark and quiet bedroom.")


def test_a_restated_clause_with_changed_words_is_no_duplicate():
    """The 17th amendment restates Article I with the answer changed: both must be quotable."""
    original = "The Senate shall be composed of two Senators from each State, chosen by the Legislature thereof, for six Years."
    amended = (
        "The Senate shall be composed of two Senators from each State, elected by the people thereof, for six years."
    )
    assert not is_near_duplicate(original, amended)
    assert is_near_duplicate(original, "-- " + original.replace("\n", " "))


def _chunk(doc: str, start: int, end: int) -> Chunk:
    text = f"{doc} words {start} to {end}"
    return Chunk(f"{doc}:{start}-{end}", doc, start, end, text, "", 0, ((start, end),))


def test_select_passages_skips_overlaps_and_keeps_order():
    cands = [
        Candidate(_chunk("a", 0, 10), 0.9, 0, 0.9),
        Candidate(_chunk("a", 5, 15), 0.8, 0, 0.8),
        Candidate(_chunk("b", 5, 15), 0.7, 0, 0.7),
    ]
    chosen = select_passages(cands, 3)
    assert [c.chunk.id for c in chosen] == ["a:0-10", "b:5-15"]


def test_expand_span_stays_in_its_paragraph_and_under_the_cap():
    first, second = "Cramps come on fast and hurt a lot.", "Stretching the muscle gently helps it relax."
    text = f"{first} {second}\n\nSleep needs a dark and quiet bedroom at night."
    sentences = split_sentences(text, None)
    end_first = len(first)
    start, end = expand_span(sentences, 0, end_first, 200)
    assert text[start:end] == f"{first} {second}"
    assert expand_span(sentences, 0, end_first, 40) == (0, end_first)
    assert expand_span(sentences, 0, end_first, 200, taken=[(end_first + 1, end)]) == (0, end_first)


def test_expand_span_does_not_grow_back_into_a_sentence_the_source_cut_at_its_start():
    cut, whole = (
        "muscles to painful and uncontrollable spasms.",
        "Pain or tightness in joints is also common in spasticity.",
    )
    text = f"{cut} {whole} Heat helps the muscle relax after a spasm."
    sentences = split_sentences(text, None)
    assert sentences[0].truncated_start
    start = len(cut) + 1
    grown_start, grown_end = expand_span(sentences, start, start + len(whole), 400)
    assert grown_start == start and grown_end == len(text)


def test_definition_questions_find_the_term_and_its_definition():
    from bot.retrieval import defined_term, defines

    assert defined_term("What is a muscle spasm?") == "muscle spasm"
    assert defined_term("what's tetany") == "tetany"
    assert defined_term("What causes cramps?") is None
    assert defines("A muscle spasm (also called a cramp) is an involuntary contraction.", "muscle spasm")
    assert defines("Muscle spasms are involuntary muscle contractions.", "muscle spasm")
    assert not defines("The muscles are trying to protect themselves from muscle strain.", "muscle spasm")


def test_a_document_changed_by_another_process_is_quoted_from_its_new_text(bot, small_corpus, tmp_path):
    """The app keeps running while `python -m indexer build` re-indexes an edited document."""
    assert not bot.ask("How much sleep do adults need?").abstained  # texts and sentences now cached
    (small_corpus / "sleep.md").write_text(
        "# Sleep\n\nMost adults need between seven and nine hours of sleep every single night to stay well.\n",
        encoding="utf-8",
    )
    build_corpus(small_corpus, FaissStore(tmp_path / "index"), FakeEmbedder())  # another writer, same folder
    answer = bot.ask("How many hours of sleep do adults need every night?")
    assert not answer.abstained
    new_text = _source(small_corpus, "sleep.md")
    for p in answer.passages:
        assert _source(small_corpus, p.document)[p.start : p.end] == p.text
    assert any(p.document == "sleep.md" and p.text in new_text for p in answer.passages)


def _passage_at(bot: Bot, doc: str, start: int, end: int):
    from bot.answer import Highlight, Passage

    text, _ = bot._document(doc)
    return Passage(text[start:end], doc, doc, doc, start, end, 0.5, "high", Highlight(start, end, text[start:end]), "")


def test_two_quotes_that_touch_in_one_paragraph_are_shown_as_one(bot):
    text, sentences = bot._document("cramps.txt")
    first, second, third = [s for s in sentences if s.block == sentences[0].block][:3]
    doc, chars = bot._source("cramps.txt"), bot.settings.passage_chars
    shown = _passage_at(bot, "cramps.txt", first.start, first.end)
    touching = _passage_at(bot, "cramps.txt", second.start, third.end)
    assert continues(shown, touching, doc, chars) and continues(touching, shown, doc, chars)
    joined = join(shown, touching, doc)
    assert (joined.start, joined.end) == (first.start, third.end)
    assert joined.text == text[first.start : third.end] and joined.best_sentence == shown.best_sentence

    other_paragraph = next(s for s in sentences if s.block != first.block)
    assert not continues(shown, _passage_at(bot, "cramps.txt", other_paragraph.start, other_paragraph.end), doc, chars)
    assert not continues(
        shown, _passage_at(bot, "cramps.txt", third.start, third.end), doc, chars
    )  # a gap between them


def test_no_answer_shows_two_passages_that_continue_each_other(bot):
    for question in ["What is a leg cramp?", "What causes cramps?", "How do I relieve a cramp?", "How much sleep?"]:
        passages = bot.ask(question, k=5).passages
        pairs = [(a, b) for i, a in enumerate(passages) for b in passages[i + 1 :]]
        assert not any(continues(a, b, bot._source(a.document), bot.settings.passage_chars) for a, b in pairs), question
        assert not any(a.document == b.document and a.start < b.end and b.start < a.end for a, b in pairs), question


@pytest.mark.parametrize(
    "question",
    ["¿Qué es un calambre muscular?", "Was ist ein Muskelkrampf?", "肌肉痉挛是什么？", "Quels sont les symptômes?"],
)
def test_a_question_in_another_language_is_refused_with_a_message_that_says_so(small_corpus, tmp_path, question):
    from bot.language import LANGUAGE_MESSAGE

    store = FaissStore(tmp_path / "index")
    build_corpus(small_corpus, store, FakeEmbedder(name="all-MiniLM-L6-v2"))  # a model that reads English only
    bot = Bot(
        store,
        FakeEmbedder(name="all-MiniLM-L6-v2"),
        settings=Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index"),
    )
    answer = bot.ask(question)
    assert answer.abstained and answer.message == LANGUAGE_MESSAGE and not answer.passages
    assert not bot.ask("What is a leg cramp?").abstained  # English still answered
    assert not bot.ask("What is la niña, a leg cramp?").abstained  # a foreign word inside an English question


def test_a_model_that_reads_other_languages_gets_every_question(bot):
    from bot.language import LANGUAGE_MESSAGE

    assert bot.embedder.name == "fake-hash-64"
    assert bot.ask("Was ist ein Muskelkrampf?").message != LANGUAGE_MESSAGE


def test_adding_unrelated_documents_changes_no_answer_and_no_refusal(bot, small_corpus, tmp_path):
    """The bar for answering is the model's, not the index's: documents on other topics joining the
    index move neither the refusals nor the passages of questions about the documents already there."""
    questions = [
        "What is a leg cramp?",
        "What causes cramps?",
        "How do I relieve a cramp?",
        "How much sleep do adults need?",
        "How can I fall asleep faster?",
        "Is magnesium low in the blood a cause?",
        "Who won the football world cup in Brazil?",
        "What dose of quinine treats cramps?",
    ]

    def shown(answer):
        return answer.abstained, [
            (p.document, p.start, p.end, p.relevance, p.best_sentence.start) for p in answer.passages
        ]

    before = [shown(bot.ask(q)) for q in questions]
    assert any(a for a, _ in before) and not all(a for a, _ in before)  # both kinds are in the test
    (small_corpus / "astronomy.txt").write_text(
        "Jupiter has dozens of known moons orbiting it. Saturn's rings are made of ice and rock. "
        "A light year measures distance, not time.\n\nTelescopes gather light with mirrors or lenses.\n",
        encoding="utf-8",
    )
    (small_corpus / "baking.md").write_text(
        "# Bread\n\nSourdough rises with wild yeast from a starter. Knead the dough until it is smooth. "
        "Bake the loaf in a hot oven with steam for a crisp crust.\n",
        encoding="utf-8",
    )
    build_corpus(small_corpus, bot.store, FakeEmbedder())
    bot.changed()
    after = [shown(bot.ask(q)) for q in questions]
    assert after == before
