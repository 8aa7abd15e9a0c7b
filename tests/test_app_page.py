"""The page without a browser: rendering, escaping, event handlers, feedback, login and launch settings.

Fast: the bot runs on the fake embedder over a corpus the test writes.
"""

from __future__ import annotations

import json

import gradio as gr
import pytest

import app
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.settings import Settings
from indexer.stores import open_store
from quotebot_app import cli, feedback, guards, handlers, render
from tests.html_check import parse

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> ${alert(3)} {{value}} `x` &amp;'

# Tags the page itself writes; anything else in rendered HTML came from content and got through.
PAGE_TAGS = {"article", "div", "span", "p", "ol", "li", "blockquote", "strong", "button", "i", "svg", "path", "mark", "h2", "header", "h1"}


def passage(text: str = "One sentence. The best sentence here. Last one.", start: int = 100, **extra) -> dict:
    best_start = start + text.index("The best")
    best_end = best_start + len("The best sentence here.")
    data = {
        "text": text,
        "source": "corpus/doc.txt",
        "document": "doc.txt",
        "title": "A document",
        "start": start,
        "end": start + len(text),
        "score": 0.9321,
        "relevance": "high",
        "best_sentence": {"start": best_start, "end": best_end, "text": "The best sentence here."},
        "location": "paragraph 2, line 5",
        "heading": "",
    }
    data.update(extra)
    return data


def answer(**extra) -> dict:
    data = {
        "question": "What is it?",
        "abstained": False,
        "message": "",
        "passages": [passage()],
        "notice": "Not advice.",
        "suggestions": [],
        "searched_as": "What is it?",
    }
    data.update(extra)
    return data


# ---- rendering -------------------------------------------------------------------------------


def test_importing_the_app_builds_no_page():
    assert not any(isinstance(value, gr.Blocks) for value in vars(app).values())


def test_quote_emphasises_the_best_sentence_inside_the_passage():
    html = render.render_quote(passage())
    assert html == 'One sentence. <strong class="qb-best">The best sentence here.</strong> Last one.'


def test_quote_with_offsets_outside_the_passage_is_shown_plainly():
    broken = passage(best_sentence={"start": 5, "end": 2, "text": ""})
    assert render.render_quote(broken) == "One sentence. The best sentence here. Last one."


def test_reply_shows_citation_location_relevance_in_words_and_notice():
    html = render.render_conversation([{"answer": answer(), "vote": None}])
    text = " ".join(parse(html).text)
    assert "A document" in text and "paragraph 2, line 5" in text
    assert "High relevance" in text and "0.93" not in html
    assert "Not advice." in text
    assert 'data-action="cite"' in html and 'data-action="vote"' in html


def test_every_text_from_documents_and_users_is_escaped():
    hostile_passage = passage(text=f"Before. The best sentence here. {HOSTILE}", title=HOSTILE, location=HOSTILE)
    turns = [
        {"answer": answer(question=HOSTILE, passages=[hostile_passage], notice=HOSTILE), "vote": "up"},
        {"answer": answer(question=HOSTILE, abstained=True, passages=[], message=HOSTILE, suggestions=[HOSTILE]), "vote": None},
    ]
    rendered = [
        render.render_conversation(turns),
        render.render_conversation([], examples=[HOSTILE]),
        render.render_source(hostile_passage, "x" * 100 + hostile_passage["text"]),
        render.render_header(HOSTILE, HOSTILE),
    ]
    for markup in rendered:
        parsed = parse(markup)
        assert parsed.tags <= PAGE_TAGS, parsed.tags - PAGE_TAGS
        assert parsed.handlers == []
        assert "<script" not in markup and "<img" not in markup
        assert HOSTILE in "".join(parsed.text)  # shown as text, character for character


def test_a_follow_up_says_what_it_was_searched_as():
    follow_up = answer(question="And how is it treated?", searched_as="What is a muscle spasm? And how is it treated?")
    html = render.render_conversation([{"answer": follow_up, "vote": None}, {"answer": answer(), "vote": None}])
    searched = [line for line in parse(html).text if "Searched as" in line]
    assert searched == ["Searched as \u201cWhat is a muscle spasm? And how is it treated?\u201d"]
    assert html.count('class="qb-searched"') == 1  # not under a question searched as typed


def test_abstention_is_kind_and_offers_suggestions_as_buttons():
    turns = [{"answer": answer(abstained=True, passages=[], message="The source text doesn't cover this.", suggestions=["Q one?", "Q two?"]), "vote": None}]
    html = render.render_conversation(turns)
    assert "couldn't find this in the source text" in "".join(parse(html).text)
    assert html.count('data-action="suggest"') == 2 and "Q two?" in html


