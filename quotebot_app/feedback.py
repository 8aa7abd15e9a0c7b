"""Feedback from the page: one JSON line per thumbs up or down, so that
``grep '"abstained": true'`` lists the questions the bot could not answer."""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from pathlib import Path
from typing import Any, Mapping

__all__ = ["FeedbackLog"]


class FeedbackLog:
    """Appends votes to a JSON Lines file, one ``os.write`` per line so lines never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @staticmethod
    def record(answer: Mapping[str, Any], vote: str) -> dict:
        return {
            "time": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "question": answer.get("question", ""),
            "searched_as": answer.get("searched_as", ""),
            "vote": vote,
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

    def append(self, answer: Mapping[str, Any], vote: str) -> dict:
        if vote not in ("up", "down"):
            raise ValueError(f"a vote is 'up' or 'down', not {vote!r}")
        entry = self.record(answer, vote)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return entry
