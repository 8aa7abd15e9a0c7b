"""The scale-out path against a real Milvus server (package ``milvus`` 2.3.5, on loopback).

The store contract tests run on the server too (``tests/test_stores.py``, store
``milvus-server``). Here: the same answers as FAISS with the real model, two
replicas answering while a third process changes the documents, a server that
goes away mid-question and comes back, and a CLI that prints no client noise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from bot.bot import Bot
from bot.evaluation import load_eval_set
from indexer.build import build_corpus
from indexer.stores.faiss import FaissStore
from indexer.stores.milvus import MilvusStore
from tests.conftest import BUNDLED_CORPUS, PROJECT_ROOT
from tests.fakes import FakeEmbedder
from tests.milvus_replicas import round_document
from tests.milvus_server import MilvusServer, ServerUnavailable, start_milvus_server

pytestmark = [pytest.mark.milvus_server, pytest.mark.slow]

UNREADABLE = "the documents cannot be read right now"


def _collection(label: str) -> str:
    return f"t{uuid.uuid4().hex[:12]}_{label}"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# ---- the same answers as FAISS ---------------------------------------------------------------


class _CachingEmbedder:
    """The real model, each text embedded once: both stores get identical vectors (and the test half the work)."""

    def __init__(self) -> None:
        from indexer.embedding import Embedder

        self._model = Embedder()
        self.name = self._model.name
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dimension(self) -> int:
        return self._model.dimension

    def encode(self, texts, *, show_progress: bool = False) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self._model.encode(missing)):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def _first_passages(bot: Bot, questions) -> list[tuple]:
    out = []
    for item in questions:
        answer = bot.ask(item.question, item.history)
        first = answer.passages[0] if answer.passages else None
        out.append((item.question, answer.abstained, first and (first.document, first.start, first.end)))
    return out


@pytest.mark.model
@pytest.mark.parametrize(
    "corpus, questions",
    [(BUNDLED_CORPUS, "muscle_spasms.jsonl"), (PROJECT_ROOT / "eval" / "constitution", "us_constitution.jsonl")],
    ids=["bundled", "constitution"],
)
def test_server_and_faiss_give_the_same_first_passage_and_refusals(
    milvus_server: MilvusServer, tmp_path: Path, corpus: Path, questions: str
) -> None:
    embedder = _CachingEmbedder()
    items = load_eval_set(PROJECT_ROOT / "eval" / questions)
    stores = [FaissStore(tmp_path / "faiss"), MilvusStore(milvus_server.uri, collection=_collection("parity"))]
    results = []
    for store in stores:
        build_corpus(corpus, store, embedder)
        assert store.read_manifest().index_type == "flat"  # exact search in both: the rankings must agree
        bot = Bot(store, embedder)
        bot.check_index()
        results.append(_first_passages(bot, items))
    faiss, server = results
    assert sum(1 for _, abstained, _ in faiss if not abstained) >= len(items) // 3  # it does answer
    assert [r for r in faiss if r not in server] == [], "answers differ between FAISS and the Milvus server"


# ---- many replicas, one index ----------------------------------------------------------------


def _read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_two_replicas_answer_while_a_third_process_adds_and_removes_documents(
    milvus_server: MilvusServer, small_corpus: Path, tmp_path: Path
) -> None:
    collection, rounds = _collection("replicas"), 3
    store = MilvusStore(milvus_server.uri, collection=collection)
    build_corpus(small_corpus, store, FakeEmbedder())
    base = {name: store.document_text(name) for name in store.documents()}
    done = tmp_path / "writer-done"
    last, last_text = round_document(rounds - 1)
    final = [last_text.split(". ")[0] + "?", "What relieves a leg cramp?"]  # the newest document's first sentence
    common = ["--uri", milvus_server.uri, "--collection", collection, "--done", str(done)]
    replicas = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.milvus_replicas",
                "replica",
                *common,
                "--log",
                str(tmp_path / f"r{i}.jsonl"),
                "--max-seconds",
                "240",
                "--final",
                *final,
            ],
            cwd=PROJECT_ROOT,
            env=_env(),
        )
        for i in range(2)
    ]
    time.sleep(3)  # let the replicas open the index before it changes
    writer = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.milvus_replicas",
            "writer",
            *common,
            "--log",
            str(tmp_path / "w.jsonl"),
            "--corpus",
            str(small_corpus),
            "--rounds",
            str(rounds),
        ],
        cwd=PROJECT_ROOT,
        env=_env(),
        timeout=300,
    )
    for process in replicas:
        process.wait(timeout=120)
    assert writer.returncode == 0, _read_log(tmp_path / "w.jsonl")
    changes = _read_log(tmp_path / "w.jsonl")
    texts = {**base, **{c["doc"]: c["text"] for c in changes if c["event"] == "add"}}
    added = {c["doc"]: c["t0"] for c in changes if c["event"] == "add"}
    removed = {c["doc"]: c["t1"] for c in changes if c["event"] == "remove"}

    for i, process in enumerate(replicas):
        assert process.returncode == 0, _read_log(tmp_path / f"r{i}.jsonl")[-1:]
        entries = _read_log(tmp_path / f"r{i}.jsonl")
        during = [e for e in entries if e["phase"] == "during"]
        assert len(during) >= 2 * rounds, f"replica {i} asked only {len(during)} questions while the index changed"
        for entry in entries:
            assert entry["error"] is None, entry["error"]
            answer = entry["answer"]
            assert UNREADABLE not in answer["message"], entry
            for passage in answer["passages"]:
                doc = passage["document"]
                assert texts[doc][passage["start"] : passage["end"]] == passage["text"], passage
                # present at some moment while the question was asked: added before it ended, removed after it began
                assert added.get(doc, 0) <= entry["t1"] and removed.get(doc, float("inf")) >= entry["t0"], (doc, entry)
        # the questions about each round were answered from that round's document while it was there
        asked_rounds = {
            p["document"] for e in during for p in e["answer"]["passages"] if p["document"].startswith("round-")
        }
        assert asked_rounds, f"replica {i} never quoted a document the writer added"
        zebras, cramps = (e for e in entries if e["phase"] == "final")
        assert zebras["answer"]["passages"][0]["document"] == last  # the newest document, without a restart
        assert not any(p["document"] in removed for p in zebras["answer"]["passages"])  # and not the removed ones
        assert cramps["answer"]["passages"][0]["document"] == "cramps.txt"
    assert last_text.strip() in texts[last]


# ---- the server goes away and comes back -----------------------------------------------------


class _KillsServerOnce(FakeEmbedder):
    """Kills the server while a question is between its embedding and its search: mid-question."""

    def __init__(self) -> None:
        super().__init__()
        self.server: MilvusServer | None = None

    def encode(self, texts, *, show_progress: bool = False) -> np.ndarray:
        vectors = super().encode(texts)
        if self.server is not None:
            server, self.server = self.server, None
            os.kill(server.server_pid, signal.SIGKILL)  # a crash, not a clean stop
            server.process.wait(timeout=60)  # the launcher sees its server die, closes the port and exits
        return vectors


def test_server_going_away_mid_question_is_a_clear_message_and_answers_resume(
    small_corpus: Path, tmp_path: Path
) -> None:
    """A second server of its own (its own data folder), so that the shared one is not disturbed."""
    data = tmp_path / "outage-server"
    try:
        server = start_milvus_server(data)
    except ServerUnavailable as err:
        pytest.skip(str(err))
    try:
        embedder = _KillsServerOnce()
        store = MilvusStore(server.uri, collection=_collection("outage"), timeout=10)
        build_corpus(small_corpus, store, embedder)
        bot = Bot(store, embedder)
        bot.check_index()
        before = bot.ask("What relieves a leg cramp?")
        assert not before.abstained and before.passages[0].document == "cramps.txt"

        embedder.server = server
        started = time.monotonic()
        during = bot.ask("What relieves a leg cramp?")  # the server dies inside this call
        assert embedder.server is None and server.process.returncode is not None
        assert during.abstained and UNREADABLE in during.message and not during.passages
        assert time.monotonic() - started < 120  # bounded by the store's timeout, not hanging

        server = start_milvus_server(data, port=server.port)  # the same data folder, after the first is gone
        deadline, answers = time.monotonic() + 180, []
        while time.monotonic() < deadline:
            answers.append(bot.ask("What relieves a leg cramp?"))  # the same bot: no restart
            if not answers[-1].abstained:
                break
            assert UNREADABLE in answers[-1].message
            time.sleep(2)
        assert not answers[-1].abstained, f"no answer {len(answers)} tries after the server came back"
        assert answers[-1].to_dict() == before.to_dict()
    finally:
        server.stop()
    shutil.rmtree(data, ignore_errors=True)


# ---- what a user sees ------------------------------------------------------------------------


def test_a_bot_process_on_the_server_prints_its_answer_and_no_client_noise(
    milvus_server: MilvusServer, small_corpus: Path
) -> None:
    collection = _collection("cli")
    build_corpus(small_corpus, MilvusStore(milvus_server.uri, collection=collection), FakeEmbedder())
    code = (
        "import sys; from tests.fakes import FakeEmbedder; from bot.bot import Bot; "
        "from indexer.stores.milvus import MilvusStore; "
        f"store = MilvusStore({milvus_server.uri!r}, collection={collection!r}); "
        "bot = Bot(store, FakeEmbedder()); bot.check_index(); store.all_chunks(); "
        "print(bot.ask('What relieves a leg cramp?').passages[0].document)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "cramps.txt"
    assert "mvccTs" not in run.stderr and "GOAWAY" not in run.stderr, run.stderr
    assert run.stderr.strip() == ""


@pytest.mark.parametrize("quiet", [True, False], ids=["quieted", "control"])
def test_grpc_core_lines_are_silenced_before_pymilvus_loads(milvus_server: MilvusServer, quiet: bool) -> None:
    """gRPC core writes below Python's logging; a TLS handshake against the plain-text server makes it
    write a line on demand (GOAWAY too_many_pings goes the same way). The control shows the line exists."""
    code = (
        "from indexer.stores.milvus_noise import quiet_milvus_client; quiet_milvus_client(); "
        * quiet
        + "import grpc, pymilvus; "
        f"channel = grpc.secure_channel('127.0.0.1:{milvus_server.port}', grpc.ssl_channel_credentials()); "
        "ready = grpc.channel_ready_future(channel)\n"
        "try: ready.result(timeout=2)\nexcept grpc.FutureTimeoutError: print('no channel')"
    )
    env = {k: v for k, v in _env().items() if k != "GRPC_VERBOSITY"}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip() == "no channel", run.stderr
    assert ("Handshake failed" in run.stderr) is not quiet, run.stderr
