"""Hostile requests against the served app: file routes, oversized requests, no login, markup in questions.

The app runs in this process on 127.0.0.1 with the fake embedder and the launch
settings ``main`` uses, so these checks take seconds. Checks that need the
real app live beside the others: a single file over the size limit
(``test_app_e2e.py::test_uploads_over_the_size_limit_are_refused``), the page
and ``/ask`` behind a login (``test_app_auth.py``), and markup that never runs
in a real browser (``test_app_e2e.py::test_markup_in_documents_and_questions_is_shown_as_text_and_never_runs``).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from bot.bot import Bot
from indexer.settings import Settings
from quotebot_app import cli, feedback, guards, handlers
from tests.app_server import PROJECT_ROOT, free_port, serve_in_process
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e

MAX_FILES = 3  # the page's limit; the upload route takes a few times more, so the page can explain
ROUTE_FILES = guards.UPLOAD_ROUTE_FILES_FACTOR * MAX_FILES
LOCKED_TITLE = "Zebra handbook"
SECRET = "feedback-line-nobody-may-read"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A running app with small limits; yields its URL, settings and upload folder."""
    root = tmp_path_factory.mktemp("security")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "cramps.txt").write_text(
        "Leg Cramps\n\nA leg cramp is a sudden painful tightening of the calf muscle. It usually passes within minutes.\n",
        encoding="utf-8",
    )
    settings = Settings(
        corpus_dir=corpus,
        index_dir=root / "index",
        feedback_path=root / "feedback" / "feedback.jsonl",
        port=free_port(),
        max_upload_mb=1,
        max_upload_files=MAX_FILES,
        max_question_chars=200,
    )
    settings.feedback_path.parent.mkdir()
    settings.feedback_path.write_text(json.dumps({"question": SECRET}) + "\n", encoding="utf-8")
    uploads = root / "gradio-uploads"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_TEMP_DIR", str(uploads))
        blocks, url = serve_in_process(settings, FakeEmbedder())
    yield url, settings, uploads
    blocks.close()


def _get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as written: no client-side normalisation of ``..`` or of %-escapes."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", raw_path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _targets(settings: Settings, uploads: Path) -> dict[str, str]:
    index = settings.index_dir
    text = next((index / "texts").iterdir())
    return {
        "corpus file": str(settings.corpus_dir / "cramps.txt"),
        "index pointer": str(index / "CURRENT"),
        "index manifest": str(next(index.glob("gen-*")) / "manifest.json"),
        "stored document text": str(text),
        "feedback log": str(settings.feedback_path),
        "app source": str(PROJECT_ROOT / "app.py"),
        "app source, relative": "app.py",
        "corpus, relative": "corpus/muscle_spasms.txt",
        "system file": "/etc/passwd",
        "process environment": "/proc/self/environ",
        "home": "~/.bashrc",
        "climb out": "../../../../../../etc/passwd",
        "climb out, encoded": "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "climb out, double encoded": "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "absolute, encoded": "%2Fetc%2Fpasswd",
        "climb out of the upload folder": f"{uploads}/../index/CURRENT",
        "climb out of the upload folder, encoded": f"{uploads}/..%2f{settings.feedback_path.parent.name}%2ffeedback.jsonl",
        "backslashes": "..\\..\\..\\..\\etc\\passwd",
        "file URL": "file:///etc/passwd",
        "URL of this server": f"http://127.0.0.1:{settings.port}/config",
    }


@pytest.mark.parametrize("route", ["/gradio_api/file=", "/file=", "/gradio_api/file/"])
def test_file_routes_serve_nothing_outside_the_upload_folder(served, route):
    url, settings, uploads = served
    for name, target in _targets(settings, uploads).items():
        status, body = _get(url, route + target)
        assert status in (403, 404), f"{name}: {route}{target} answered {status}"
        assert b"root:" not in body and SECRET.encode() not in body and b"leg cramp" not in body.lower(), name


