"""The page without a browser: rendering, escaping, event handlers, feedback, login and launch settings.

Fast: the bot runs on the fake embedder over a corpus the test writes.
"""

from __future__ import annotations

import json
import re

import gradio as gr
import pytest

import app
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.settings import Settings
from indexer.stores import open_store
from quotebot_app import api, cli, feedback, guards, handlers, render, restore
from tests.html_check import parse

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> ${alert(3)} {{value}} `x` &amp;'

# Tags the page itself writes; anything else in rendered HTML came from content and got through.
PAGE_TAGS = {
    "article",
    "div",
    "span",
    "p",
    "ol",
    "li",
    "blockquote",
    "strong",
    "code",
    "button",
    "i",
    "svg",
    "path",
    "mark",
    "h2",
    "header",
    "h1",
    "label",
    "input",
}


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


def test_quote_running_into_a_code_block_shows_the_code_as_code_and_keeps_every_character():
    text = "Run it like this:\n```bash\nrg -e 'a|b' <file>\n```\nThen look."
    quote = {"text": text, "start": 100, "end": 100 + len(text), "best_sentence": {"start": 100, "end": 117}}
    html = render.render_quote(quote)
    assert html.startswith('<strong class="qb-best">Run it like this:</strong>')
    assert '<code class="qb-fence">```bash</code>' in html and '<code class="qb-fence">```</code>' in html
    assert '<code class="qb-code">\nrg -e &#x27;a|b&#x27; &lt;file&gt;\n</code>' in html
    assert "".join(parse(html).text) == text  # verbatim: nothing added, nothing dropped


def test_code_regions_of_quotes_that_begin_or_end_inside_a_code_block():
    ends_inside = "Install it:\n```sh\npip install x\n"
    assert render.code_regions(ends_inside) == [(12, 17, "fence"), (17, len(ends_inside), "code")]
    begins_inside = "make all\nmake test\n```\nThe tests run."
    assert render.code_regions(begins_inside) == [(0, 19, "code"), (19, 22, "fence")]
    bare_opening = "Use this:\n```\nrg foo"
    assert render.code_regions(bare_opening) == [(10, 13, "fence"), (13, len(bare_opening), "code")]
    assert render.code_regions("No code here, only ``inline`` ticks.") == []


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
        {
            "answer": answer(question=HOSTILE, passages=[hostile_passage], notice=HOSTILE),
            "vote": "up",
            "comment": HOSTILE,
        },
        {"answer": answer(question=HOSTILE, passages=[hostile_passage]), "vote": "down"},
        {
            "answer": answer(question=HOSTILE, abstained=True, passages=[], message=HOSTILE, suggestions=[HOSTILE]),
            "vote": None,
        },
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
    turns = [
        {
            "answer": answer(
                abstained=True,
                passages=[],
                message="The source text doesn't cover this.",
                suggestions=["Q one?", "Q two?"],
            ),
            "vote": None,
        }
    ]
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
    assert (
        '<mark class="qb-span">One sentence. <strong class="qb-best">The best sentence here.</strong> Last one.</mark>'
        in html
    )
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
    settings = Settings(
        corpus_dir=small_corpus, index_dir=tmp_path / "index", feedback_path=tmp_path / "fb" / "f.jsonl"
    )
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
    _, turns, _ = page.on_submit("Who painted the Mona Lisa?", 3, [])
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


