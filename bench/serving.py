"""App-level measurements: the real ``app.py`` in a subprocess, driven through ``gradio_client``.

``python -m bench --only app`` reports, side by side with ``Bot.ask`` in this process:

- cold start: seconds from launching ``python app.py`` to the first answer returned
  through the ``/ask`` API, with an empty index folder (the app builds it) and again
  with the index already built; the app's own output lines, time-stamped as they
  arrive, say where the time went (start-up and index, model and page, first answer);
- HTTP latency of one question through ``gradio_client`` (one client, sequential);
- throughput and latency with 1, 4 and 16 concurrent clients (threads, each its own
  ``Client``), each level for a fixed number of seconds, on 127.0.0.1 only.

The corpus is copied to a temporary folder and indexed there; nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .report import Section
from .timing import percentile, summarize_seconds

__all__ = ["APP_MEASURES", "LoadLevel", "run_load", "measure_app", "app_section"]

ROOT = Path(__file__).resolve().parent.parent
FIRST_QUESTION = "What is a muscle spasm?"
APP_MEASURES = (
    "cold start, empty index (s, launch to first answer)",
    "cold start, index already built (s, launch to first answer)",
    "HTTP latency via gradio_client, 1 client, sequential (median / p95 ms)",
    "Bot.ask in process, same questions (median / p95 ms)",
    "1 client (answers / s; median / p95 ms; errors)",
    "4 concurrent clients (answers / s; median / p95 ms; errors)",
    "16 concurrent clients (answers / s; median / p95 ms; errors)",
)
LEVELS = (1, 4, 16)


@dataclass
class LoadLevel:
    """What ``clients`` concurrent callers got in ``seconds`` of asking."""

    clients: int
    seconds: float
    answers: int
    errors: int
    median_ms: float | None
    p95_ms: float | None
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "answers": self.answers,
            "errors": self.errors,
            "answers_per_s": round(self.per_second, 2),
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "first_error": self.first_error,
        }


def run_load(
    make_caller: Callable[[], Callable[[str], object]], questions: Sequence[str], clients: int, seconds: float
) -> LoadLevel:
    """``clients`` threads, each with its own caller (``make_caller()``), ask in a loop until ``seconds`` pass.

    Each thread starts at a different question. Throughput is answers over the wall
    time from the first start to the last finish, so a slow last call counts.
    """
    if not questions or clients < 1:
        raise ValueError("run_load needs questions and at least one client")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    callers = [make_caller() for _ in range(clients)]  # connecting is not part of the timed load
    barrier = threading.Barrier(clients + 1)
    deadline_box: list[float] = []

    def worker(n: int) -> None:
        call = callers[n]
        i = n * max(1, len(questions) // clients)
        barrier.wait()
        deadline = deadline_box[0]
        while time.perf_counter() < deadline:
            question = questions[i % len(questions)]
            i += 1
            started = time.perf_counter()
            try:
                call(question)
            except Exception as err:
                with lock:
                    errors.append(f"{type(err).__name__}: {err}"[:200])
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline_box.append(started + seconds)
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    for call in callers:
        close = getattr(call, "close", None)
        if close is not None:
            close()
    ms = [s * 1000.0 for s in latencies]
    return LoadLevel(
        clients,
        wall,
        len(ms),
        len(errors),
        statistics.median(ms) if ms else None,
        percentile(ms, 95) if ms else None,
        errors[0] if errors else "",
    )


# --------------------------------------------------------------------------------------------
# The app process
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A port of 127.0.0.1 free right now (the tests' app servers use it too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen) -> None:
    """Terminate, and kill if it has not exited within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@dataclass
class AppRun:
    """One ``python app.py`` process: its URL and its output lines, each with seconds since launch."""

    url: str
    process: subprocess.Popen
    launched: float
    lines: list[tuple[float, str]] = field(default_factory=list)

    def line_time(self, prefix: str) -> float | None:
        for t, line in list(self.lines):
            if line.startswith(prefix):
                return t
        return None

    def output(self) -> str:
        return "\n".join(line for _, line in list(self.lines))

    def stop(self) -> None:
        stop_process(self.process)