def test_uploaded_file_is_served_back_and_its_name_cannot_climb_out(served):
    """The positive control for the refusals above: the route works, for uploads only."""
    url, _, uploads = served
    response = httpx.post(
        f"{url}/gradio_api/upload", files={"files": ("../../escape.txt", b"uploaded bytes")}, timeout=30
    )
    assert response.status_code == 200
    (saved,) = response.json()
    assert Path(saved).resolve().is_relative_to(uploads.resolve()) and Path(saved).name == "escape.txt"
    assert _get(url, "/gradio_api/file=" + saved) == (200, b"uploaded bytes")


def _upload_folder_files(uploads: Path) -> set[Path]:
    return {p for p in uploads.rglob("*") if p.is_file()} if uploads.exists() else set()


def test_upload_with_too_many_files_is_refused_and_leaves_nothing(served):
    url, _, uploads = served
    before = _upload_folder_files(uploads)
    files = [("files", (f"doc{i}.txt", f"document {i}".encode())) for i in range(ROUTE_FILES + 1)]
    refused = httpx.post(f"{url}/gradio_api/upload", files=files, timeout=30)
    assert refused.status_code == 413 and f"{ROUTE_FILES} files" in refused.text
    assert _upload_folder_files(uploads) == before  # partial files are deleted
    accepted = httpx.post(f"{url}/gradio_api/upload", files=files[:ROUTE_FILES], timeout=30)
    assert accepted.status_code == 200 and len(accepted.json()) == ROUTE_FILES


def test_chunked_upload_with_too_many_files_is_refused_while_it_streams(served):
    """No Content-Length to check up front: the files are counted as the body arrives."""
    url, _, uploads = served
    request = httpx.Request(
        "POST",
        f"{url}/gradio_api/upload",
        files=[("files", (f"doc{i}.txt", b"x" * 1000)) for i in range(ROUTE_FILES + 1)],
    )
    body = request.read()
    headers = {"content-type": request.headers["content-type"]}
    before = _upload_folder_files(uploads)
    chunked = httpx.post(
        f"{url}/gradio_api/upload",
        content=iter([body[i : i + 700] for i in range(0, len(body), 700)]),
        headers=headers,
        timeout=30,
    )
    assert chunked.status_code == 413
    assert _upload_folder_files(uploads) == before


def test_upload_declared_over_the_total_limit_is_refused_before_it_is_sent(served):
    url, _, _ = served
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", "/gradio_api/upload")
        conn.putheader("Content-Type", "multipart/form-data; boundary=xyz")
        conn.putheader("Content-Length", str(50 * 1024 * 1024))
        conn.endheaders()  # not one byte of the body is sent
        assert conn.getresponse().status == 413
    finally:
        conn.close()


def test_oversized_api_request_is_refused_and_the_app_keeps_answering(served):
    from gradio_client import Client

    url, _, _ = served
    huge = {"data": ["leg cramp " * 200_000, 3, []]}  # 2 MB of JSON
    assert httpx.post(f"{url}/gradio_api/call/ask", json=huge, timeout=30).status_code == 413
    data = json.dumps(huge).encode()
    stream = iter([data[i : i + 65536] for i in range(0, len(data), 65536)])
    refused = httpx.post(
        f"{url}/gradio_api/queue/join", content=stream, headers={"content-type": "application/json"}, timeout=30
    )
    assert refused.status_code == 413
    answer = Client(url + "/", verbose=False).predict("What is a leg cramp?", api_name="/ask")
    assert not answer["abstained"] and answer["passages"]


def test_question_over_the_limit_gets_a_clear_message_through_the_api(served):
    from gradio_client import Client

    url, settings, _ = served
    answer = Client(url + "/", verbose=False).predict("leg cramp " * 100, api_name="/ask")
    assert answer["abstained"] and f"the limit is {settings.max_question_chars}" in answer["message"]


