"""Which questions the English-only model is spared: other languages and scripts, never English."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.language import foreign_language, reads_english_only

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "question",
    [
        "¿Qué es un calambre muscular?",
        "Por qué tengo calambres por la noche?",
        "Wie kann ich Krämpfe vermeiden?",
        "Was sind die Ursachen von Krämpfen?",
        "Quels sont les symptômes?",
        "Wat is een spierkramp?",
        "肌肉痉挛是什么？",
        "Мышечный спазм это что?",
    ],
)
def test_questions_in_other_languages_are_recognised(question):
    assert foreign_language(question)


@pytest.mark.parametrize(
    "question", ["What is la niña?", "Is a leg cramp das Ende?", "Who was Señor Díaz?", "naïve résumé?", "Krampf"]
)
def test_english_questions_with_foreign_words_stay_english(question):
    assert foreign_language(question) is None


def test_no_question_of_the_evaluation_sets_is_taken_for_another_language():
    items = [
        json.loads(line)
        for path in sorted((ROOT / "eval").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    questions = [q for item in items if "q" in item for q in [item["q"], *item.get("history", [])]]
    assert len(questions) > 200
    assert [q for q in questions if foreign_language(q)] == []


def test_only_english_models_are_checked():
    assert reads_english_only("all-MiniLM-L6-v2") and reads_english_only("sentence-transformers/all-MiniLM-L6-v2")
    assert not reads_english_only("paraphrase-multilingual-MiniLM-L12-v2")
