"""The real app under concurrent load: 16 gradio_client sessions at once, zero errors.

A small run of ``bench/load.py`` (16 sessions x 4 questions, real model, a small
corpus); the full-size run and its figures are in docs/reliability.md.
"""

from __future__ import annotations

import pytest

from bench.load import EXTRA_QUESTIONS, require_loopback, run_load
from tests.app_server import start_app

pytestmark = [pytest.mark.e2e, pytest.mark.model]

CLIENTS = 16
QUESTIONS = [
    "What is a leg cramp?",
    "What relieves a cramp in the calf?",
    "How many hours of sleep do adults need?",
    "What helps people fall asleep faster?",
    *EXTRA_QUESTIONS,
]


def test_sixteen_concurrent_sessions_get_only_valid_answers(tmp_path, small_corpus):
    server = start_app(small_corpus, tmp_path / "app")
    try:
        result = run_load(server.url + "/", QUESTIONS, clients=CLIENTS, duration_s=30, max_requests=CLIENTS * 4)
    finally:
        server.stop()
    print("\n" + result.table())
    assert result.errors == []
    assert result.requests == CLIENTS * 4  # the budget, not the clock, ended the run
    assert result.max_in_flight >= CLIENTS // 2  # the sessions really overlapped
    assert 0 < result.abstained < result.requests  # both kinds of reply were exercised


@pytest.mark.parametrize("url", ["http://10.0.0.1:7860/", "http://example.org/", "http://0.0.0.0:7860/"])
def test_load_tool_refuses_anything_but_this_machine(url):
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        require_loopback(url)
