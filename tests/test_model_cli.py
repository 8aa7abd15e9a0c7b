"""The real bundled model through the command lines, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.stores.faiss import manifest_checksum

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("cli")
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    index = work / "index"
    result = _run(["-m", "indexer", "build", "--corpus", str(corpus), "--index", str(index)])
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    return corpus, index


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


def test_second_build_with_nothing_changed_does_no_work(built):
    corpus, index = built
    result = _run(["-m", "indexer", "build", "--corpus", str(corpus), "--index", str(index)])
    assert result.returncode == 0
    assert "up to date, nothing to do" in result.stdout


def test_ask_json_from_stdin_quotes_verbatim_then_abstains(built):
    corpus, index = built
    result = _run(
        ["-m", "bot", "ask", "--json", "--index", str(index), "--corpus", str(corpus)],
        stdin="What is a muscle spasm?\nWho won the world cup?\n",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    first, second = lines
    source = (ROOT / "corpus" / "muscle_spasms.txt").read_bytes().decode("utf-8")
    assert not first["abstained"] and first["passages"]
    for p in first["passages"]:
        assert source[p["start"] : p["end"]] == p["text"]
        assert p["source"].endswith("muscle_spasms.txt")
    assert any("involuntary muscle contraction" in p["text"] for p in first["passages"])
    assert second["abstained"] and second["message"] == "The source text doesn't cover this."


def test_bot_refuses_an_index_of_another_model_with_a_rebuild_hint(built, tmp_path):
    corpus, index = built
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    gen = (copy / "CURRENT").read_text().strip()
    manifest_path = copy / gen / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"] = "some-other-model"
    manifest.pop("checksum")
    manifest["checksum"] = manifest_checksum(manifest)  # a whole manifest of another model, not a damaged one
    manifest_path.write_text(json.dumps(manifest))
    result = _run(["-m", "bot", "ask", "--index", str(copy), "--corpus", str(corpus), "hello"])
    assert result.returncode == 2
    assert "some-other-model" in result.stderr and "python -m indexer build" in result.stderr


def test_eval_prints_every_metric_as_json(built, tmp_path):
    corpus, index = built
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"q": "What is tetany?", "gold": ["Tetany is continuous or periodic spasms of muscles."]})
        + "\n"
        + json.dumps({"q": "Who won the 2018 football world cup?"})
        + "\n",
        encoding="utf-8",
    )
    result = _run(["-m", "bot", "eval", str(qa), "--json", "--index", str(index), "--corpus", str(corpus)])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["hit_at_3"] == 1.0
    assert report["correctly_abstained"] == 1.0
    for key in ("hit_at_1", "mrr", "wrongly_abstained", "mean_passage_chars", "median_seconds"):
        assert key in report


def test_commands_print_no_weights_progress_bar(built):
    corpus, index = built
    result = _run(["-m", "bot", "ask", "--index", str(index), "--corpus", str(corpus), "What is a muscle spasm?"])
    assert result.returncode == 0, result.stderr
    assert "Loading weights" not in result.stderr and "Loading weights" not in result.stdout
