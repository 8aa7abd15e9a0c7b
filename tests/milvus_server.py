"""A real Milvus server for the tests: one per session, on loopback only.

The server is the PyPI package ``milvus`` (2.3.5: the standalone engine, embedded
etcd, local storage), started by ``python -m bench.milvus_server``, which keeps it in
a private network namespace and forwards one port of 127.0.0.1 to it (Milvus 2.3.5
itself would listen on every interface). Tests that use it are marked
``milvus_server``; they are skipped, with the reason, only where the server cannot
start (package missing, no network namespaces, not Linux), unless
``QUOTEBOT_REQUIRE_MILVUS_SERVER=1`` (CI) turns that into a failure.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIRE_ENV = "QUOTEBOT_REQUIRE_MILVUS_SERVER"
START_TIMEOUT = 300.0  # seconds; a cold start on 2 busy cores takes 10-60 s


class ServerUnavailable(RuntimeError):
    """The server could not start here; the message is the reason a skip reports."""


@dataclass
class MilvusServer:
    """One running ``bench.milvus_server`` launcher (which owns the Milvus process) and its data folder."""

    data: Path
    port: int
    process: subprocess.Popen
    server_pid: int
    lines: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM the launcher, which stops the server and waits for it; kill both if that hangs."""
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()  # the server dies with it (parent-death signal)
                process.wait(timeout=15)
        _wait_gone(self.server_pid)


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.1)


def start_milvus_server(data: Path, port: int = 0, timeout: float = START_TIMEOUT) -> MilvusServer:
    """Start a server on ``data`` (never one already in use) and return once it answers."""
    try:
        import milvus  # noqa: F401
    except ImportError as err:
        raise ServerUnavailable('the Milvus server package is not installed: pip install -e ".[test]"') from err
    if sys.platform != "linux":
        raise ServerUnavailable("the loopback-only Milvus launcher needs Linux network namespaces")
    data.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.milvus_server",
            "--data",
            str(data),
            "--port",
            str(port),
            "--timeout",
            str(timeout),
            "--stop-timeout",
            "5",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout + 30)
        except queue.Empty:
            line = None
        if line is None:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=15)
            raise ServerUnavailable(f"the Milvus server did not start: {' | '.join(seen[-5:]) or 'no output'}")
        seen.append(line)
        if line.startswith("READY "):
            fields = dict(part.split("=", 1) for part in line.split()[2:])
            return MilvusServer(data, int(line.split()[1].rsplit(":", 1)[1]), process, int(fields["server"]), seen)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):
    """One real Milvus server for the whole session, stopped (with its children) at the end."""
    try:
        server = start_milvus_server(tmp_path_factory.mktemp("milvus-server"))
    except ServerUnavailable as err:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{err} (and ${REQUIRE_ENV}=1)")
        pytest.skip(str(err))
    try:
        yield server
    finally:
        server.stop()
