"""Load test: many concurrent gradio_client sessions asking the running app questions, for a while.

    python -m bench.load                          # bundled corpus, real model, 16 clients for 60 s
    python -m bench.load --clients 32 --duration 120
    python -m bench.load --url http://127.0.0.1:7860/   # an app you started (loopback only)

Without ``--url`` it starts ``python app.py`` on the bundled corpus (index in a
temporary folder, 127.0.0.1, a free port) and stops it afterwards. Each client
is its own ``gradio_client.Client`` (its own session) in its own thread; all
start together and ask the questions of ``eval/muscle_spasms.jsonl`` plus a few
off-topic and hostile ones in turn until the time or the request budget is
spent. Every answer is checked (the question echoed, quotes or an abstention,
each quote the exact slice of its source file); anything else is an error.
Prints a table: requests, errors, throughput and latency percentiles.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXTRA_QUESTIONS = (
    "Who won the football world cup?",
    "<script>alert(1)</script> what is a cramp?",
    "¿Qué es un calambre muscular? 🙂",
    "",
)


@dataclass
class LoadResult:
    clients: int
    wall_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    abstained: int = 0
    max_in_flight: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + len(self.errors)

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful requests' latency, in seconds."""
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    def table(self) -> str:
        ms = lambda p: f"{self.percentile(p) * 1000:,.0f}"
        rows = [
            ("clients (concurrent sessions)", f"{self.clients}"),
            ("most requests in flight at once", f"{self.max_in_flight}"),
            ("duration", f"{self.wall_s:.1f} s"),
            ("requests answered", f"{len(self.latencies_s)} ({self.abstained} abstentions)"),
            ("errors", f"{len(self.errors)}"),
            ("throughput", f"{self.throughput:.1f} answers/s"),
            ("latency p50", f"{ms(50)} ms"),
            ("latency p95", f"{ms(95)} ms"),
            ("latency p99", f"{ms(99)} ms"),
            ("latency max", f"{ms(100)} ms"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        return "\n".join(lines)


def require_loopback(url: str) -> None:
    """This tool loads only this machine's own app: refuse any other host."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to load {host or url!r}: the load test runs against 127.0.0.1 only")


def check_answer(question: str, answer: object) -> str | None:
    """Why ``answer`` is not a valid reply to ``question`` (``None`` when it is)."""
    if not isinstance(answer, dict):
        return f"not an answer object: {type(answer).__name__}"
    from bot.bot import clean_question

    if answer.get("question") != clean_question(question):
        return f"question echoed as {answer.get('question')!r}"
    passages = answer.get("passages") or []
    if answer.get("abstained"):
        return None if not passages and answer.get("message") else "an abstention with passages or no message"
    if not passages:
        return "neither quotes nor an abstention"
    for p in passages:
        source = PROJECT_ROOT / str(p.get("source", ""))
        if source.is_file() and source.read_text(encoding="utf-8")[p["start"] : p["end"]] != p["text"]:
            return f"quote not verbatim: {p['source']} {p['start']}-{p['end']}"
    return None


def run_load(
    url: str,
    questions: Sequence[str],
    *,
    clients: int = 16,
    duration_s: float = 60.0,
    max_requests: int | None = None,
    request_timeout_s: float = 120.0,
) -> LoadResult:
    """``clients`` sessions ask ``questions`` in turn until ``duration_s`` or ``max_requests`` is reached."""
    from gradio_client import Client

    require_loopback(url)
    if not questions:
        raise ValueError("no questions to ask")
    lock = threading.Lock()
    budget = [max_requests if max_requests is not None else sys.maxsize]
    in_flight = [0]
    result = LoadResult(clients=clients, wall_s=0.0)
    clock = [0.0, 0.0]  # start, deadline: set once every session is connected, before any asks

    def start_clock() -> None:
        clock[0] = time.monotonic()
        clock[1] = clock[0] + duration_s

    ready = threading.Barrier(clients + 1, action=start_clock)

    def take_turn() -> bool:
        with lock:
            if budget[0] <= 0 or time.monotonic() >= clock[1]:
                return False
            budget[0] -= 1
            in_flight[0] += 1
            result.max_in_flight = max(result.max_in_flight, in_flight[0])
            return True

    def session(number: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as err:
            with lock:
                result.errors.append(f"client {number} could not connect: {err!r}")
            ready.wait()
            return
        ready.wait()
        turn = number
        while take_turn():
            question = questions[turn % len(questions)]
            turn += clients
            started = time.perf_counter()
            try:
                answer = client.submit(question, api_name="/ask").result(timeout=request_timeout_s)
                problem = check_answer(question, answer)
            except Exception as err:
                problem = repr(err)
                answer = None
            elapsed = time.perf_counter() - started
            with lock:
                in_flight[0] -= 1
                if problem:
                    result.errors.append(f"{question!r}: {problem}")
                else:
                    result.latencies_s.append(elapsed)
                    result.abstained += bool(answer.get("abstained"))

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()  # every session is connected: the clock starts for all together
    for thread in threads:
        thread.join(duration_s + request_timeout_s + 30)
    result.wall_s = time.monotonic() - clock[0]
    if any(thread.is_alive() for thread in threads):
        result.errors.append("a session did not finish in time")
    return result


def eval_questions(path: Path = PROJECT_ROOT / "eval" / "muscle_spasms.jsonl") -> list[str]:
    with open(path, encoding="utf-8") as handle:
        questions = [json.loads(line)["q"] for line in handle if line.strip()]
    return questions + list(EXTRA_QUESTIONS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an app already running on this machine (default: start one)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent sessions (default 16)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument(
        "--max-requests", type=int, default=20_000, help="stop after this many requests (default 20000)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256:
        parser.error("--clients must be between 1 and 256")
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be between 0 and 3600 seconds")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    server = None
    url = args.url
    if url is None:
        from tests.app_server import start_app

        print("starting the app on the bundled corpus (model load and index build first)...", flush=True)
        server = start_app(PROJECT_ROOT / "corpus", Path(tempfile.mkdtemp(prefix="quotebot-load-")))
        url = server.url
    try:
        require_loopback(url)
        print(
            f"{args.clients} clients for {args.duration:.0f} s against {url} ({os.cpu_count()} CPU cores)", flush=True
        )
        result = run_load(
            url.rstrip("/") + "/",
            eval_questions(),
            clients=args.clients,
            duration_s=args.duration,
            max_requests=args.max_requests,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()
    print(result.table())
    for error in result.errors[:10]:
        print(f"error: {error}", file=sys.stderr)
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
