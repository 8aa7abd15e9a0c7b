"""Example questions and a title derived from the documents (``bot.examples``), on the fake embedder."""

from __future__ import annotations

import pytest

from bot import examples
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.settings import Settings
from indexer.stores import open_store

CRAMPS = (
    "Leg Cramps\n\n"
    "A leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes.\n\n"
    "What are the causes of leg cramps? · Dehydration · Low magnesium levels · Long hours of standing\n\n"
    "Stretching the calf can relieve a leg cramp.\n\n"
    "How long does a cramp last? Most cramps stop within ten minutes.\n"
)


@pytest.mark.parametrize(
    ("heading", "question"),
    [
        ("How to oil a bicycle chain", "How do I oil a bicycle chain?"),
        ("Causes of Leg Cramps", "What are the causes of leg cramps?"),
        ("Treatment of dystonia", "What is the treatment of dystonia?"),
        ("2.1 Garden Roses", "What are garden roses?"),
        ("Why Do Muscle Spasms Occur?", "Why Do Muscle Spasms Occur?"),
        ("NASA Missions", "What are NASA missions?"),
        ("Introduction", None),
        ("A heading that is far too long to be the name of any topic at all", None),
    ],
)
def test_a_heading_becomes_the_question_it_announces(heading, question):
    assert examples.heading_question(heading) == question


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        ("A muscle spasm refers to a sudden, involuntary contraction.", "What is a muscle spasm?"),
        ("Dystonia is a movement disorder.", "What is dystonia?"),
        ("Low magnesium can cause cramps.", "Can low magnesium cause cramps?"),
        ("A hard lump may form in the muscle.", "Can a hard lump form in the muscle?"),
        ("Stretching the calf can relieve a leg cramp.", "Can stretching the calf relieve a leg cramp?"),
        ("It can last for hours.", None),  # leans on the sentence before: its question names nothing
        ("What is more, the muscle is tight.", None),
        ("Adults need seven to nine hours of sleep each night.", None),  # no shape we can turn
    ],
)
def test_a_central_statement_becomes_the_question_it_answers(sentence, question):
    assert examples.statement_question(sentence) == question


def test_a_list_of_causes_answers_a_yes_no_question_per_item():
    found = [q for q, _, _ in examples.cause_questions(CRAMPS)]
    assert found == [
        "Can dehydration cause leg cramps?",
        "Can low magnesium levels cause leg cramps?",
        "Can long hours of standing cause leg cramps?",
    ]
    for question, start, end in examples.cause_questions(CRAMPS):
        assert question.split()[1].lower() in CRAMPS[start:end].lower()  # offsets point at the item


def test_documents_own_questions_are_kept_as_written():
    assert [q for q, _, _ in examples.own_questions(CRAMPS)] == [
        "What are the causes of leg cramps?",
        "How long does a cramp last?",
    ]


def test_candidates_interleave_documents_and_kinds():
    texts = {"a.txt": "What is alpha? Alpha is first.\n", "b.txt": "What is beta? Beta is second.\n"}
    statements = {"a.txt": [("Alpha is a letter.", 0, 5)], "b.txt": [("Beta is a letter.", 0, 5)]}
    found = examples.derive(texts, {}, statements)
    assert [c.question for c in found] == ["What is alpha?", "What is beta?"]  # "What is alpha?" twice: once
    assert [c.document for c in found] == ["a.txt", "b.txt"]


def test_collection_title_comes_from_the_documents():
    assert examples.collection_title(["Leg cramps"]) == "Leg cramps"
    assert examples.collection_title(["Roses", "Tea"]) == "Roses and Tea"
    assert examples.collection_title(["Roses", "Tea", "Bikes", "Sleep"]) == "Roses, Tea and 2 more documents"
    assert examples.collection_title([], fallback="Mydocs") == "Mydocs"


@pytest.fixture
def bot(tmp_path, fake_embedder) -> Bot:
    corpus = tmp_path / "mydocs"
    corpus.mkdir()
    (corpus / "cramps.txt").write_text(CRAMPS, encoding="utf-8")
    (corpus / "sleep.md").write_text(
        "# Sleep\n\nAdults need seven to nine hours of sleep each night. "
        "A dark and quiet bedroom helps people fall asleep faster.\n",
        encoding="utf-8",
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_corpus(corpus, open_store("faiss", index_dir=settings.index_dir), fake_embedder)
    return Bot.load(settings, embedder=fake_embedder)


def test_without_corpus_toml_the_bot_offers_questions_it_answers(bot):
    derived = bot.examples()
    assert len(derived) >= 3
    assert "Can low magnesium levels cause leg cramps?" in derived
    for question in derived:
        assert not bot.ask(question).abstained, question


def test_refusal_suggestions_are_derived_and_ranked_by_closeness_to_the_question(bot):
    answer = bot.ask("Is magnesium important?")
    assert answer.abstained
    assert answer.suggestions[0] == "Can low magnesium levels cause leg cramps?"
    other = bot.ask("Is a bedroom important?")
    assert other.abstained and other.suggestions[0] != answer.suggestions[0]


def test_corpus_toml_examples_win_over_derived_ones(bot):
    (bot.settings.corpus_dir / "corpus.toml").write_text('examples = ["Hand written?"]\n', encoding="utf-8")
    assert Bot.load(bot.settings, embedder=bot.embedder).examples() == ("Hand written?",)