def test_empty_page_offers_the_examples():
    html = render.render_conversation([], examples=["First?", "Second?"])
    assert html.count('data-action="example"') == 2


def test_source_panel_marks_the_quote_inside_the_whole_document():
    doc = "Intro line.\n\n" + "x" * 87 + "One sentence. The best sentence here. Last one." + "\n\nThe end."
    p = passage()
    assert doc[p["start"] : p["end"]] == p["text"]
    html = render.render_source(p, doc)
    parsed = parse(html)
    assert "".join(parsed.text).endswith("The end.") and "Intro line." in html
    assert '<mark class="qb-span">One sentence. <strong class="qb-best">The best sentence here.</strong> Last one.</mark>' in html
    assert "has changed" not in html


def test_source_panel_says_when_the_document_changed():
    html = render.render_source(passage(), "completely different text " * 10)
    assert "has changed since this answer" in html


def test_source_panel_shows_a_window_of_a_very_long_document():
    p = passage(start=500_000)
    doc = "a" * 500_000 + p["text"] + "b" * 500_000
    html = render.render_source(p, doc, window=10_000)
    assert len(html) < 12_000 + 2_000
    assert "This document is long" in html and "<mark" in html


# ---- event handlers with a real bot on the fake embedder -------------------------------------


@pytest.fixture
def page(tmp_path, small_corpus, fake_embedder) -> handlers.Page:
    (small_corpus / "corpus.toml").write_text(
        'title = "Small"\nexamples = ["What is a leg cramp?", "How much sleep do adults need?"]\n', encoding="utf-8"
    )
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", feedback_path=tmp_path / "fb" / "f.jsonl")
    build_corpus(small_corpus, open_store("faiss", index_dir=settings.index_dir), fake_embedder)
    bot = Bot.load(settings, embedder=fake_embedder)
    return handlers.Page(bot, settings, feedback.FeedbackLog(settings.feedback_path))


def test_build_app_returns_blocks_with_the_ask_endpoint(page):
    blocks = app.build_app(page.bot, page.settings)
    assert isinstance(blocks, gr.Blocks)
    assert "ask" in {fn.api_name for fn in blocks.fns.values()}


def test_submit_answers_and_passes_previous_questions_as_history(page):
    html, turns, cleared = page.on_submit("What is a leg cramp?", 2, [])
    assert cleared == "" and len(turns) == 1 and "qb-quote" in html
    assert 1 <= len(turns[0]["answer"]["passages"]) <= 2
    html, turns, _ = page.on_submit("And the calf?", 2, turns)
    assert turns[1]["answer"]["searched_as"].startswith("What is a leg cramp?")


def test_empty_submit_changes_nothing(page):
    out = page.on_submit("   ", 3, [])
    assert out[1] == []


def test_suggestion_click_asks_the_suggested_question(page):
    _, turns, _ = page.on_submit("Who won the world cup?", 3, [])
    assert turns[0]["answer"]["abstained"] and turns[0]["answer"]["suggestions"]
    suggestion = turns[0]["answer"]["suggestions"][0]
    _, turns, _ = page.on_ask(3, turns, gr.EventData(None, {"kind": "suggest", "turn": 0, "index": 0}))
    assert turns[-1]["answer"]["question"] == suggestion


def test_example_click_asks_the_example(page):
    _, turns, _ = page.on_ask(3, [], gr.EventData(None, {"kind": "example", "turn": -1, "index": 1}))
    assert turns[0]["answer"]["question"] == "How much sleep do adults need?"


def test_clicks_with_bad_indices_are_ignored(page):
    for data in ({"kind": "example", "index": 99}, {"kind": "suggest", "turn": 5, "index": 0}, {}):
        out = page.on_ask(3, [], gr.EventData(None, data))
        assert out[1] == []
    assert isinstance(page.on_cite([], gr.EventData(None, {"turn": 0, "index": 0})), type(gr.skip()))


def test_cite_opens_the_document_at_the_quote(page):
    _, turns, _ = page.on_submit("What is a leg cramp?", 3, [])
    html = page.on_cite(turns, gr.EventData(None, {"turn": 0, "index": 0}))
    first = turns[0]["answer"]["passages"][0]
    assert "<mark" in html and first["title"] in html