def test_question_limit_comes_from_the_environment():
    settings = Settings.from_env({"QUOTEBOT_MAX_QUESTION_CHARS": "40"})
    assert settings.max_question_chars == 40
    bot = Bot(store=None, embedder=FakeEmbedder(), settings=settings)  # refused before the index is needed
    assert "the limit is 40" in bot.ask("x" * 41).message


# ---- with a login ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    root = tmp_path_factory.mktemp("locked")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "cramps.txt").write_text(
        "A leg cramp is a sudden painful tightening of the calf muscle.\n", encoding="utf-8"
    )
    (corpus / "corpus.toml").write_text(f'title = "{LOCKED_TITLE}"\n', encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", feedback_path=root / "fb.jsonl", port=free_port())
    blocks, url = serve_in_process(
        settings, FakeEmbedder(), auth=guards.load_auth({"QUOTEBOT_AUTH": "reader:correct horse"})
    )
    yield url, settings
    blocks.close()


def test_without_login_every_api_route_refuses(locked):
    """The page and ``/ask`` through gradio_client are in test_app_auth.py; here every other door, raw."""
    url, settings = locked
    requests = [
        ("GET", "/config", {}),
        ("GET", "/gradio_api/info", {}),
        ("GET", "/gradio_api/openapi.json", {}),
        ("POST", "/gradio_api/call/ask", {"json": {"data": ["What is a leg cramp?", 3, []]}}),
        ("GET", "/gradio_api/call/ask/some-event", {}),
        (
            "POST",
            "/gradio_api/queue/join",
            {"json": {"data": ["What is a leg cramp?", 3, []], "fn_index": 0, "session_hash": "x"}},
        ),
        ("GET", "/gradio_api/queue/data?session_hash=x", {}),
        ("POST", "/gradio_api/upload", {"files": {"files": ("a.txt", b"x")}}),
        ("GET", f"/gradio_api/file={settings.corpus_dir / 'cramps.txt'}", {}),
    ]
    for method, path, kwargs in requests:
        response = httpx.request(method, url + path, timeout=10, **kwargs)
        assert response.status_code == 401, (method, path, response.status_code)
        assert "leg cramp" not in response.text.lower()
    shell = httpx.get(url + "/", timeout=10)  # the login form: nothing of the page behind it
    assert shell.status_code == 200 and LOCKED_TITLE not in shell.text
    with httpx.Client(timeout=10) as session:  # the positive control: logged in, the same requests work
        assert session.post(f"{url}/login", data={"username": "reader", "password": "correct horse"}).status_code == 200
        assert session.post(f"{url}/gradio_api/call/ask", json=requests[3][2]["json"]).status_code == 200
        assert LOCKED_TITLE in session.get(url + "/").text


def test_login_and_share_cannot_be_given_on_the_command_line():
    options = {opt for action in cli.build_parser()._actions for opt in action.option_strings}
    words = {o: set(o.lstrip("-").split("-")) for o in options}  # --passage-chars is no password
    assert options and not {o for o, w in words.items() if w & {"auth", "pass", "password", "user", "login", "share"}}


# ---- markup in a question -------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize(
    "question", ["<script>alert('x')</script> leg cramp", "leg cramp <img src=x onerror=alert(1)>"]
)
def test_markup_in_a_question_is_shown_as_text(tmp_path, small_corpus, question):
    from indexer.build import build_corpus
    from indexer.stores.faiss import FaissStore

    build_corpus(small_corpus, FaissStore(tmp_path / "index"), FakeEmbedder())
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", feedback_path=tmp_path / "fb.jsonl")
    page = handlers.Page(
        Bot.load(settings, embedder=FakeEmbedder()), settings, feedback.FeedbackLog(settings.feedback_path)
    )
    html, turns, _ = page.on_submit(question, 3, [])
    parsed = _Tags()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert question in "".join(parsed.text)  # shown, character for character
    assert turns[0]["answer"]["question"] == question
