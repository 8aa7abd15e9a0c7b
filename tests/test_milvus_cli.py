"""The command-line tools against Milvus Lite with the real model, each in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.loaders import load_document
from tests.conftest import BUNDLED_CORPUS, PROJECT_ROOT

pytestmark = pytest.mark.slow  # benchmarks and Milvus Lite: run with -m slow, left out of the fast tier


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.model
def test_cli_builds_into_milvus_lite_and_quotes_verbatim(tmp_path: Path) -> None:
    uri = str(tmp_path / "milvus.db")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QUOTEBOT_INDEX": str(tmp_path / "unused")}
    built = _run("indexer", "build", "--store", "milvus", "--uri", uri, "--corpus", str(BUNDLED_CORPUS), env=env)
    assert built.returncode == 0, built.stderr
    assert "1 added" in built.stdout

    asked = _run("bot", "ask", "--store", "milvus", "--uri", uri, "--json", "What is a muscle spasm?", env=env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and answer["passages"]
    for passage in answer["passages"]:
        source = load_document(BUNDLED_CORPUS / passage["document"], passage["document"]).text
        assert source[passage["start"] : passage["end"]] == passage["text"]
    assert any("spasm" in p["text"].lower() for p in answer["passages"])
    assert not (tmp_path / "unused").exists()  # nothing was written outside the Milvus database
