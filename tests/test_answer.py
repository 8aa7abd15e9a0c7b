"""Answer composition with plain values: no store, no model, only chunks, scores and texts."""

from __future__ import annotations

import pytest

from bot.answer import ABSTAIN_MESSAGE, SourceText, compose, expand_span, relevance_label
from bot.retrieval import Candidate
from indexer.calibration import UNCALIBRATED_NOISE, Calibration
from indexer.chunking import Chunk, chunk_text, split_sentences

TEXT = (
    "Leg Cramps\n\n"
    "A leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes. "
    "Stretching the calf gently can relieve a leg cramp.\n\n"
    "Drinking enough water during long exercise helps to prevent cramps in the legs.\n"
)
DOC = "cramps.txt"
MIN_SCORE = 0.3


def _documents() -> dict[str, SourceText]:
    return {DOC: SourceText(TEXT, split_sentences(TEXT), source="corpus/cramps.txt", title="Cramps")}


def _chunk(first: str, last: str | None = None) -> Chunk:
    """The chunk of ``chunk_text`` from the sentence that opens with ``first`` to the one that opens with ``last``."""
    start = TEXT.index(first)
    end = next(s.end for s in split_sentences(TEXT) if s.start == TEXT.index(last or first))
    return next(c for c in chunk_text(TEXT, DOC) if (c.start, c.end) == (start, end))


def _candidate(chunk: Chunk, dense: float) -> Candidate:
    return Candidate(chunk, dense, 0.0, dense)


def _compose(candidates, k=3, chars=400, sentence_scores=None):
    return compose(
        "q?", candidates, _documents(), MIN_SCORE, k=k, passage_chars=chars, sentence_scores=sentence_scores or {}
    )


def test_abstains_when_the_best_candidate_is_under_the_threshold():
    answer = _compose([_candidate(_chunk("A leg cramp is"), 0.29)])
    assert answer.abstained and answer.message == ABSTAIN_MESSAGE and not answer.passages
    assert _compose([]).abstained
    assert not _compose([_candidate(_chunk("A leg cramp is"), 0.31)]).abstained


def test_the_bar_is_the_same_whatever_the_documents():
    answer = compose(
        "q?",
        [_candidate(_chunk("A leg cramp is"), 0.35)],
        _documents(),
        0.4,
        k=3,
        passage_chars=400,
        sentence_scores={},
    )
    assert answer.abstained


def test_passages_are_exact_slices_grown_to_the_paragraph_and_labelled():
    answer = _compose([_candidate(_chunk("It usually passes"), 0.6)])
    (passage,) = answer.passages
    assert passage.text == TEXT[passage.start : passage.end]
    assert passage.text.startswith("A leg cramp is") and passage.text.endswith(
        "relieve a leg cramp."
    )  # the whole paragraph
    assert (passage.source, passage.title, passage.document) == ("corpus/cramps.txt", "Cramps", DOC)
    assert passage.relevance == "high"  # 0.6 - 0.3 >= 0.25
    assert passage.best_sentence.text == "It usually passes within minutes."


def test_growth_stops_at_the_character_limit():
    (passage,) = _compose([_candidate(_chunk("It usually passes"), 0.6)], chars=80).passages
    assert passage.text == "It usually passes within minutes."  # either neighbour would pass 80 characters


def test_every_passage_shown_reaches_the_bar():
    first = _candidate(_chunk("A leg cramp is"), 0.6)
    weak = _candidate(_chunk("Drinking enough water"), 0.25)
    answer = _compose([first, weak], chars=60)
    assert [p.text[:14] for p in answer.passages] == ["A leg cramp is"]
    answer = _compose([first, _candidate(weak.chunk, 0.31)], chars=60)
    assert [p.text[:14] for p in answer.passages] == ["A leg cramp is", "Drinking enoug"]


