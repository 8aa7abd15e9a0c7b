"""Bounded work per document: text, passages and time to read are limited, and a document over a limit
is refused with a message that names the file and the limit, while the others are added. Real processes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from indexer.limits import DocumentLimits, load_within_limits
from indexer.loaders import DocumentError
from tests.fake_indexer import run_fake_indexer

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _indexer(*args: str, timeout: float = 60, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = run_fake_indexer(*args, timeout=timeout, **env)
    return result, time.monotonic() - started


def _sentences(n: int) -> str:
    """One paragraph of ``n`` short sentences: about three passages per sentence."""
    return " ".join(f"Fact number {i} is short." for i in range(n))


def test_documents_over_a_limit_are_refused_by_name_and_the_others_added(tmp_path, small_corpus):
    many = tmp_path / "many-passages.txt"
    many.write_text(_sentences(1000), encoding="utf-8")  # 26,000 characters, about 2,900 passages
    long = tmp_path / "long-text.txt"
    long.write_text("Cramps come at night. " * 4000, encoding="utf-8")  # 88,000 characters
    fine = tmp_path / "magnesium.txt"
    fine.write_text("Magnesium helps some people with cramps at night.\n", encoding="utf-8")
    index = tmp_path / "index"
    limits = {"QUOTEBOT_MAX_DOCUMENT_CHARS": "50000", "QUOTEBOT_MAX_DOCUMENT_PASSAGES": "1000"}
    result, _ = _indexer(
        "add", str(many), str(long), str(fine), "--corpus", str(small_corpus), "--index", str(index), **limits
    )
    assert result.returncode == 1, result.stderr
    assert "refused many-passages.txt: it makes" in result.stderr
    assert "over the limit of 1,000 per document (QUOTEBOT_MAX_DOCUMENT_PASSAGES)" in result.stderr
    assert "long-text.txt: its text is 88,000 characters, over the limit of 50,000" in result.stderr
    listed, _ = _indexer("list", "--json", "--corpus", str(small_corpus), "--index", str(index))
    assert [d["name"] for d in json.loads(listed.stdout)] == ["magnesium.txt"]
    assert sorted(p.name for p in small_corpus.iterdir()) == ["cramps.txt", "magnesium.txt", "sleep.md"]

    (small_corpus / "long-text.txt").write_bytes(long.read_bytes())  # put in by hand: build skips it, by name
    built, _ = _indexer("build", "--corpus", str(small_corpus), "--index", str(index), **limits)
    assert built.returncode == 0 and "skipped long-text.txt: its text is 88,000 characters" in built.stderr, (
        built.stderr
    )


def test_a_document_that_takes_too_long_to_read_is_stopped_at_the_time_limit(tmp_path):
    slow = tmp_path / "slow.txt"
    slow.write_text(_sentences(80_000), encoding="utf-8")  # 2.2 MB: seconds to split into passages
    started = time.monotonic()
    with pytest.raises(DocumentError, match=r"slow.txt: reading it took longer than 0.3 s, the limit per document"):
        load_within_limits(
            slow, "slow.txt", limits=DocumentLimits(max_seconds=0.3, max_passages=10**9, max_chars=10**9)
        )
    assert time.monotonic() - started < 10


def test_deeply_nested_tables_cannot_hold_the_indexer_for_minutes(tmp_path, small_corpus):
    """On the old code this page took over a minute to parse while holding the writer's lock."""
    nested = tmp_path / "nested.html"
    nested.write_text(
        "<html><body>" + "<table><tr><td>" * 10_000 + "deep" + "</td></tr></table>" * 10_000 + "</body></html>"
    )
    result, took = _indexer(
        "add",
        str(nested),
        "--corpus",
        str(small_corpus),
        "--index",
        str(tmp_path / "index"),
        timeout=40,
        QUOTEBOT_MAX_PARSE_SECONDS="3",
    )
    assert took < 30, result.stderr
    if result.returncode != 0:  # refused (unless the reader is fast on such pages): named, with the limit
        assert "nested.html: reading it took longer than 3 s" in result.stderr, result.stderr