def test_one_vote_per_answer_changeable_undoable_with_a_comment(page):
    _, turns, _ = page.on_submit("What is a leg cramp?", 3, [])
    vote = lambda value: page.on_vote(turns, gr.EventData(None, {"turn": 0, "value": value}))
    html, turns = vote("down")
    assert turns[0]["vote"] == "down" and 'aria-pressed="true"' in html and "qb-comment-input" in html
    lines = page.settings.feedback_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["id"] == turns[0]["id"] and len(entry["id"]) == 16
    assert entry["question"] == "What is a leg cramp?" and entry["vote"] == "down"
    shown = turns[0]["answer"]["passages"]
    assert [(p["source"], p["start"], p["end"], p["text"]) for p in entry["passages"]] == [
        (p["source"], p["start"], p["end"], p["text"]) for p in shown
    ]
    _, turns = vote("up")  # a changed mind replaces the vote
    html, turns = page.on_comment(turns, gr.EventData(None, {"turn": 0, "text": "  Clear   and short. "}))
    assert "Your comment: \u201cClear and short.\u201d" in html
    entries = page.feedback.entries()
    assert [(e["id"], e["vote"], e["comment"]) for e in entries] == [(turns[0]["id"], "up", "Clear and short.")]
    _, turns = vote("up")  # the same thumb again withdraws it
    assert turns[0]["vote"] is None and page.feedback.entries()[0]["vote"] is None
    _, turns = vote("down")
    html, turns = vote("undo")
    assert turns[0]["vote"] is None and 'aria-pressed="true"' not in html
    assert len(page.feedback.entries()) == 1 and page.feedback.entries()[0]["comment"] == "Clear and short."


