"""Damage that ``build`` repairs and that every command names: a manifest checksum entry for a file that
is not there, a changed character in the manifest (titles, calibration). Real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.build import build_corpus
from indexer.stores.faiss import FaissStore, manifest_checksum
from tests.fakes import FakeEmbedder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(PROJECT_ROOT))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True, timeout=120
    )


def _damage_manifest(index: Path, how: str) -> None:
    path = index / (index / "CURRENT").read_text().strip() / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if how == "checksum-of-a-missing-file":  # a whole, signed manifest that names a file the folder lacks
        data["crc32"]["index.faiss.old"] = 1234
        data.pop("checksum")
        data["checksum"] = manifest_checksum(data)
    elif how == "one-character-of-a-title":
        data["documents"]["cramps.txt"]["title"] = data["documents"]["cramps.txt"]["title"][:-1] + "z"
    elif how == "one-digit-of-the-calibration":
        key = next(k for k, v in data["calibration"].items() if isinstance(v, float))
        text = repr(data["calibration"][key])
        data["calibration"][key] = float(text[:-1] + ("1" if text[-1] != "1" else "2"))
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


@pytest.mark.parametrize(
    "how", ["checksum-of-a-missing-file", "one-character-of-a-title", "one-digit-of-the-calibration"]
)
def test_a_damaged_manifest_is_named_by_every_command_and_build_repairs_it(tmp_path, small_corpus, how):
    index = tmp_path / "index"
    build_corpus(small_corpus, FaissStore(index), FakeEmbedder())
    _damage_manifest(index, how)
    where = ["--corpus", str(small_corpus), "--index", str(index)]
    for command in (
        ["-m", "tests.fake_indexer", "list", *where],
        ["-m", "bot", "ask", "--index", str(index), "What is a leg cramp?"],
    ):
        result = _run(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "damaged" in result.stderr and f"python -m indexer build --index {index}" in result.stderr, result.stderr
        assert "Errno" not in result.stderr and "Traceback" not in result.stderr
    built = _run("-m", "tests.fake_indexer", "build", *where)
    assert built.returncode == 0 and "warning: the index is damaged" in built.stderr, built.stderr
    listed = _run("-m", "tests.fake_indexer", "list", "--json", *where)
    assert listed.returncode == 0, listed.stderr
    titles = {d["name"]: d["title"] for d in json.loads(listed.stdout)}
    assert sorted(titles) == ["cramps.txt", "sleep.md"] and not titles["cramps.txt"].endswith("z")
