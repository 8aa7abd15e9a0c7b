"""The real app, end to end: the ``/ask`` API through gradio_client, and the page in headless Chromium.

One app serves the bundled corpus (real model, index built at start-up in a
temporary folder) for the whole module; a second one serves a corpus of hostile
markup. Screenshots of the main states go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.app_server import (
    PROJECT_ROOT,
    SCREENSHOTS,
    AppServer,
    ask_on_page,
    start_app,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

CORPUS = PROJECT_ROOT / "corpus"
QUESTION = "What is a muscle spasm?"
OFF_TOPIC = "Who won the world cup?"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> AppServer:
    app = start_app(CORPUS, tmp_path_factory.mktemp("app"), env={"QUOTEBOT_MAX_UPLOAD_MB": "1"})
    yield app
    app.stop()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url + "/", verbose=False)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(server.url + "/")
    page.wait_for_selector("#qb-chat .qb-chip")
    yield page
    context.close()


def source_text(passage: dict) -> str:
    return (PROJECT_ROOT / passage["source"]).read_text(encoding="utf-8")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let smooth scrolling settle
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# ---- the API ---------------------------------------------------------------------------------


def test_api_quotes_are_verbatim_slices_of_the_source_file(client):
    answer = client.predict(QUESTION, api_name="/ask")
    assert answer["abstained"] is False
    assert answer["passages"], answer
    for passage in answer["passages"]:
        text = source_text(passage)
        assert text[passage["start"] : passage["end"]] == passage["text"]
        best = passage["best_sentence"]
        assert passage["start"] <= best["start"] < best["end"] <= passage["end"]
        assert text[best["start"] : best["end"]] == best["text"]
        assert passage["relevance"] in ("high", "medium", "low")
    assert answer["notice"]


def test_api_abstains_off_topic_and_suggests_corpus_questions(client):
    answer = client.predict(OFF_TOPIC, api_name="/ask")
    assert answer["abstained"] is True
    assert answer["passages"] == []
    examples = (CORPUS / "corpus.toml").read_text(encoding="utf-8")
    assert answer["suggestions"] and all(s in examples for s in answer["suggestions"])


def test_api_takes_k_and_history(client):
    one = client.predict(question="What causes muscle cramps?", k=1, api_name="/ask")
    assert len(one["passages"]) == 1
    follow_up = client.predict(
        question="How is it treated?", k=2, history=["What causes muscle cramps?"], api_name="/ask"
    )
    assert "muscle cramps" in follow_up["searched_as"]
    assert len(follow_up["passages"]) <= 2


def test_file_route_serves_no_project_or_system_files(server):
    for path in (CORPUS / "muscle_spasms.txt", PROJECT_ROOT / "app.py", Path("/etc/passwd")):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server.url}/gradio_api/file={path.resolve()}", timeout=10)
        assert err.value.code in (403, 404), path


def test_uploads_over_the_size_limit_are_refused(server):
    import httpx

    big = httpx.post(f"{server.url}/gradio_api/upload", files={"files": ("big.txt", b"x" * 1_200_000)}, timeout=30)
    assert big.status_code == 413
    small = httpx.post(f"{server.url}/gradio_api/upload", files={"files": ("small.txt", b"x" * 1000)}, timeout=30)
    assert small.status_code == 200


def test_several_users_are_served_at_once(server):
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    questions = ["What is a muscle spasm?", "What causes muscle cramps?", OFF_TOPIC, "How can I stop a cramp?"]

    def ask(question: str) -> dict:
        return Client(server.url + "/", verbose=False).predict(question, api_name="/ask")

    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(ask, questions))
    assert [a["question"] for a in answers] == questions
    assert answers[2]["abstained"] and not answers[0]["abstained"]


# ---- the page --------------------------------------------------------------------------------


def test_page_shows_title_examples_and_a_verbatim_quote(page):
    assert "Muscle spasms and cramps" in page.locator(".qb-header h1").inner_text()
    assert page.locator("#qb-chat .qb-chip").count() >= 2
    screenshot(page, "01-empty")
    ask_on_page(page, QUESTION)
    quotes = page.locator(".qb-turn .qb-quote")
    assert quotes.count() >= 1
    text = (CORPUS / "muscle_spasms.txt").read_text(encoding="utf-8")
    for i in range(quotes.count()):
        quote = quotes.nth(i)
        start, end = int(quote.get_attribute("data-start")), int(quote.get_attribute("data-end"))
        assert quote.text_content() == text[start:end]
        assert quote.locator("strong.qb-best").count() == 1
    citation = page.locator(".qb-turn .qb-cite").first.inner_text()
    assert "Muscle spasms and cramps" in citation and re.search(r"paragraph \d+, line \d+", citation)
    assert re.search(r"(High|Medium|Low) relevance", page.locator(".qb-turn .qb-rel").first.inner_text())
    assert "not medical advice" in page.locator(".qb-turn .qb-notice").first.inner_text()
    screenshot(page, "02-answer")


def test_citation_opens_the_document_with_the_quote_highlighted(page):
    ask_on_page(page, QUESTION)
    quote = page.locator(".qb-turn .qb-quote").first
    expected = quote.text_content()
    page.locator(".qb-turn .qb-cite").first.click()
    mark = page.locator("#qb-source mark.qb-span")
    mark.wait_for()
    assert mark.text_content() == expected
    document = (CORPUS / "muscle_spasms.txt").read_text(encoding="utf-8")
    assert page.locator("#qb-source .qb-doc").text_content() == document  # the whole document is readable
    doc_box = page.locator("#qb-source .qb-doc").bounding_box()
    mark_box = mark.bounding_box()
    assert doc_box["y"] <= mark_box["y"] and mark_box["y"] + mark_box["height"] <= doc_box["y"] + doc_box["height"]
    screenshot(page, "03-source")


def test_keyboard_alone_asks_and_opens_a_citation(page):
    box = page.locator("#qb-question textarea, #qb-question input").first
    box.focus()
    page.keyboard.type("What causes muscle cramps?")
    page.keyboard.press("Enter")
    page.locator(".qb-turn .qb-cite").first.wait_for()
    page.locator(".qb-turn .qb-cite").first.focus()
    page.keyboard.press("Enter")
    page.locator("#qb-source mark.qb-span").wait_for()
    focused = page.evaluate("document.activeElement && document.activeElement.className")
    assert "qb-source-heading" in focused  # focus follows the reader to the source panel


def test_abstention_offers_suggestions_and_clicking_one_asks_it(page):
    ask_on_page(page, OFF_TOPIC)
    turn = page.locator(".qb-turn").last
    assert "couldn't find" in turn.locator(".qb-abstain").inner_text()
    chips = turn.locator(".qb-chip")
    assert chips.count() >= 1
    suggestion = chips.first.inner_text()
    screenshot(page, "04-abstain")
    chips.first.click()
    page.wait_for_function("document.querySelectorAll('.qb-turn').length === 2")
    last = page.locator(".qb-turn").last
    assert last.locator(".qb-question").inner_text() == suggestion
    assert last.locator(".qb-quote").count() >= 1


def test_example_question_on_the_empty_page_asks_it(page):
    example = page.locator("#qb-chat .qb-chip").first
    text = example.inner_text()
    example.click()
    page.locator(".qb-turn").first.wait_for()
    assert page.locator(".qb-turn .qb-question").first.inner_text() == text


def test_thumbs_up_appends_a_json_line_with_the_passages_shown(page, server):
    before = server.feedback_path.read_text(encoding="utf-8").splitlines() if server.feedback_path.exists() else []
    ask_on_page(page, QUESTION)
    page.locator(".qb-turn .qb-vote-up").first.click()
    page.locator(".qb-turn .qb-thanks").first.wait_for()
    assert page.locator(".qb-turn .qb-vote-up").first.get_attribute("aria-pressed") == "true"
    lines = server.feedback_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(before) + 1
    entry = json.loads(lines[-1])
    assert entry["question"] == QUESTION and entry["vote"] == "up"
    assert entry["passages"]
    for p in entry["passages"]:
        assert source_text(p)[p["start"] : p["end"]] == p["text"]


def test_narrow_screen_has_no_horizontal_scroll(browser, server):
    for dark in (False, True):
        context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme="dark" if dark else "light")
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#qb-chat .qb-chip")
        ask_on_page(page, QUESTION)
        page.locator(".qb-turn .qb-cite").first.click()
        page.locator("#qb-source mark.qb-span").wait_for()
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], width
        screenshot(page, f"05-narrow-{'dark' if dark else 'light'}")
        context.close()


def _luminance(css_color: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_theme_toggle_switches_light_and_dark_and_both_are_readable(page):
    ask_on_page(page, QUESTION)
    is_dark = "document.body.classList.contains('dark')"
    initial = page.evaluate(is_dark)
    for expected in (not initial, initial):
        page.locator("#qb-theme").click()
        assert page.evaluate(is_dark) == expected
        background = page.evaluate("getComputedStyle(document.querySelector('.qb-quote')).backgroundColor")
        text = page.evaluate("getComputedStyle(document.querySelector('.qb-quote')).color")
        bg, fg = _luminance(background), _luminance(text)
        if expected:
            assert bg < 0.3 and fg > 0.7, (background, text)
        else:
            assert bg > 0.7 and fg < 0.3, (background, text)
        screenshot(page, f"06-theme-{'dark' if expected else 'light'}")
    page.locator("#qb-theme").click()
    page.reload()
    page.wait_for_selector(".qb-turn")  # the conversation comes back too
    assert page.evaluate(is_dark) == (not initial)  # the last choice is remembered


# ---- hostile documents ----------------------------------------------------------------------

HOSTILE_TEXT = (
    "Garden gnomes\n\n"
    "Garden gnomes love mushrooms. <script>alert(1)</script> Gnomes sleep under large mushrooms at night.\n\n"
    'A gnome\'s hat is red. <img src=x onerror=alert(1)> <img src=y onerror="window.__pwned=1"> '
    "Gnomes paint their hats every spring. ${alert(7)} {{value}} `backticks`\n\n"
    "Gnomes sleep under https://example.org/" + "a-very-long-unbroken-path" * 12 + " at night.\n"
)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory) -> AppServer:
    corpus = tmp_path_factory.mktemp("hostile") / "corpus"
    corpus.mkdir()
    (corpus / "gnomes.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    (corpus / "corpus.toml").write_text(
        'title = "Gnomes <img src=x onerror=alert(2)>"\n'
        'description = "<script>alert(3)</script> about gnomes"\n'
        'examples = ["What do gnomes love? <img src=x onerror=alert(4)>"]\n'
        '[documents."gnomes.txt"]\ntitle = "<b>Gnome</b> <img src=x onerror=alert(5)> guide"\n',
        encoding="utf-8",
    )
    app = start_app(corpus, tmp_path_factory.mktemp("hostile-app"))
    yield app
    app.stop()


def test_markup_in_documents_and_questions_is_shown_as_text_and_never_runs(browser, hostile_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(hostile_server.url + "/")
    page.wait_for_selector("#qb-chat .qb-chip")
    assert "<img src=x onerror=alert(2)>" in page.locator(".qb-header h1").inner_text()
    ask_on_page(page, "Where do gnomes sleep? <img src=z onerror=alert(6)>")
    page.wait_for_timeout(500)  # give any injected handler time to fire
    assert dialogs == [] and page.evaluate("window.__pwned === undefined")
    turn = page.locator(".qb-turn").last
    assert "<img src=z onerror=alert(6)>" in turn.locator(".qb-question").inner_text()
    quotes = " ".join(turn.locator(".qb-quote").all_text_contents())
    assert "<script>alert(1)</script>" in quotes or "<img src=x onerror=alert(1)>" in quotes
    turn.locator(".qb-cite").first.click()
    page.locator("#qb-source mark.qb-span").wait_for()
    assert page.locator("#qb-source .qb-doc").text_content() == HOSTILE_TEXT
    assert "<b>Gnome</b>" in page.locator("#qb-source .qb-source-heading").inner_text()
    page.wait_for_timeout(1000)  # give any injected handler time to fire
    assert dialogs == []
    assert page.evaluate("window.__pwned === undefined")
    injected = page.evaluate(
        "document.querySelectorAll('#qb-chat img, #qb-chat script, #qb-source img, #qb-source script, .qb-header img, "
        ".qb-header script, .qb-header b').length"
    )
    assert injected == 0
    screenshot(page, "07-hostile")
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(300)
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width  # long unbroken words wrap too
    context.close()
