"""What ``Bot.ask`` accepts besides the question, read leniently: it promises never to raise, and
the API hands it whatever JSON a client sent (``"abc"``, ``NaN``, ``[3]``, ``5`` for a history)."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["passage_count", "earlier_questions"]

MAX_PASSAGES = 10
MAX_HISTORY = 20  # earlier questions looked at; a follow-up reaches back three at most


def passage_count(k: object, default: int) -> int:
    """``k`` as a number of passages from 1 to ``MAX_PASSAGES``; zero, and anything that is not a
    finite number (or a string of one), means ``default``."""
    value: float | None = None
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        value = float(k)
    elif isinstance(k, str):
        try:
            value = float(k.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or value == 0:
        value = float(default)
    return max(1, min(int(value), MAX_PASSAGES))


def earlier_questions(history: object) -> list[str]:
    """The earlier questions of a conversation as strings: a lone string is one question, any
    other non-list value means none, and ``None`` entries are skipped."""
    if history is None:
        return []
    if isinstance(history, str):
        return [history]
    if isinstance(history, (bytes, dict)) or not isinstance(history, Iterable):
        return []
    return [str(h) for h in list(history)[-MAX_HISTORY:] if h is not None]