def test_refusals_are_recorded_and_the_feedback_command_lists_them_most_frequent_first(page, capsys):
    for question in ("Who painted the Mona Lisa?", "who painted  the MONA Lisa?", "What is the capital of Peru?"):
        page.on_submit(question, 3, [])
    _, turns, _ = page.on_submit("What is a leg cramp?", 3, [])
    _, turns = page.on_vote(turns, gr.EventData(None, {"turn": 0, "value": "down"}))
    page.on_comment(turns, gr.EventData(None, {"turn": 0, "text": "It did not say how long"}))
    summary = feedback.summarize(page.feedback.entries())
    assert summary.refused == ((2, "Who painted the Mona Lisa?"), (1, "What is the capital of Peru?"))
    assert summary.unhelpful == ((1, "What is a leg cramp?"),)
    assert summary.comments == (("What is a leg cramp?", "It did not say how long"),)
    assert feedback.main(["--feedback", str(page.settings.feedback_path)]) == 0
    out = capsys.readouterr().out
    assert "Marked unhelpful (1 question" in out and "  2  Who painted the Mona Lisa?" in out
    assert out.index("Who painted the Mona Lisa?") < out.index("What is the capital of Peru?")
    assert feedback.main(["--feedback", str(page.settings.feedback_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["refused"][0] == {"count": 2, "question": "Who painted the Mona Lisa?"}


def test_api_ask_returns_the_answer_schema(page):
    data = page.api_ask("What is a leg cramp?", 1, ["earlier question"])
    assert set(data) == {"question", "abstained", "message", "passages", "notice", "suggestions", "searched_as"}
    assert len(data["passages"]) == 1


def test_api_request_check_names_the_field_and_the_allowed_range():
    ok = api.check_request("Q?", None, None, default_k=3)
    assert (ok.question, ok.k, ok.history, ok.documents) == ("Q?", 3, (), None)
    assert api.check_request("Q?", 10, ["a", "b"], default_k=3, documents=["x.txt"]) == api.AskRequest(
        "Q?", 10, ("a", "b"), ("x.txt",)
    )
    assert api.check_request("Q?", 4.0, (), default_k=3).k == 4  # JSON has one number type
    bad = [
        ({"k": 11}, "k must be from 1 to 10 (passages to return); got 11"),
        ({"k": True}, "k must be a whole number"),
        (
            {"history": "ps? What is dystonia?"},
            "history must be a list of earlier questions, oldest first (strings); got a string",
        ),
        ({"history": [None]}, "history[0] must be a string"),
        ({"question": 5}, "question must be a string"),
        ({"documents": "a.txt"}, "documents must be a list of document names"),
    ]
    for fields, message in bad:
        request = {"question": "Q?", "k": None, "history": None, **fields}
        with pytest.raises(api.ApiInputError, match=re.escape(message)):
            api.check_request(request.pop("question"), request.pop("k"), request.pop("history"), default_k=3, **request)


def test_api_ask_refuses_a_bad_field_instead_of_guessing(page):
    with pytest.raises(gr.Error, match="k must be from 1 to 10"):
        page.api_ask("What is a leg cramp?", 11, None)
    with pytest.raises(gr.Error, match="history must be a list"):
        page.api_ask("What is a leg cramp?", 2, "What is a leg cramp?")


def test_a_question_within_chosen_documents_quotes_only_them(page):
    everywhere = page.bot.ask("What is a leg cramp?", k=5)
    assert {p.document for p in everywhere.passages} == {"cramps.txt"}
    within = page.bot.ask("What is a leg cramp?", k=5, documents=["sleep.md"])
    assert all(p.document == "sleep.md" for p in within.passages)  # an answer from the chosen one, or none
    html, turns, _ = page.on_submit("How much sleep do adults need?", 3, [], ["sleep.md", "gone.txt"])
    assert turns[0]["documents"] == ["Sleep"] and "Searched only in Sleep" in html
    assert {p["document"] for p in turns[0]["answer"]["passages"]} == {"sleep.md"}
    assert page.api_ask("What is a leg cramp?", 3, None, ["sleep.md"])["passages"] == within.to_dict()["passages"][:3]
    with pytest.raises(gr.Error, match="'nope.txt' is not in the index; the documents are: cramps.txt, sleep.md"):
        page.api_ask("What is a leg cramp?", 3, None, ["nope.txt"])
    with pytest.raises(gr.Error, match="documents must name at least one document"):
        page.api_ask("What is a leg cramp?", 3, None, [])


def test_search_in_control_lists_the_documents_by_title_when_there_are_several(page):
    control = page.scope_choices()
    assert control.visible is True
    assert [tuple(c) for c in control.choices] == [("Cramps", "cramps.txt"), ("Sleep", "sleep.md")]


def test_a_conversation_restored_from_the_browser_keeps_only_quotes_that_check_out(page):
    _, turns, _ = page.on_submit("What is a leg cramp?", 3, [])
    _, turns, _ = page.on_submit("Who painted the Mona Lisa?", 3, turns)
    saved = json.loads(json.dumps(page.to_browser(turns)))  # what the browser stores and sends back
    html, restored = page.on_restore(saved)
    assert [t["answer"]["question"] for t in restored] == ["What is a leg cramp?", "Who painted the Mona Lisa?"]
    assert (
        restored[0]["answer"]["passages"] == [{**p, "score": p["score"]} for p in turns[0]["answer"]["passages"]]
        and "qb-quote" in html
    )
    forged = json.loads(json.dumps(saved))
    forged[0]["answer"]["passages"][0]["text"] = "<img src=x onerror=alert(1)> words the document never said"
    forged[1]["answer"]["passages"] = [{"document": "../../etc/passwd", "start": 0, "end": 4, "text": "root"}]
    forged.append({"answer": {"question": 5}, "vote": "sideways"})
    assert restore.restore_turns(forged, page._verified_text) == []
    assert all(isinstance(out, type(gr.skip())) for out in page.on_restore(forged))
    assert all(isinstance(out, type(gr.skip())) for out in page.on_restore(saved, turns[:1]))  # never over a new chat
    assert restore.restore_turns("not a list", lambda name: None) == []


def test_a_quote_is_found_among_the_glyphs_of_a_pdf_page_whatever_the_spacing():
    from quotebot_app.pdfpage import find_span

    page = list("Intro.\r\nThe e\ufb03cient man-\r\nagement of cramps helps.\r\nEnd.")
    first, last = find_span(page, "The efficient management of cramps")
    assert "".join(page[first : last + 1]) == "The e\ufb03cient man-\r\nagement of cramps"
    assert find_span(page, "not on this page") is None and find_span(page, "  ") is None


def test_feedback_log_rejects_unknown_votes(tmp_path):
    log = feedback.FeedbackLog(tmp_path / "new" / "folder" / "f.jsonl")
    log.append(answer(), "up")
    log.append(answer(), "down")  # no id given: two answers
    assert len(log.path.read_text(encoding="utf-8").splitlines()) == 2
    with pytest.raises(ValueError):
        log.append(answer(), "sideways")
    with pytest.raises(ValueError, match="answer id"):
        log.set(answer(), "", "up")


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
