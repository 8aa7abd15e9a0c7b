"""Feedback from the page, and what it tells the collection's owner.

The log is JSON Lines with **one line per answer**, keyed by the answer's ``id`` (made when the
answer is shown, so it ties the vote to the question and the quotes the reader saw): a vote,
a changed vote, a comment or an undo rewrites that answer's line (atomically: a temporary file
renamed over the log); a first entry is appended. The page also records every refusal (``vote``
null, ``abstained`` true), so the owner sees what the documents lack even when nobody voted.

``python -m quotebot_app.feedback`` (or ``quotebot feedback``) lists the questions people marked
unhelpful and the ones the bot refused, most frequent first.

The log is bounded: past ``MAX_BYTES`` it is moved to ``<name>.1`` (replacing the one before)
and a new one is started, so votes from any number of clicks take at most twice that on disk.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["FeedbackLog", "MAX_BYTES", "MAX_COMMENT_CHARS", "Summary", "new_answer_id", "summarize", "main"]

MAX_BYTES = 5 * 1024 * 1024  # about 1,000 votes on answers of three passages

MAX_COMMENT_CHARS = 1000
VOTES = ("up", "down")


def new_answer_id() -> str:
    """A random id for one answer shown (not derived from the question: the same question asked
    twice is two answers, each with its own vote)."""
    return uuid.uuid4().hex[:16]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


class FeedbackLog:
    """One line per answer; writes are atomic and one at a time (in this process)."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @staticmethod
    def record(
        answer: Mapping[str, Any],
        vote: str | None,
        *,
        answer_id: str = "",
        comment: str = "",
        documents: Sequence[str] = (),
    ) -> dict:
        entry = {
            "id": answer_id,
            "time": _now(),
            "question": answer.get("question", ""),
            "searched_as": answer.get("searched_as", ""),
            "vote": vote,
            "comment": comment,
            "abstained": bool(answer.get("abstained")),
            "passages": [
                {
                    "source": p.get("source"),
                    "document": p.get("document"),
                    "start": p.get("start"),
                    "end": p.get("end"),
                    "text": p.get("text"),
                }
                for p in answer.get("passages") or ()
            ],
        }
        if documents:
            entry["documents"] = list(documents)  # asked within these documents only
        return entry

    def entries(self) -> list[dict]:
        """Every line that parses; a damaged line (a crash mid-write by an older version) is skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def set(
        self,
        answer: Mapping[str, Any],
        answer_id: str,
        vote: str | None,
        *,
        comment: str | None = None,
        documents: Sequence[str] = (),
    ) -> dict:
        """Record the reader's current vote (``None``: withdrawn) and comment for one answer.

        ``comment=None`` keeps the comment already recorded. Returns the line as written.
        """
        if vote is not None and vote not in VOTES:
            raise ValueError(f"a vote is 'up', 'down' or None, not {vote!r}")
        if not answer_id:
            raise ValueError("an answer id is needed, so that a changed vote replaces the first one")
        with self._lock:
            entries = self.entries()
            old = next((e for e in entries if e.get("id") == answer_id), None)
            kept = (old or {}).get("comment", "") if comment is None else comment
            entry = self.record(
                answer, vote, answer_id=answer_id, comment=str(kept)[:MAX_COMMENT_CHARS], documents=documents
            )
            if old is None:
                self._append(entry)
            else:
                self._rewrite([entry if e is old else e for e in entries])
        return entry

    def append(self, answer: Mapping[str, Any], vote: str) -> dict:
        """A vote on an answer shown without an id (a caller of the library): a new line of its own."""
        if vote not in VOTES:
            raise ValueError(f"a vote is 'up' or 'down', not {vote!r}")
        return self.set(answer, new_answer_id(), vote)

    def _append(self, entry: dict) -> None:
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.path.stat().st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write per line: lines never interleave
        finally:
            os.close(fd)

    def _rewrite(self, entries: Iterable[dict]) -> None:
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        fd, tmp = tempfile.mkstemp(prefix=".feedback-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# ---- what the owner reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Questions to look at, each with how often: (count, question), most frequent first."""

    unhelpful: tuple[tuple[int, str], ...]
    refused: tuple[tuple[int, str], ...]
    comments: tuple[tuple[str, str], ...]  # (question, comment) of the answers marked unhelpful


def _key(question: str) -> str:
    return " ".join(str(question).split()).casefold()


def _ranked(questions: Iterable[str]) -> tuple[tuple[int, str], ...]:
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for q in questions:
        key = _key(q)
        if key:
            counts[key] += 1
            shown.setdefault(key, " ".join(str(q).split()))
    return tuple((n, shown[key]) for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(entries: Iterable[Mapping[str, Any]]) -> Summary:
    entries = list(entries)
    down = [e for e in entries if e.get("vote") == "down"]
    return Summary(
        unhelpful=_ranked(e.get("question", "") for e in down),
        refused=_ranked(e.get("question", "") for e in entries if e.get("abstained")),
        comments=tuple((str(e.get("question", "")), str(e["comment"])) for e in down if e.get("comment")),
    )


def format_summary(summary: Summary, path: Path) -> str:
    def block(title: str, rows: Sequence[tuple[int, str]], none: str) -> list[str]:
        if not rows:
            return [f"{title}: {none}"]
        width = len(str(rows[0][0]))
        return [f"{title} ({len(rows)} question{'s' if len(rows) != 1 else ''}, most frequent first):"] + [
            f"  {n:>{width}}  {q}" for n, q in rows
        ]

    lines = [f"feedback: {path}", ""]
    lines += block("Marked unhelpful", summary.unhelpful, "none")
    lines.append("")
    lines += block("Refused (the documents did not answer)", summary.refused, "none")
    if summary.comments:
        lines += ["", "Comments on unhelpful answers:"] + [f"  {q}: {c}" for q, c in summary.comments]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    from indexer.settings import add_settings_flags, settings_from_args

    parser = argparse.ArgumentParser(
        prog=prog or "python -m quotebot_app.feedback",
        description="List the questions people marked unhelpful and the ones the bot refused, most frequent first.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    try:
        path = settings_from_args(args).feedback_path
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not path.exists():
        print(f"no feedback yet: {path} does not exist (the page writes it; pass --feedback FILE to read another)")
        return 0
    try:
        summary = summarize(FeedbackLog(path).entries())
    except OSError as err:
        print(f"error: cannot read {path}: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "unhelpful": [{"count": n, "question": q} for n, q in summary.unhelpful],
                    "refused": [{"count": n, "question": q} for n, q in summary.refused],
                    "comments": [{"question": q, "comment": c} for q, c in summary.comments],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(format_summary(summary, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