def test_two_candidates_that_touch_in_one_paragraph_become_one_passage_in_the_first_place():
    first = _candidate(_chunk("A leg cramp is"), 0.7)
    other = _candidate(_chunk("Drinking enough water"), 0.5)
    touching = _candidate(_chunk("It usually passes", "Stretching the calf"), 0.4)
    answer = _compose([first, other, touching], chars=80)
    assert [p.text[:14] for p in answer.passages] == ["A leg cramp is", "Drinking enoug"]
    assert answer.passages[0].text.endswith("relieve a leg cramp.")
    assert answer.passages[0].best_sentence.text.startswith("A leg cramp is")  # the better-ranked part's emphasis


def test_the_emphasised_sentence_is_the_best_scored_sentence_of_the_window():
    window = _chunk("A leg cramp is", "It usually passes")
    ids = [f"{DOC}:{s}-{e}" for s, e in window.sentences]
    answer = _compose([_candidate(window, 0.6)], sentence_scores={ids[0]: 0.3, ids[1]: 0.5})
    assert answer.passages[0].best_sentence.text == "It usually passes within minutes."
    answer = _compose([_candidate(window, 0.6)], sentence_scores={ids[0]: 0.5, ids[1]: 0.3})
    assert answer.passages[0].best_sentence.text.startswith("A leg cramp is")


def test_a_stale_text_is_reported_as_an_index_mismatch():
    from indexer.stores import IndexMismatch

    chunk = _chunk("A leg cramp is")
    changed = {DOC: SourceText(TEXT.replace("sudden", "sharp!"), split_sentences(TEXT), source="x", title="x")}
    with pytest.raises(IndexMismatch, match="rebuild"):
        compose("q?", [_candidate(chunk, 0.6)], changed, MIN_SCORE, k=3, passage_chars=400, sentence_scores={})


def test_calibration_round_trips_through_the_manifest_form_and_says_when_it_is_missing():
    calibration = Calibration(
        noise_p95=0.31, neighbour_p10=0.7, probes=40, noise_mean=0.2, noise_std=0.05, noise_max=0.4
    )
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    missing = Calibration.from_dict({})
    assert missing.noise_p95 == UNCALIBRATED_NOISE and missing.neighbour_p10 is None and missing.method == "none"


def test_labels_follow_the_order_of_the_passages():
    window = [_candidate(_chunk("A leg cramp is"), 0.62), _candidate(_chunk("Drinking enough water"), 0.5)]
    scored = [Candidate(c.chunk, c.dense, 1.0, c.dense + 0.1 * i) for i, c in enumerate(reversed(window))]
    passages = _compose(sorted(scored, key=lambda c: c.score, reverse=True), chars=60).passages
    ranks = {"high": 2, "medium": 1, "low": 0}
    assert [ranks[p.relevance] for p in passages] == sorted((ranks[p.relevance] for p in passages), reverse=True)
    assert [relevance_label(m) for m in (0.3, 0.25, 0.2, 0.1, 0.05)] == ["high", "high", "medium", "medium", "low"]


def test_a_paragraph_that_ends_in_a_colon_grows_into_the_one_it_announces():
    text = (
        "Tables\n\n"
        "To get a list of all tables in the database, use the following SELECT command:\n\n"
        "SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name;\n\n"
        "An unrelated paragraph that must stay out of the quote.\n"
    )
    sentences = split_sentences(text)
    lead = next(s for s in sentences if text[s.start : s.end].startswith("To get"))
    start, end = expand_span(sentences, lead.start, lead.end, 400, text=text)
    assert text[start:end].endswith("ORDER BY name;")
    assert expand_span(sentences, lead.start, lead.end, 400) == (lead.start, lead.end)  # without the text: no crossing
    plain = next(s for s in sentences if text[s.start : s.end].startswith("SELECT"))
    assert expand_span(sentences, plain.start, plain.end, 400, text=text) == (
        plain.start,
        plain.end,
    )  # no colon, no crossing


