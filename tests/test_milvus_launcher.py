"""The loopback Milvus launcher and the test fixture fail early and say why, without starting a server."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.milvus_server import ServerUnavailable, start_milvus_server


def test_fixture_names_the_package_when_the_server_package_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "milvus", None)  # makes "import milvus" fail
    with pytest.raises(ServerUnavailable, match=r'pip install -e "\.\[test\]"'):
        start_milvus_server(tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_launcher_refuses_a_port_in_use_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "bench.milvus_server", "--data", str(tmp_path / "data"), "--port", str(port)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr and "choose another --port" in run.stderr
    assert not (tmp_path / "data" / "configs").exists()  # no server was configured
