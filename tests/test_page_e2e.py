"""The chat page in headless Chromium, fast: the real app served in this process on 127.0.0.1
with the fake embedder, over a corpus of three documents the test writes.

These check what a reader notices in the first minutes: a citation that keeps the answer in
view, asking within chosen documents, votes that can change, a conversation that survives a
reload. The bundled corpus with the real model is ``test_app_e2e.py``'s job.
"""

from __future__ import annotations

import pytest

from indexer.settings import Settings
from tests.app_server import ask_on_page, free_port, serve_in_process
from tests.fakes import FakeEmbedder

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GARDEN = (
    "# Garden roses\n\n"
    "Roses need six hours of direct sun every day. Water roses deeply once a week at the base of the plant. "
    "Prune roses in late winter, just before the buds swell.\n\n"
    "Black spot is a fungal disease of rose leaves. Remove fallen rose leaves to stop black spot spreading. "
    "Mulch keeps rose roots cool and moist in summer.\n\n"
    "Aphids gather on young rose shoots in spring. A strong jet of water knocks aphids off rose shoots. "
    "Ladybirds eat aphids and protect the roses.\n"
)
BICYCLE = (
    "# Bicycle care\n\n"
    "Clean the bicycle chain after riding in rain. Oil the bicycle chain with a drop on each link. "
    "Wipe off extra chain oil so dirt does not stick.\n\n"
    "Check bicycle tyre pressure every week. The right tyre pressure is printed on the tyre wall. "
    "Soft tyres wear quickly and puncture easily.\n\n"
    "Brake pads wear down with use. Replace bicycle brake pads when the grooves are gone. "
    "Test the brakes before every long ride.\n"
)
TEA = (
    "# Brewing tea\n\n"
    "Green tea brews best with water at eighty degrees. Boiling water makes green tea bitter. "
    "Steep green tea for two to three minutes.\n\n"
    "Black tea needs boiling water and four minutes of steeping. Milk softens the taste of strong black tea. "
    "Store tea leaves in a dark airtight tin.\n\n"
    "Oolong tea can be steeped several times. Each oolong steeping brings out new flavours of the tea leaves.\n"
)
DOCUMENTS = {"roses.md": GARDEN, "bicycle.md": BICYCLE, "tea.md": TEA}
QUESTIONS = ["What protects roses from aphids?", "How do I oil the bicycle chain?", "How long do I steep green tea?"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a free port of 127.0.0.1; yields (url, settings)."""
    root = tmp_path_factory.mktemp("page")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(
        corpus_dir=corpus,
        index_dir=root / "index",
        feedback_path=root / "feedback" / "feedback.jsonl",
        port=free_port(),
        k=5,
        min_score=0.6,  # the default is fitted to the real model; the fake one's chance overlaps reach 0.5
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_TEMP_DIR", str(root / "gradio-tmp"))
        blocks, url = serve_in_process(settings, FakeEmbedder())
    yield url, settings
    blocks.close()


def open_page(browser, url: str, *, width: int = 1280, height: int = 900, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light")
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#qb-chat .qb-empty .qb-chip")  # the examples derived on load: the page is ready
    return context, page


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height


# ---- 1. a citation keeps the answer where it is ----------------------------------------------


def test_citation_opens_beside_the_answer_without_scrolling_it_away(browser, served):
    url, _ = served
    context, page = open_page(browser, url, height=720)
    for question in QUESTIONS:
        ask_on_page(page, question)
    page.wait_for_timeout(700)  # the new turn's smooth scroll settles
    last = page.locator(".qb-turn").last
    cite = last.locator(".qb-cite").last
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(300)
    before = page.evaluate("window.scrollY")
    assert before > 200, "three turns make the page scroll; otherwise this test proves nothing"
    cite_box = cite.bounding_box()
    cite.click()
    page.locator("#qb-source mark.qb-span").wait_for()
    page.wait_for_timeout(500)
    assert abs(page.evaluate("window.scrollY") - before) < 5  # the page did not move
    after = cite.bounding_box()
    assert abs(after["y"] - cite_box["y"]) < 5 and in_viewport(page, cite)
    assert in_viewport(page, page.locator("#qb-source mark.qb-span"))  # and the source is in view beside it
    source_box = page.locator("#qb-source").bounding_box()
    assert source_box["x"] > cite_box["x"] + cite_box["width"] / 2  # beside, not over
    context.close()


def test_on_a_phone_the_source_opens_over_the_answer_and_closes_back_to_it(browser, served):
    url, _ = served
    context, page = open_page(browser, url, width=390, height=844)
    for question in QUESTIONS[:2]:
        ask_on_page(page, question)
    page.wait_for_timeout(700)
    cite = page.locator(".qb-turn").last.locator(".qb-cite").first
    cite.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    before = page.evaluate("window.scrollY")
    cite.click()
    mark = page.locator("#qb-source mark.qb-span")
    mark.wait_for()
    page.wait_for_timeout(500)
    assert abs(page.evaluate("window.scrollY") - before) < 5
    assert in_viewport(page, mark)
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width
    page.keyboard.press("Escape")  # closes the sheet; the reader is back at the citation
    page.wait_for_function("!document.querySelector('#qb-source-col').classList.contains('qb-open')")
    assert abs(page.evaluate("window.scrollY") - before) < 5 and in_viewport(page, cite)
    assert page.evaluate("document.activeElement && document.activeElement.classList.contains('qb-cite')")
    context.close()


# ---- 2. the API refuses bad input, naming the field ------------------------------------------


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served[0] + "/", verbose=False)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"k": 11}, "k must be from 1 to 10"),
        ({"k": 0}, "k must be from 1 to 10"),
        ({"k": -1}, "k must be from 1 to 10"),
        ({"k": "abc"}, "k must be a whole number from 1 to 10"),
        ({"k": 2.5}, "k must be a whole number from 1 to 10"),
        ({"history": "ps? What is dystonia?"}, "history must be a list of earlier questions"),
        ({"history": ["fine", 3]}, "history[1] must be a string"),
        ({"history": {"q": "x"}}, "history must be a list"),
    ],
)
def test_api_refuses_wrong_types_and_out_of_range_values_naming_the_field(client, kwargs, expected):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(question=QUESTIONS[1], api_name="/ask", **kwargs)
    assert expected in str(err.value)


def test_api_takes_valid_k_and_history_as_sent(client):
    answer = client.predict(question="bicycle tyre pressure", k=1, history=["What protects roses?"], api_name="/ask")
    assert len(answer["passages"]) == 1  # two match; k=1 is taken as sent
    follow_up = client.predict(question="And the brake pads?", k=2, history=[QUESTIONS[1]], api_name="/ask")
    assert follow_up["searched_as"] == f"{QUESTIONS[1]} And the brake pads?"  # the list, not its characters


# ---- 3. ask within chosen documents ---------------------------------------------------------


def test_a_question_can_be_asked_within_chosen_documents(browser, served, client):
    url, _ = served
    context, page = open_page(browser, url)
    ask_on_page(page, QUESTIONS[2])
    assert set(page.locator(".qb-turn").last.locator(".qb-cite-title").all_inner_texts()) == {"Brewing tea"}
    scope = page.locator("#qb-scope")
    scope.locator("input").click()  # shown: there are three documents
    page.get_by_role("option", name="Bicycle care", exact=True).click()
    page.get_by_role("option", name="Garden roses", exact=True).click()
    page.keyboard.press("Escape")
    ask_on_page(page, QUESTIONS[2])  # the same question, now only where tea is not
    turn = page.locator(".qb-turn").last
    assert turn.locator(".qb-scope-note").inner_text() == "Searched only in Bicycle care, Garden roses"
    assert turn.locator(".qb-abstain").count() == 1 and turn.locator(".qb-cite").count() == 0
    ask_on_page(page, QUESTIONS[1])
    assert set(page.locator(".qb-turn").last.locator(".qb-cite-title").all_inner_texts()) == {"Bicycle care"}
    answer = client.predict(question=QUESTIONS[2], documents=["tea.md", "roses.md"], api_name="/ask")
    assert {p["document"] for p in answer["passages"]} == {"tea.md"}
    assert client.predict(question=QUESTIONS[2], documents=["roses.md"], api_name="/ask")["abstained"] is True
    context.close()


# ---- 4. feedback: one vote per answer, changeable, undoable, with a comment -------------------


def test_one_vote_per_answer_that_can_change_be_undone_and_carry_a_comment(browser, served):
    import json
    import subprocess
    import sys

    url, settings = served
    log = settings.feedback_path
    before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    context, page = open_page(browser, url)
    ask_on_page(page, QUESTIONS[1])
    turn = page.locator(".qb-turn").last
    turn.locator(".qb-vote-up").click()
    turn.locator(".qb-undo").wait_for()
    turn.locator(".qb-vote-down").click()  # a changed mind
    page.wait_for_function(
        "document.querySelector('.qb-turn:last-child .qb-vote-down').getAttribute('aria-pressed') === 'true'"
    )
    assert turn.locator(".qb-vote-up").get_attribute("aria-pressed") == "false"
    turn.locator(".qb-undo").click()
    page.wait_for_function("!document.querySelector('.qb-turn:last-child .qb-undo')")
    assert turn.locator("[aria-pressed=true]").count() == 0
    turn.locator(".qb-vote-down").click()
    box = turn.locator(".qb-comment-input")
    box.fill("It did not say which oil <b>to use</b>")
    box.press("Enter")
    turn.locator(".qb-comment-sent").wait_for()
    assert "which oil <b>to use</b>" in turn.locator(".qb-comment-sent").inner_text()  # shown as text
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == before + 1  # one line for the answer, however often the vote changed
    entry = json.loads(lines[-1])
    assert entry["vote"] == "down" and entry["comment"] == "It did not say which oil <b>to use</b>"
    assert entry["question"] == QUESTIONS[1] and entry["id"] and entry["passages"]
    ask_on_page(page, "Who won the world cup?")  # refused: recorded without a vote
    assert page.locator(".qb-turn").last.locator(".qb-abstain").count() == 1
    out = subprocess.run(
        [sys.executable, "-m", "quotebot_app.feedback", "--feedback", str(log)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert f"1  {QUESTIONS[1]}" in out and "1  Who won the world cup?" in out
    assert out.index("Marked unhelpful") < out.index(QUESTIONS[1]) < out.index("Refused") < out.index("world cup")
    context.close()


# ---- 5. own documents (no corpus.toml) get a title, examples and suggestions from the text ----


def test_own_documents_get_a_title_examples_and_suggestions_from_their_text(browser, served):
    url, settings = served
    assert not (settings.corpus_dir / "corpus.toml").exists()
    context, page = open_page(browser, url)
    assert (
        page.locator(".qb-header h1").inner_text() == "Bicycle care, Brewing tea and Garden roses"
    )  # not the folder's name
    assert page.title() == "Bicycle care, Brewing tea and Garden roses"
    chips = page.locator("#qb-chat .qb-empty .qb-chip").all_inner_texts()
    assert "Can oolong tea be steeped several times?" in chips and len(chips) >= 3
    ask_on_page(page, "Which oolong tea is the best one to buy online?")  # refused; the nearest derived question first
    turn = page.locator(".qb-turn").last
    assert turn.locator(".qb-abstain").count() == 1
    suggestion = turn.locator(".qb-chip").first
    assert suggestion.inner_text() == "Can oolong tea be steeped several times?"
    suggestion.click()
    page.wait_for_function("document.querySelectorAll('.qb-turn').length === 2")
    quote = page.locator(".qb-turn").last.locator(".qb-quote").first
    assert "Oolong tea can be steeped several times" in quote.inner_text()
    context.close()


# ---- 7. the small things ---------------------------------------------------------------------


def test_the_conversation_survives_a_reload_and_new_chat_focuses_the_question_box(browser, served):
    url, _ = served
    context, page = open_page(browser, url)
    ask_on_page(page, QUESTIONS[0])
    ask_on_page(page, QUESTIONS[1])
    page.locator(".qb-turn").first.locator(".qb-vote-up").click()
    page.locator(".qb-turn").first.locator(".qb-undo").wait_for()
    page.wait_for_timeout(500)  # the copy reaches the browser's storage
    page.reload()
    page.wait_for_function("document.querySelectorAll('.qb-turn').length === 2")
    questions = page.locator(".qb-turn .qb-question").all_inner_texts()
    assert questions == QUESTIONS[:2]
    assert page.locator(".qb-turn").first.locator(".qb-vote-up").get_attribute("aria-pressed") == "true"
    page.locator(".qb-turn").last.locator(".qb-cite").first.click()  # a restored citation still opens
    page.locator("#qb-source mark.qb-span").wait_for()
    page.locator("#qb-clear").click()
    page.wait_for_function("document.querySelectorAll('.qb-turn').length === 0")
    page.wait_for_function(
        "document.activeElement && document.activeElement.closest && !!document.activeElement.closest('#qb-question')"
    )
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_selector("#qb-chat .qb-empty")
    page.wait_for_timeout(1000)
    assert page.locator(".qb-turn").count() == 0  # a new chat stays new after a reload
    context.close()


def test_a_long_question_shows_a_counter_before_the_limit(browser, served):
    url, settings = served
    context, page = open_page(browser, url)
    box = page.locator("#qb-question textarea, #qb-question input").first
    counter = page.locator("#qb-question .qb-count")
    box.fill("x" * 100)
    assert counter.count() == 0 or not counter.is_visible()
    limit = settings.max_question_chars
    box.fill("x" * (limit - 50))
    assert counter.inner_text() == f"{limit - 50} / {limit} characters"
    box.fill("x" * (limit + 5))
    assert "too long" in counter.inner_text()
    context.close()


def test_copy_quote_puts_the_quote_and_its_citation_on_the_clipboard(browser, served):
    url, _ = served
    context, page = open_page(browser, url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    ask_on_page(page, QUESTIONS[2])
    passage = page.locator(".qb-turn .qb-passage").first
    quote = passage.locator(".qb-quote").text_content()
    passage.locator(".qb-copy").click()
    page.wait_for_function("document.querySelector('.qb-copy').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    location = passage.locator(".qb-cite-loc").inner_text()
    assert copied == f"\u201c{quote}\u201d (Brewing tea, {location})"
    context.close()


def test_on_a_phone_the_question_box_stays_at_the_bottom(browser, served):
    url, _ = served
    context, page = open_page(browser, url, width=390, height=844)
    for question in QUESTIONS:
        ask_on_page(page, question)
    page.evaluate("window.scrollTo(0, 200)")  # in the middle of the conversation
    page.wait_for_timeout(300)
    box = page.locator("#qb-question").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844 + 1, box
    assert box["y"] > 844 / 2  # at the bottom, not the top
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width
    context.close()


# ---- 6. a PDF citation shows the page, the quote highlighted on it ----------------------------

PDF_PAGES = [
    ["Minerals and muscles", "", "A short guide to minerals in the diet."],
    [
        "Night cramps",
        "",
        "Magnesium supplements may reduce night-time leg cramps in older adults.",
        "Potassium is found in bananas, beans and potatoes.",
        "",
        "Museum tickets",
        "",
        *[f"Gallery {n} of the city museum shows old maps, coins and painted vases." for n in range(1, 9)],
        "The museum opens at nine every Sunday morning.",
    ],
]


@pytest.fixture(scope="module")
def pdf_served(tmp_path_factory):
    from tests.docfixtures import make_pdf

    root = tmp_path_factory.mktemp("pdf-page")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "minerals.pdf").write_bytes(make_pdf(PDF_PAGES))
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", feedback_path=root / "fb.jsonl", port=free_port())
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_TEMP_DIR", str(root / "gradio-tmp"))
        blocks, url = serve_in_process(settings, FakeEmbedder())
    yield url, corpus / "minerals.pdf"
    blocks.close()


def test_a_pdf_citation_shows_the_page_with_the_quoted_words_highlighted(browser, pdf_served):
    import pypdfium2 as pdfium

    url, pdf = pdf_served
    context, page = open_page(browser, url)
    ask_on_page(page, "Can magnesium supplements reduce night-time leg cramps?")
    turn = page.locator(".qb-turn").last
    assert "page 2" in turn.locator(".qb-cite-loc").first.inner_text()
    turn.locator(".qb-cite").first.click()
    figure = page.locator("#qb-source .qb-pdf")
    figure.wait_for()
    assert figure.locator(".qb-pdf-caption").inner_text() == "The quote on page 2"
    assert page.locator("#qb-source mark.qb-span").count() == 1  # the text view stays beside the page
    page.wait_for_function("document.querySelector('#qb-source .qb-pdf-img').complete")
    page.wait_for_timeout(300)
    doc, mark = (
        page.locator("#qb-source .qb-doc").bounding_box(),
        page.locator("#qb-source mark.qb-span").bounding_box(),
    )
    assert doc["y"] <= mark["y"] < doc["y"] + doc["height"]  # the text view shows the quote too
    image = figure.locator(".qb-pdf-img").bounding_box()
    marks = [m.bounding_box() for m in figure.locator(".qb-pdf-mark").all()]
    assert marks
    # Where PDFium itself draws the quoted words "Magnesium" and "adults", as fractions of the page.
    document = pdfium.PdfDocument(str(pdf))
    pdf_page = document[1]
    width, height = pdf_page.get_size()
    text = pdf_page.get_textpage()
    for word in ("Magnesium", "adults"):
        searcher = text.search(word, match_case=True)
        index, count = searcher.get_next()
        left, bottom, right, top = text.get_charbox(index)
        _, _, right, _ = text.get_charbox(index + count - 1)
        x = image["x"] + (left + right) / 2 / width * image["width"]
        y = image["y"] + (height - (top + bottom) / 2) / height * image["height"]
        assert any(m["x"] <= x <= m["x"] + m["width"] and m["y"] <= y <= m["y"] + m["height"] for m in marks), word
    # ... and the words of the page that are not quoted lie under no mark.
    quote = turn.locator(".qb-quote").first.text_content()
    unquoted = [w for w in ("Potassium", "Museum", "Sunday") if w not in quote]
    assert unquoted, quote
    for word in unquoted:
        index, _ = text.search(word, match_case=True).get_next()
        left, bottom, right, top = text.get_charbox(index)
        x = image["x"] + (left + right) / 2 / width * image["width"]
        y = image["y"] + (height - (top + bottom) / 2) / height * image["height"]
        assert not any(m["x"] <= x <= m["x"] + m["width"] and m["y"] <= y <= m["y"] + m["height"] for m in marks), word
    document.close()
    context.close()
