"""Refresh docs/screenshot.png: the page answering a question with the source panel open.

    .venv/bin/python scripts/screenshot.py

Starts the real app on the bundled corpus (index in a temporary folder), asks in headless
Chromium, clicks the first citation, and saves a 1280-wide PNG.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_server import CHROMIUM, CHROMIUM_ARGS, ask_on_page, start_app  # noqa: E402


def _shrink(path: Path) -> None:
    """A 64-colour palette keeps the committed PNG small without visible loss on a flat UI."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        server = start_app(corpus, Path(tmp) / "work")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(server.url)
                ask_on_page(page, "What is a muscle spasm?")
                page.locator(".qb-cite").first.click()
                page.wait_for_timeout(800)
                page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(200)
                out = ROOT / "docs" / "screenshot.png"
                page.screenshot(path=str(out), full_page=False)
                _shrink(out)
                browser.close()
                print(f"wrote {out}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
