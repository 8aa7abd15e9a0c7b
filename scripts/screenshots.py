"""Regenerate the README's screenshots (docs/screenshot*.png) with the real app, model and headless Chromium.

    .venv/bin/python scripts/screenshots.py

Serves the bundled corpus, and a copy of one development PDF (eval/docs/pdf-leaflet), each in a
temporary folder on a free port of 127.0.0.1, asks a question, opens a citation, and saves:
  docs/screenshot.png        the answer with the source beside it (1280 px, light)
  docs/screenshot-phone.png  the source as a sheet over the answer (390 px, dark)
  docs/screenshot-pdf.png    a PDF citation: the page rendered, the quote highlighted on it
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_server import CHROMIUM, CHROMIUM_ARGS, ask_on_page, start_app  # noqa: E402

DOCS = ROOT / "docs"
PDF = ROOT / "eval" / "docs" / "pdf-leaflet" / "feqinput_fact_sheet.pdf"


def _open(browser, url: str, *, width: int, height: int, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light")
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#qb-chat .qb-log")
    if page.evaluate("document.body.classList.contains('dark')") != dark:
        page.locator("#qb-theme").click()
    return context, page


def _cite(page, turn: int = -1) -> None:
    page.locator(".qb-turn").nth(turn).locator(".qb-cite").first.click()
    page.locator("#qb-source mark.qb-span").wait_for()
    page.wait_for_timeout(800)


def main() -> int:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="quotebot-shots-"))
    servers = []
    try:
        bundled = start_app(ROOT / "corpus", work / "bundled")
        servers.append(bundled)
        pdf_corpus = work / "pdf-corpus"
        pdf_corpus.mkdir()
        shutil.copy(PDF, pdf_corpus / PDF.name)
        pdf = start_app(pdf_corpus, work / "pdf")
        servers.append(pdf)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            context, page = _open(browser, bundled.url, width=1280, height=860)
            ask_on_page(page, "What causes muscle cramps?")
            ask_on_page(page, "How can I stop a cramp when it happens?")
            page.wait_for_timeout(800)
            _cite(page)
            page.screenshot(path=str(DOCS / "screenshot.png"))
            context.close()

            context, page = _open(browser, bundled.url, width=390, height=844, dark=True)
            ask_on_page(page, "What is a muscle spasm?")
            page.wait_for_timeout(800)
            _cite(page)
            page.screenshot(path=str(DOCS / "screenshot-phone.png"))
            context.close()

            context, page = _open(browser, pdf.url, width=1280, height=860)
            ask_on_page(page, "What does FEQUTL stand for?")
            page.wait_for_timeout(800)
            page.locator(".qb-turn").last.locator(".qb-cite").first.click()
            page.locator("#qb-source .qb-pdf-mark").first.wait_for()
            page.wait_for_function("document.querySelector('#qb-source .qb-pdf-img').complete")
            page.wait_for_timeout(800)
            page.screenshot(path=str(DOCS / "screenshot-pdf.png"))
            context.close()
            browser.close()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name in ("screenshot.png", "screenshot-phone.png", "screenshot-pdf.png"):
        print(f"{DOCS / name}: {(DOCS / name).stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
