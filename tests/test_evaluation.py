"""The evaluation arithmetic, on a tiny hand-made set whose scores are worked out by hand."""

from __future__ import annotations

import json

import pytest

from bot.answer import Answer, Highlight, Passage
from bot.evaluation import EvalItem, emphasis_on_gold, evaluate, load_eval_set, score_answer, score_ranking


def _answer(question: str, texts: list[str]) -> Answer:
    passages = tuple(
        Passage(t, "s", "d", "t", 0, len(t), 1.0, "high", Highlight(0, len(t), t), "paragraph 1, line 1") for t in texts
    )
    return Answer(question, not texts, "" if texts else "The source text doesn't cover this.", passages)


def test_score_ranking_finds_the_first_passage_with_a_gold_span():
    assert score_ranking(["no", "yes here", "yes"], ["yes"]) == 2
    assert score_ranking(["no", "nope"], ["yes"]) is None
    assert score_ranking(["b a"], ["x", "a"]) == 1


def test_metrics_on_a_hand_made_set():
    items = [
        EvalItem("q1", ("alpha",)),  # right at rank 1
        EvalItem("q2", ("beta",)),  # right at rank 2
        EvalItem("q3", ("gamma",)),  # wrongly abstained
        EvalItem("q4", ("delta",)),  # not found in top 3
        EvalItem("u1", ()),  # correctly abstained
        EvalItem("u2", ()),  # answered: should have abstained
    ]
    replies = {
        "q1": ["alpha one", "x"],
        "q2": ["x", "beta two", "y"],
        "q3": [],
        "q4": ["x", "y", "z", "delta"],
        "u1": [],
        "u2": ["some text"],
    }
    report, results = evaluate(lambda q, h: _answer(q, replies[q]), items, k=3)
    assert report.answerable == 4 and report.unanswerable == 2
    assert report.hit_at_1 == pytest.approx(1 / 4)
    assert report.hit_at_3 == pytest.approx(2 / 4)
    assert report.mrr == pytest.approx((1 + 1 / 2) / 4)
    assert report.wrongly_abstained == pytest.approx(1 / 4)
    assert report.correctly_abstained == pytest.approx(1 / 2)
    shown = [9, 1, 1, 1, 8, 1, 1, 1, 9]  # passages of answered questions, top 3 each
    assert report.mean_passage_chars == pytest.approx(sum(shown) / len(shown))
    assert [r.rank for r in results] == [1, 2, None, None, None, None]


def test_eval_file_lines_and_errors(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"q": "a?", "gold": ["x"]}) + "\n\n" + json.dumps({"q": "b?"}) + "\n", encoding="utf-8")
    items = load_eval_set(path)
    assert [i.answerable for i in items] == [True, False]
    path.write_text('{"gold": ["x"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="set.jsonl:1"):
        load_eval_set(path)


@pytest.mark.parametrize("name", ["muscle_spasms.jsonl", "us_constitution.jsonl"])
def test_committed_eval_sets_have_verbatim_gold_spans(name):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = {
        "muscle_spasms.jsonl": root / "corpus" / "muscle_spasms.txt",
        "us_constitution.jsonl": root / "eval" / "constitution" / "us_constitution.txt",
    }[name]
    text = source.read_text(encoding="utf-8")
    items = load_eval_set(root / "eval" / name)
    assert sum(i.answerable for i in items) >= 40 and sum(not i.answerable for i in items) >= 15
    for item in items:
        for span in item.gold:
            assert span in text, (item.question, span)


def test_gold_spans_match_across_line_breaks_and_runs_of_spaces():
    assert score_ranking(["x", "the  supreme Law\nof the   Land"], ["supreme Law of the Land"]) == 2
    assert score_ranking(["the supreme Law of the Land"], ["supreme Law\n  of the Land"]) == 1


def test_precision_counts_right_passages_among_those_shown_and_near_far_are_apart():
    items = [
        EvalItem("q1", ("alpha",)),  # 2 of 3 shown are right
        EvalItem("q2", ("beta",)),  # 1 of 1 shown is right
        EvalItem("q3", ("gamma",)),  # abstained: not in precision
        EvalItem("n1", (), kind="near"),  # answered
        EvalItem("n2", (), kind="near"),  # abstained
        EvalItem("f1", (), kind="far"),  # abstained
    ]
    replies = {"q1": ["alpha", "x", "alpha again"], "q2": ["beta"], "q3": [], "n1": ["t"], "n2": [], "f1": []}
    report, results = evaluate(lambda q, h: _answer(q, replies[q]), items, k=3)
    assert report.precision == pytest.approx((2 / 3 + 1) / 2)
    assert (report.near, report.far) == (2, 1)
    assert report.near_abstained == pytest.approx(1 / 2) and report.far_abstained == pytest.approx(1.0)
    assert report.correctly_abstained == pytest.approx(2 / 3)
    assert [r.right for r in results] == [2, 1, 0, 0, 0, 0]
    assert "precision@3" in report.table() and "near misses abstained" in report.table()


def test_an_unknown_kind_is_refused_with_the_line(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"q": "a?", "kind": "nearby"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"set.jsonl:1.*near"):
        load_eval_set(path)
    path.write_text(json.dumps({"q": "a?", "kind": "near"}) + "\n", encoding="utf-8")
    assert load_eval_set(path)[0].kind == "near"


def test_emphasis_counts_only_right_first_passages_and_whether_the_emphasised_sentence_holds_the_answer():
    def passage(text: str, emphasised: str) -> Passage:
        start = text.index(emphasised)
        highlight = Highlight(start, start + len(emphasised), emphasised)
        return Passage(text, "s", "d", "t", 0, len(text), 0.9, "high", highlight, "")

    text = "Cramps are common. Stretch the calf to stop one."
    assert emphasis_on_gold(passage(text, "Stretch the calf to stop one."), ["Stretch the calf"])
    assert not emphasis_on_gold(passage(text, "Cramps are common."), ["Stretch the calf"])
    assert emphasis_on_gold(passage(text, "Cramps are common."), ["Cramps are common. Stretch"]), "inside a span"
    item = EvalItem("q", ("Stretch the calf",))
    right = Answer("q", False, "", (passage(text, "Cramps are common."),))
    wrong = Answer("q", False, "", (passage("Nothing here.", "Nothing here."),))
    assert score_answer(item, right).emphasis_right is False
    assert score_answer(item, wrong).emphasis_right is None, "a wrong first passage has no emphasis to judge"
