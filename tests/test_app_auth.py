"""A login configured for the page is enforced by Gradio for the page and the API alike.

The app is launched in this process (fake embedder, small corpus) with the same
launch settings ``main`` uses.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

import app
from bot.bot import Bot
from indexer.build import build_corpus
from indexer.settings import Settings
from indexer.stores import open_store
from quotebot_app import cli, guards
from tests.app_server import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path, small_corpus, fake_embedder):
    settings = Settings(
        corpus_dir=small_corpus,
        index_dir=tmp_path / "index",
        feedback_path=tmp_path / "fb" / "f.jsonl",
        port=free_port(),
    )
    build_corpus(small_corpus, open_store("faiss", index_dir=settings.index_dir), fake_embedder)
    blocks = app.build_app(Bot.load(settings, embedder=fake_embedder), settings)
    blocks.queue(default_concurrency_limit=cli.CONCURRENCY)
    auth = guards.load_auth({"QUOTEBOT_AUTH": "reader:correct horse"})
    _, url, _ = blocks.launch(prevent_thread_lock=True, **cli.launch_kwargs(settings, auth))
    yield url.rstrip("/")
    blocks.close()


def test_login_is_required_for_the_page_and_the_api(served):
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(served + "/config", timeout=10)
    assert err.value.code == 401
    with pytest.raises(AuthenticationError, match="Please login"):
        Client(served + "/", verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(served + "/", auth=("reader", "wrong"), verbose=False)
    client = Client(served + "/", auth=("reader", "correct horse"), verbose=False)
    answer = client.predict("What is a leg cramp?", api_name="/ask")
    assert answer["passages"] and answer["passages"][0]["text"]