@pytest.mark.parametrize(
    "question",
    [
        "How do I search compressed files?",
        '"How do I search compressed files?"',
        "<b>How do I search compressed files?</b>",
    ],
    ids=["plain", "in quotes", "kept in its markup tags"],
)
def test_a_paragraph_that_is_a_question_grows_into_its_answer(question):
    """A FAQ's question line matches the question; its answer is the paragraph after it."""
    text = (
        f"{question}\n\n"
        "Use the -z/--search-zip flag to search gzip, xz and bzip2 files.\n\n"
        "Licence terms are in the COPYING file.\n\n"
        "An unrelated paragraph that must stay out of the quote.\n"
    )
    sentences = split_sentences(text)
    asked = next(s for s in sentences if "compressed" in text[s.start : s.end])
    start, end = expand_span(sentences, asked.start, asked.end, 400, text=text)
    assert text[start:end].endswith("bzip2 files.")
    assert "Licence" not in text[start:end]  # one paragraph forward, not two
    answer = next(s for s in sentences if text[s.start : s.end].startswith("Use the"))
    assert expand_span(sentences, answer.start, answer.end, 400, text=text) == (answer.start, answer.end)
    licence = next(s for s in sentences if "Licence" in text[s.start : s.end])
    assert expand_span(sentences, licence.start, licence.end, 400, text=text) == (licence.start, licence.end)
    assert expand_span(sentences, asked.start, asked.end, 40, text=text) == (asked.start, asked.end)  # over budget


def test_the_emphasis_moves_from_a_lead_in_to_the_sentence_it_announces_but_not_onto_code():
    text = (
        "Errors\n\nThe errors that roll a transaction back include:\n\n"
        "A full disk rolls it back at once.\n\n"
        "Examples\n\nRun the following to see it:\n\n```\nPRAGMA max_page_count=1;\n```\n"
    )
    doc = "e.txt"
    documents = {doc: SourceText(text, split_sentences(text), source=doc, title="E")}
    chunks = chunk_text(text, doc)

    def emphasised(first: str) -> str:
        chunk = next(c for c in chunks if c.text.startswith(first) and len(c.sentences) == 1)
        answer = compose(
            "q?", [_candidate(chunk, 0.6)], documents, MIN_SCORE, k=1, passage_chars=400, sentence_scores={}
        )
        return answer.passages[0].best_sentence.text

    assert emphasised("The errors that roll") == "A full disk rolls it back at once."
    assert emphasised("Run the following") == "Run the following to see it:", "code after a lead-in is an example"


LIST = "Common causes · Physical activity. Lactic acid builds up in working muscles. · Stress and anxiety. Cramps are usually harmless.\n"


def _compose_list(*firsts_and_scores: tuple[str, float], chars: int = 55):
    documents = {"list.txt": SourceText(LIST, split_sentences(LIST), source="corpus/list.txt", title="List")}
    chunks = {c.text: c for c in chunk_text(LIST, "list.txt")}
    candidates = [
        _candidate(next(c for text, c in chunks.items() if text.startswith(first) and text.endswith(".")), score)
        for first, score in firsts_and_scores
    ]
    return compose("q?", candidates, documents, MIN_SCORE, k=3, passage_chars=chars, sentence_scores={})


def test_a_quote_of_a_list_item_starts_with_its_words_not_its_bullet():
    (passage,) = _compose_list(("· Stress and anxiety. Cramps are usually harmless.", 0.7)).passages
    assert passage.text == "Stress and anxiety. Cramps are usually harmless."
    assert LIST[passage.start : passage.end] == passage.text
    assert passage.start <= passage.best_sentence.start < passage.best_sentence.end <= passage.end


def test_two_quotes_with_only_a_bullet_between_them_still_become_one():
    (passage,) = _compose_list(
        ("Lactic acid builds up in working muscles.", 0.7), ("· Stress and anxiety. Cramps", 0.5)
    ).passages
    assert (
        passage.text == "Lactic acid builds up in working muscles. · Stress and anxiety. Cramps are usually harmless."
    )
