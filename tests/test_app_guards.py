"""The served app against a browser on another site: DNS rebinding (a foreign Host), cross-origin
requests (a foreign Origin), password guessing, odd JSON on /ask, and what uploads and votes leave
on disk. The app runs in this process on 127.0.0.1 with the fake embedder and ``main``'s launch
settings; every request is real HTTP over loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

import app
from indexer.settings import Settings
from quotebot_app.feedback import FeedbackLog
from tests.app_server import free_port, serve_in_process
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e


def _settings(root: Path) -> Settings:
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "cramps.txt").write_text(
        "Leg Cramps\n\nA leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes.\n",
        encoding="utf-8",
    )
    return Settings(corpus_dir=corpus, index_dir=root / "index", feedback_path=root / "fb.jsonl", port=free_port())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("guards")
    settings = _settings(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(root / "uploads"))
        patch.setattr(app, "UPLOAD_KEEP_S", 1, raising=False)  # Gradio's copies go after a second (600 s when served)
        blocks, url = serve_in_process(settings, FakeEmbedder())
    yield url, settings
    blocks.close()


def _ask(url: str, data: list, headers: dict | None = None) -> tuple[int, str]:
    """POST /gradio_api/call/ask, then read its event stream: (status of the POST, the stream)."""
    posted = httpx.post(f"{url}/gradio_api/call/ask", json={"data": data}, headers=headers or {}, timeout=30)
    if posted.status_code != 200:
        return posted.status_code, posted.text
    event = posted.json()["event_id"]
    return 200, httpx.get(f"{url}/gradio_api/call/ask/{event}", timeout=30).text


def _upload(url: str, headers: dict | None = None) -> httpx.Response:
    files = {"files": ("note.txt", b"Magnesium helps some people with cramps at night.\n", "text/plain")}
    return httpx.post(f"{url}/gradio_api/upload", files=files, headers=headers or {}, timeout=30)


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "192.168.1.20:{port}", "localhost.evil.example:{port}"]
)
def test_a_foreign_host_is_refused_on_every_route_without_a_login(served, host):
    """DNS rebinding: the attacker's name, pointed at 127.0.0.1, reaches nothing."""
    url, settings = served
    headers = {"Host": host.format(port=settings.port), "Origin": f"http://{host.format(port=settings.port)}"}
    assert httpx.get(url + "/", headers=headers, timeout=10).status_code == 403
    assert httpx.get(url + "/config", headers=headers, timeout=10).status_code == 403
    join = {"data": ["sleep.md"], "fn_index": 0, "session_hash": "attacker", "event_data": {"name": "cramps.txt"}}
    assert httpx.post(url + "/gradio_api/queue/join", json=join, headers=headers, timeout=10).status_code == 403
    assert _upload(url, headers).status_code == 403
    assert _ask(url, ["What is a leg cramp?", 3, [], None], headers)[0] == 403
    assert (settings.corpus_dir / "cramps.txt").is_file()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}"])
def test_this_machine_s_own_names_are_served(served, host):
    url, settings = served
    name = host.format(port=settings.port)
    assert httpx.get(url + "/", headers={"Host": name}, timeout=10).status_code == 200
    status, stream = _ask(url, ["What is a leg cramp?", 3, [], None], {"Host": name, "Origin": f"http://{name}"})
    assert status == 200 and "event: complete" in stream and "sudden painful tightening" in stream


def test_cross_origin_uploads_and_questions_are_refused(served):
    url, settings = served
    foreign = {"Origin": "http://evil.example:8080"}
    refused = _upload(url, foreign)
    assert refused.status_code == 403 and "Origin not allowed" in refused.text
    assert _ask(url, ["What is a leg cramp?", 3, [], None], foreign)[0] == 403
    assert _upload(url, {"Origin": f"http://127.0.0.1:{settings.port}"}).status_code == 200  # the page's own


def test_gradio_deletes_its_copies_of_uploads_after_the_keep_time(served):
    """A crafted upload straight to the route leaves nothing behind for good."""
    url, _ = served
    response = _upload(url)
    assert response.status_code == 200
    copy = Path(response.json()[0])
    assert copy.is_file()
    deadline = time.monotonic() + 15
    while copy.exists() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not copy.exists()


@pytest.mark.parametrize(
    "k,history",
    [
        ('"abc"', "null"),
        ("NaN", "null"),
        ("Infinity", "[]"),
        ("[3]", "null"),
        ("3", "5"),
        ('"2"', '"one string"'),
        ("null", '{"a": 1}'),
    ],
)
def test_ask_api_answers_any_k_and_history_without_a_traceback(served, k, history):
    """Raw JSON, as any client may send it (NaN and Infinity too, which Python's json writes): never a
    traceback; a value /ask cannot take is refused with a message naming the field (issue 18)."""
    url, _ = served
    body = f'{{"data": ["What is a leg cramp?", {k}, {history}, null]}}'
    posted = httpx.post(
        f"{url}/gradio_api/call/ask", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    assert posted.status_code == 200, posted.text
    stream = httpx.get(f"{url}/gradio_api/call/ask/{posted.json()['event_id']}", timeout=30).text
    assert "Traceback" not in stream
    if "event: complete" in stream:
        answer = json.loads(stream.split("data:", 1)[1].strip().splitlines()[0])[0]
        assert answer["question"] == "What is a leg cramp?" and answer["passages"]
    else:
        assert "event: error" in stream and ("k must be" in stream or "history must be" in stream), stream


def test_password_guessing_is_slowed_to_five_tries_a_minute(tmp_path):
    settings = _settings(tmp_path)
    blocks, url = serve_in_process(settings, FakeEmbedder(), auth=[("ada", "correct horse")])
    try:
        for guess in range(5):
            wrong = httpx.post(f"{url}/login", data={"username": "ada", "password": f"guess {guess}"}, timeout=10)
            assert wrong.status_code in (400, 401), wrong.text
        throttled = httpx.post(f"{url}/login", data={"username": "ada", "password": "correct horse"}, timeout=10)
        assert throttled.status_code == 429 and "Too many failed logins" in throttled.text
    finally:
        blocks.close()


def test_the_feedback_log_is_bounded(tmp_path):
    log = FeedbackLog(tmp_path / "fb.jsonl", max_bytes=4000)
    answer = {"question": "What is a leg cramp?", "passages": [{"text": "A leg cramp is a sudden tightening. " * 10}]}
    for i in range(300):
        log.append(answer, "up" if i % 2 else "down")
    sizes = [p.stat().st_size for p in tmp_path.iterdir()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fb.jsonl", "fb.jsonl.1"] and max(sizes) <= 4000
