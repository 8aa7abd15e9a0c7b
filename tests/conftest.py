from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from tests.fakes import FakeEmbedder
from tests.milvus_server import milvus_server  # noqa: F401 - the session's real Milvus server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = PROJECT_ROOT / "corpus"


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A two-document corpus written by the test, with headings, bullets and a repeated sentence."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cramps.txt").write_text(
        "Leg Cramps\n\n"
        "A leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes. "
        "Stretching the calf gently can relieve a leg cramp.\n\n"
        "Causes of cramps · Dehydration after long exercise · Low magnesium levels in the blood. "
        "A leg cramp is a sudden painful tightening of the calf muscle.\n",
        encoding="utf-8",
    )
    (corpus / "sleep.md").write_text(
        "# Sleep\n\nAdults need seven to nine hours of sleep each night. "
        "A dark and quiet bedroom helps people fall asleep faster.\n",
        encoding="utf-8",
    )
    return corpus


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for a test module (Debian's /usr/bin/chromium, driven by Playwright)."""
    from playwright.sync_api import sync_playwright

    from tests.app_server import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
