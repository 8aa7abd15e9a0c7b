"""Start the real app (``python app.py``) in a subprocess for end-to-end tests, and stop it.

The app builds its own index at start-up (``build_corpus``), so a test only
names a corpus folder and an empty index folder.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.serving import app_command, free_port, stop_process

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    feedback_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def start_app(corpus: Path, workdir: Path, *, timeout: float = 180.0, env: dict[str, str] | None = None) -> AppServer:
    """Serve ``corpus`` on a free port of 127.0.0.1; index and feedback live under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "app.log"
    feedback = workdir / "feedback" / "feedback.jsonl"
    command, child_env = app_command(
        corpus, workdir / "index", port, temp_dir=workdir / "gradio-tmp", feedback=feedback, env=env
    )
    log_file = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=child_env, stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    server = AppServer(f"http://127.0.0.1:{port}", process, log_path, feedback)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"the app did not answer within {timeout:.0f} s:\n{server.log()}")


def ask_on_page(page, question: str) -> None:
    """Type a question into the page (a Playwright page) and wait for its reply."""
    before = page.locator(".qb-turn").count()
    box = page.locator("#qb-question textarea, #qb-question input").first
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.qb-turn').length > {before}")


def serve_in_process(settings, embedder, *, auth: list[tuple[str, str]] | None = None):
    """Build the index of ``settings.corpus_dir`` and serve the page in this process, launched as ``main`` does.

    Fast (any embedder, no subprocess); returns the running ``Blocks`` (``close()`` it) and its URL.
    """
    import app
    from bot.bot import Bot
    from indexer.build import build_corpus
    from indexer.stores import open_store
    from quotebot_app import cli

    build_corpus(settings.corpus_dir, open_store("faiss", index_dir=settings.index_dir), embedder)
    blocks = app.build_app(Bot.load(settings, embedder=embedder), settings)
    blocks.queue(default_concurrency_limit=cli.CONCURRENCY)
    _, url, _ = blocks.launch(prevent_thread_lock=True, **cli.launch_kwargs(settings, auth))
    return blocks, url.rstrip("/")