def test_vote_appends_the_question_vote_and_passages_shown(page):
    _, turns, _ = page.on_submit("What is a leg cramp?", 3, [])
    html, turns = page.on_vote(turns, gr.EventData(None, {"turn": 0, "value": "down"}))
    assert turns[0]["vote"] == "down" and 'aria-pressed="true"' in html
    lines = page.settings.feedback_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[-1])
    assert entry["question"] == "What is a leg cramp?" and entry["vote"] == "down"
    page.on_vote(turns, gr.EventData(None, {"turn": 0, "value": "down"}))  # the same vote again: no new line
    page.on_vote(turns, gr.EventData(None, {"turn": 0, "value": "up"}))  # a changed mind: a new line
    assert len(page.settings.feedback_path.read_text(encoding="utf-8").splitlines()) == 2
    shown = turns[0]["answer"]["passages"]
    assert [(p["source"], p["start"], p["end"], p["text"]) for p in entry["passages"]] == [
        (p["source"], p["start"], p["end"], p["text"]) for p in shown
    ]


def test_api_ask_returns_the_answer_schema(page):
    data = page.api_ask("What is a leg cramp?", 1, ["earlier question"])
    assert set(data) == {"question", "abstained", "message", "passages", "notice", "suggestions", "searched_as"}
    assert len(data["passages"]) == 1


def test_feedback_log_rejects_unknown_votes(tmp_path):
    log = feedback.FeedbackLog(tmp_path / "new" / "folder" / "f.jsonl")
    log.append(answer(), "up")
    log.append(answer(), "down")
    assert len(log.path.read_text(encoding="utf-8").splitlines()) == 2
    with pytest.raises(ValueError):
        log.append(answer(), "sideways")


# ---- login and serving -----------------------------------------------------------------------


def test_login_from_environment_and_file(tmp_path):
    assert guards.load_auth({}) is None
    assert guards.load_auth({"QUOTEBOT_AUTH": "ann:pa:ss"}) == [("ann", "pa:ss")]
    path = tmp_path / "logins"
    path.write_text("# owners\nbob:secret\n\ncarol:other\n", encoding="utf-8")
    assert guards.load_auth({"QUOTEBOT_AUTH_FILE": str(path)}) == [("bob", "secret"), ("carol", "other")]


@pytest.mark.parametrize("content", ["bob\n", ":secret\n", "bob:\n", "# only a comment\n"])
def test_malformed_login_file_is_refused_with_the_line(tmp_path, content):
    path = tmp_path / "logins"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(guards.AuthError, match="logins"):
        guards.load_auth({"QUOTEBOT_AUTH_FILE": str(path)})


def test_missing_login_file_is_refused(tmp_path):
    with pytest.raises(guards.AuthError, match="cannot read"):
        guards.load_auth({"QUOTEBOT_AUTH_FILE": str(tmp_path / "nope")})


def test_listening_beyond_this_machine_without_login_warns():
    assert guards.exposure_warning("127.0.0.1", None) is None
    assert guards.exposure_warning("localhost", None) is None
    assert guards.exposure_warning("::1", None) is None
    assert "QUOTEBOT_AUTH" in guards.exposure_warning("0.0.0.0", None)
    assert guards.exposure_warning("0.0.0.0", [("a", "b")]) is None


def test_launch_settings_are_safe_by_default(tmp_path):
    settings = Settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i", feedback_path=tmp_path / "fb" / "f.jsonl")
    kwargs = cli.launch_kwargs(settings, None)
    assert kwargs["server_name"] == "127.0.0.1" and kwargs["server_port"] == 7860
    assert kwargs["share"] is False and kwargs["allowed_paths"] == []
    assert kwargs["max_file_size"] == "20mb"
    assert kwargs["enable_monitoring"] is False and kwargs["mcp_server"] is False
    assert set(kwargs["blocked_paths"]) == {str((tmp_path / d).resolve()) for d in ("c", "i", "fb")}


def test_main_explains_a_missing_corpus(tmp_path, capsys):
    code = app.main(["--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_main_refuses_a_malformed_login_before_loading_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QUOTEBOT_AUTH", "no-colon")
    code = app.main(["--corpus", str(tmp_path), "--index", str(tmp_path / "index")])
    assert code == 2
    assert "QUOTEBOT_AUTH" in capsys.readouterr().err


def test_source_panel_names_the_document_not_its_server_path():
    html = render.render_source(passage(source="/srv/secret/place/doc.txt"), "x" * 100 + passage()["text"])
    assert "/srv/secret" not in html and "doc.txt" in html
