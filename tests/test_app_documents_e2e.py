"""The Documents panel in headless Chromium, against the real app and model.

The app serves a temporary copy of the bundled corpus (uploads land in the
corpus folder, so the bundled one is never touched) with its own index.
Screenshots of the panel go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil

import pytest

from tests.app_server import (
    PROJECT_ROOT,
    SCREENSHOTS,
    AppServer,
    ask_on_page,
    start_app,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

FACT = "The Zorblat valve was invented in 1893 by Ada Quill."
DOCUMENT = (
    "# Zorblat valves\n\n"
    f"{FACT} It lets a brass organ hold a steady pressure while the pipes change.\n\n"
    "Early valves were cast in bronze and polished by hand.\n"
)
TITLE = "Zorblat valves"  # the Markdown file's first heading, not its name zorblat_valve_notes.md (issue 12)
HOSTILE = "<img src=x onerror=alert(1)>"
MAX_FILES = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> AppServer:
    corpus = tmp_path_factory.mktemp("docs-corpus") / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    app = start_app(
        corpus,
        tmp_path_factory.mktemp("docs-app"),
        env={"QUOTEBOT_MAX_UPLOAD_FILES": str(MAX_FILES), "QUOTEBOT_MAX_UPLOAD_MB": "1"},
    )
    app.corpus = corpus  # type: ignore[attr-defined]
    yield app
    app.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("to-upload")
    (folder / "zorblat_valve_notes.md").write_text(DOCUMENT, encoding="utf-8")
    (folder / "setup.exe").write_bytes(b"MZ\x90\x00 not a document")
    (folder / f"{HOSTILE}.txt").write_text("Kites\n\nBox kites were flown by Lawrence Hargrave.\n", encoding="utf-8")
    (folder / "quillon.txt").write_text("Quillons\n\nA quillon is the crossguard of a sword.\n", encoding="utf-8")
    return folder


def open_page(browser, server, *, width: int = 1280, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(server.url + "/")
    page.wait_for_selector("#qb-chat .qb-chip")
    if page.evaluate("document.body.classList.contains('dark')") != dark:
        page.locator("#qb-theme").click()
    return context, page


def open_documents(page) -> None:
    toggle = page.locator("#qb-docs button.label-wrap, #qb-docs > button").first
    heading = page.locator("#qb-docs-list .qb-docs-heading")
    for attempt in range(2):  # on a loaded machine the first key press can land before the page's handlers
        toggle.focus()
        page.keyboard.press("Enter")  # the panel opens from the keyboard
        try:
            heading.wait_for(timeout=10_000 if attempt == 0 else 30_000)
            return
        except Exception:
            if attempt == 1:
                raise


def upload(page, paths) -> None:
    before = page.evaluate("(document.querySelector('#qb-docs-status') || {}).innerText || ''")
    page.locator("#qb-upload input[type=file]").set_input_files([str(p) for p in paths])
    page.wait_for_function(
        "(b) => { const s = document.querySelector('#qb-docs-status'); return s && s.innerText.trim() && s.innerText !== b; }",
        arg=before,
        timeout=120_000,
    )


def shoot(locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.page.evaluate("document.activeElement && document.activeElement.blur()")
    locator.page.wait_for_timeout(300)
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def no_horizontal_scroll(page) -> bool:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    return width[0] <= width[1]


def test_uploaded_document_is_quoted_verbatim_and_cited_by_title(browser, server, files):
    context, page = open_page(browser, server)
    open_documents(page)
    upload(page, [files / "zorblat_valve_notes.md", files / "setup.exe", files / f"{HOSTILE}.txt"])
    status = page.locator("#qb-docs-status").inner_text()
    assert f"added as \u201c{TITLE}\u201d" in status
    assert "setup.exe: unsupported format .exe" in status  # the refused file, with its reason
    items = page.locator("#qb-docs-list .qb-docs-item")
    listing = page.locator("#qb-docs-list").inner_text()
    assert TITLE in listing and "zorblat_valve_notes.md" in listing and "Muscle spasms" in listing
    assert items.count() == 3  # the bundled document and the two accepted files
    assert page.locator("#qb-docs img, #qb-docs script").count() == 0 and page.dialogs == []
    shoot(page.locator("#qb-docs"), "08-documents-light")

    ask_on_page(page, "Who invented the Zorblat valve?")
    quote = page.locator(".qb-turn .qb-quote").first
    start, end = int(quote.get_attribute("data-start")), int(quote.get_attribute("data-end"))
    assert quote.text_content() == DOCUMENT[start:end]  # verbatim, from the uploaded file
    assert FACT in quote.text_content()
    assert TITLE in page.locator(".qb-turn .qb-cite").first.inner_text()
    page.locator(".qb-turn .qb-cite").first.click()
    page.locator("#qb-source mark.qb-span").wait_for()
    assert page.locator("#qb-source .qb-source-heading").inner_text() == TITLE  # the right document opens
    assert page.locator("#qb-source .qb-doc").text_content() == DOCUMENT
    assert (server.corpus / "zorblat_valve_notes.md").read_text(encoding="utf-8") == DOCUMENT
    assert not (PROJECT_ROOT / "corpus" / "zorblat_valve_notes.md").exists()
    context.close()


def test_too_many_files_are_refused_on_the_page(browser, server, files):
    context, page = open_page(browser, server)
    open_documents(page)
    before = page.locator("#qb-docs-list .qb-docs-item").count()
    upload(page, sorted(files.iterdir()))  # four files, one over the limit
    status = page.locator("#qb-docs-status").inner_text()
    assert f"at most {MAX_FILES} can be added at once" in status and "Nothing was added" in status
    assert page.locator("#qb-docs-list .qb-docs-item").count() == before
    context.close()


def test_a_file_over_the_size_limit_is_named_and_nothing_is_sent(browser, server, files, tmp_path):
    big = tmp_path / "huge_manual.txt"
    big.write_text("Valves. " * 160_000, encoding="utf-8")  # 1.2 MB, over the 1 MB limit of this app
    context, page = open_page(browser, server)
    open_documents(page)
    before = page.locator("#qb-docs-list .qb-docs-item").count()
    page.locator("#qb-upload input[type=file]").set_input_files([str(big), str(files / "quillon.txt")])
    toast = page.get_by_text("exceed the maximum allowed size")
    toast.wait_for()
    assert "huge_manual.txt" in toast.inner_text()
    page.wait_for_timeout(500)
    assert page.locator("#qb-docs-list .qb-docs-item").count() == before
    assert not (server.corpus / "huge_manual.txt").exists()
    context.close()


def test_a_document_is_removed_with_the_keyboard_and_answers_stop_quoting_it(browser, server, files):
    context, page = open_page(browser, server)
    open_documents(page)
    upload(page, [files / "quillon.txt"])
    remove = page.locator('#qb-docs-list button[data-action="ask_remove"][data-name="quillon.txt"]')
    remove.focus()
    page.keyboard.press("Enter")
    confirm = page.locator('#qb-docs-list button[data-action="remove"][data-name="quillon.txt"]')
    confirm.wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.dataset.action === 'remove'")
    page.keyboard.press("Enter")  # focus moved to "Yes, remove"
    page.wait_for_function("!document.querySelector('#qb-docs-list [data-name=\"quillon.txt\"]')")
    assert "Removed" in page.locator("#qb-docs-status").inner_text()
    assert not (server.corpus / "quillon.txt").exists()
    ask_on_page(page, "What is a quillon?")
    assert "quillon.txt" not in page.locator(".qb-turn").last.inner_html()
    context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_documents_panel_fits_a_phone_screen(browser, server, files, dark):
    context, page = open_page(browser, server, width=375, dark=dark)
    open_documents(page)
    page.locator('#qb-docs-list button[data-action="ask_remove"]').first.click()
    page.locator('#qb-docs-list button[data-action="remove"]').wait_for()
    assert no_horizontal_scroll(page)
    shoot(page.locator("#qb-docs"), f"09-documents-narrow-{'dark' if dark else 'light'}")
    page.locator('#qb-docs-list button[data-action="cancel"]').click()
    context.close()


def test_documents_panel_in_the_dark_theme(browser, server):
    context, page = open_page(browser, server, dark=True)
    open_documents(page)
    assert page.evaluate("document.body.classList.contains('dark')")
    shoot(page.locator("#qb-docs"), "08-documents-dark")
    context.close()