def app_command(
    corpus: Path,
    index: Path,
    port: int,
    *,
    temp_dir: Path,
    feedback: Path,
    python_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve ``corpus`` from ``index`` on 127.0.0.1:``port``,
    offline, with Gradio's files and the feedback log in the given places. A login or address set in
    this process's environment is left out unless ``env`` sets it (the benchmarks and the tests
    measure and use the app as it starts by default)."""
    child_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(temp_dir),
        "QUOTEBOT_FEEDBACK": str(feedback),
        **(env or {}),
    }
    for var in ("QUOTEBOT_AUTH", "QUOTEBOT_AUTH_FILE", "QUOTEBOT_HOST", "QUOTEBOT_PORT"):
        if var not in (env or {}):
            child_env.pop(var, None)
    command = [sys.executable, *python_args, "app.py", "--corpus", str(corpus), "--index", str(index)]
    return command + ["--host", "127.0.0.1", "--port", str(port)], child_env


def launch_app(corpus: Path, index: Path, workdir: Path, python_args: Sequence[str] = ()) -> AppRun:
    """Start ``python [python_args] app.py`` on a free port of 127.0.0.1 and read its output in a thread."""
    port = free_port()
    command, env = app_command(
        corpus,
        index,
        port,
        temp_dir=workdir / "gradio-tmp",
        feedback=workdir / "feedback.jsonl",
        python_args=python_args,
        env={"PYTHONUNBUFFERED": "1"},
    )
    launched = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    run = AppRun(f"http://127.0.0.1:{port}/", process, launched)

    def read() -> None:
        for line in process.stdout:
            run.lines.append((time.perf_counter() - launched, line.rstrip()))

    threading.Thread(target=read, daemon=True).start()
    return run


class AskClient:
    """One ``gradio_client.Client`` asking ``/ask``; ``close()`` stops its heartbeat thread.

    An unclosed client keeps reconnecting its heartbeat after the app stops, which
    takes CPU from whatever is measured next.
    """

    def __init__(self, url: str) -> None:
        from gradio_client import Client

        self.client = Client(url, verbose=False, analytics_enabled=False, download_files=False)

    def __call__(self, question: str) -> object:
        return self.client.predict(question, api_name="/ask")

    def close(self) -> None:
        self.client.close()


def _answers_http(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status < 500
    except urllib.error.HTTPError as err:  # 401 behind a login: the server is up
        return err.code < 500
    except OSError:
        return False


def first_answer(run: AppRun, *, timeout: float = 180.0, poll: float = 0.1) -> tuple[float, float]:
    """Seconds from launch until ``/ask`` returned an answer (polling with a fresh client until it works).

    Also returns the seconds the successful client took to connect (read the app's API description).
    """
    deadline = run.launched + timeout
    last = ""
    while time.perf_counter() < deadline:
        if run.process.poll() is not None:
            raise RuntimeError(f"the app exited with code {run.process.returncode}:\n{run.output()}")
        if not _answers_http(run.url):  # wait for the page itself, as a browser would, then ask
            time.sleep(poll / 2)
            continue
        try:
            connecting = time.perf_counter()
            client = AskClient(run.url)
            connect_s = time.perf_counter() - connecting
            try:
                answer = client(FIRST_QUESTION)
                answered = time.perf_counter()  # before close(), which waits about a second for the heartbeat thread
            finally:
                client.close()
        except Exception as err:
            last = f"{type(err).__name__}: {err}"
            time.sleep(poll)
            continue
        if not isinstance(answer, dict) or "passages" not in answer:
            raise RuntimeError(f"/ask returned {type(answer).__name__}, not an answer: {str(answer)[:200]}")
        return answered - run.launched, connect_s
    raise RuntimeError(f"no answer from the app within {timeout:.0f} s (last error: {last}):\n{run.output()}")


@dataclass
class ColdStart:
    total_s: float
    index_line_s: float | None  # the app printed "index ...": imports done, index built or found up to date
    serving_line_s: float | None  # the app printed "quotebot: serving": model loaded and warmed, page up
    index_summary: str
    connect_s: float  # of the last stage: the client reading the app's API description

    def stages(self) -> str:
        if self.index_line_s is None or self.serving_line_s is None:
            return "stages: (the app's lines were not seen)"
        return (
            f"imports + index {self.index_line_s:.1f} s, model load + warm-up + Gradio launch "
            f"{self.serving_line_s - self.index_line_s:.1f} s, first API answer {self.total_s - self.serving_line_s:.1f} s "
            f"(of which {self.connect_s:.1f} s the client connecting)"
        )

    def to_dict(self) -> dict:
        return {
            "total_s": round(self.total_s, 2),
            "index_line_s": self.index_line_s,
            "serving_line_s": self.serving_line_s,
            "connect_s": round(self.connect_s, 3),
            "index": self.index_summary,
        }


def _cold_start(run: AppRun) -> ColdStart:
    total, connect_s = first_answer(run)
    index_line = next((line for _, line in run.lines if line.startswith("index ")), "")
    return ColdStart(total, run.line_time("index "), run.line_time("quotebot: serving"), index_line, connect_s)


def _in_process_ask(corpus: Path, index: Path, questions: Sequence[str]) -> tuple[list[float], float]:
    """Per-question seconds of ``Bot.ask`` on the app's index, in this process; and seconds to load and warm up."""
    from bot.bot import Bot
    from indexer.settings import Settings

    started = time.perf_counter()
    bot = Bot.load(Settings.from_env(index_dir=index, corpus_dir=corpus))
    bot.warm_up()
    load_s = time.perf_counter() - started
    seconds = []
    for question in questions:
        t = time.perf_counter()
        bot.ask(question)
        seconds.append(time.perf_counter() - t)
    return seconds, load_s


def _ms_pair(seconds: Sequence[float]) -> str:
    timing = summarize_seconds(list(seconds))
    return f"{timing.median_ms:.1f} / {timing.p95_ms:.1f}"


def _level_cell(level: LoadLevel) -> str:
    if level.median_ms is None:
        return f"0 answers; {level.errors} errors"
    return f"{level.per_second:.1f}; {level.median_ms:.0f} / {level.p95_ms:.0f}; {level.errors}"


def measure_app(
    *,
    quick: bool = False,
    questions: Sequence[str] | None = None,
    seconds_per_level: float | None = None,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, str], dict, list[str]]:
    """Run the app twice (empty index, built index), drive it, and time ``Bot.ask`` in process.

    Returns table cells by measure, raw figures for the JSON file, and notes.
    """
    if questions is None:
        import json

        path = ROOT / "eval" / "muscle_spasms.jsonl"
        questions = [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = list(questions)[:12] if quick else list(questions)
    seconds_per_level = seconds_per_level or (5.0 if quick else 15.0)
    values: dict[str, str] = {}
    data: dict = {"questions": len(questions), "seconds_per_level": seconds_per_level}
    notes: list[str] = []
    import gradio_client  # noqa: F401 - imported before the app is launched, not inside the timed window

    with tempfile.TemporaryDirectory(prefix="quotebot-bench-app-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        index = work / "index"

        log("app: cold start with an empty index")
        run = launch_app(corpus, index, work)
        try:
            cold = _cold_start(run)
            log(f"app: first answer after {cold.total_s:.1f} s ({cold.stages()})")
            caller = AskClient(run.url)  # one client for the sequential run
            http = []
            try:
                for question in questions:
                    t = time.perf_counter()
                    caller(question)
                    http.append(time.perf_counter() - t)
            finally:
                caller.close()
            levels = []
            for clients in LEVELS:
                log(f"app: {clients} concurrent client(s) for {seconds_per_level:g} s")
                levels.append(run_load(lambda: AskClient(run.url), questions, clients, seconds_per_level))
        finally:
            run.stop()

        log("app: cold start with the index already built")
        run = launch_app(corpus, index, work)
        try:
            warm = _cold_start(run)
            log(f"app: first answer after {warm.total_s:.1f} s ({warm.stages()})")
        finally:
            run.stop()

        log("app: Bot.ask in this process on the same index")
        in_process, load_s = _in_process_ask(corpus, index, questions)

    values[APP_MEASURES[0]] = f"{cold.total_s:.1f}"
    values[APP_MEASURES[1]] = f"{warm.total_s:.1f}"
    values[APP_MEASURES[2]] = _ms_pair(http)
    values[APP_MEASURES[3]] = _ms_pair(in_process)
    for measure, level in zip(APP_MEASURES[4:], levels):
        values[measure] = _level_cell(level)
    data.update(
        {
            "cold_start_empty_index": cold.to_dict(),
            "cold_start_built_index": warm.to_dict(),
            "http_sequential": summarize_seconds(http).to_dict(),
            "bot_ask_in_process": summarize_seconds(in_process).to_dict(),
            "bot_load_in_process_s": round(load_s, 2),
            "levels": [level.to_dict() for level in levels],
            "app_concurrency_limit": _app_concurrency(),
        }
    )
    notes.append(f"empty index: {cold.stages()}; {cold.index_summary}")
    notes.append(f"index built: {warm.stages()}; {warm.index_summary}")
    notes.append(
        f"Bot.ask in this process after a {load_s:.1f} s load and warm-up; HTTP: one gradio_client, sequential"
    )
    notes.append(
        f"{len(questions)} eval questions; each load level runs {seconds_per_level:g} s, every client its own "
        f"gradio_client.Client in a thread, 127.0.0.1; the app serves {data['app_concurrency_limit']} events at once"
    )
    for level in levels:
        if level.errors:
            notes.append(f"{level.clients} clients: first error: {level.first_error}")
    return values, data, notes


def _app_concurrency() -> int | None:
    try:
        from quotebot_app import cli

        return cli.CONCURRENCY
    except Exception:
        return None


def app_section(**options) -> Section:
    section = Section("app", "Through the web app: python app.py driven by gradio_client", ["measure", "value"])
    values, section.data, section.notes = measure_app(**options)
    for measure in APP_MEASURES:
        section.add(measure, values.get(measure, "-"))
    return section
