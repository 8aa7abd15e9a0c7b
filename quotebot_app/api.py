"""The ``/ask`` API's inputs, checked: a caller who sends the wrong type or an out-of-range value
gets an error that names the field and says what is allowed, never a silently changed request
(``k=11`` clamped to 10, a ``history`` string split into its characters).

Pure: ``check_request`` takes what the caller sent and returns an ``AskRequest`` or raises
``ApiInputError``; the handler turns that into Gradio's error, which the client raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["API_MAX_K", "AskRequest", "ApiInputError", "check_documents", "check_request"]

API_MAX_K = 10  # Bot.ask's own limit
MAX_HISTORY = 50  # earlier questions a caller may send (only the last few are read)


class ApiInputError(ValueError):
    """A field of an API request has the wrong type or value; the message says which and what is allowed."""


@dataclass(frozen=True)
class AskRequest:
    question: str
    k: int
    history: tuple[str, ...] = ()
    documents: tuple[str, ...] | None = None  # None: every document


def _kind(value: Any) -> str:
    return {
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def check_k(k: Any, default: int) -> int:
    if k is None:
        return default
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, int):
        raise ApiInputError(
            f"k must be a whole number from 1 to {API_MAX_K} (passages to return); got {_kind(k)}: {k!r}"
        )
    if not 1 <= k <= API_MAX_K:
        raise ApiInputError(f"k must be from 1 to {API_MAX_K} (passages to return); got {k}")
    return k


def check_strings(value: Any, field: str, what: str, *, limit: int) -> tuple[str, ...]:
    """A list of strings, or an error that says what the field holds and what it got."""
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ApiInputError(f"{field} must be a list of {what} (strings); got {_kind(value)}: {_short(value)}")
    if len(value) > limit:
        raise ApiInputError(f"{field} may hold at most {limit} items; got {len(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ApiInputError(f"{field}[{i}] must be a string; got {_kind(item)}: {_short(item)}")
    return tuple(value)


def check_request(question: Any, k: Any, history: Any, *, default_k: int, documents: Any = None) -> AskRequest:
    """The request as the bot takes it, or ``ApiInputError`` naming the first bad field."""
    if question is None:
        question = ""
    if not isinstance(question, str):
        raise ApiInputError(f"question must be a string; got {_kind(question)}: {_short(question)}")
    earlier = (
        ()
        if history is None
        else check_strings(history, "history", "earlier questions, oldest first", limit=MAX_HISTORY)
    )
    chosen = None if documents is None else check_strings(documents, "documents", "document names", limit=10_000)
    return AskRequest(question, check_k(k, default_k), earlier, chosen)


def check_documents(names: tuple[str, ...] | None, indexed: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The chosen documents, each one in the index (its name, as ``indexer list`` shows it)."""
    if names is None:
        return None
    if not names:
        raise ApiInputError("documents must name at least one document; leave it out to search them all")
    unknown = [n for n in names if n not in indexed]
    if unknown:
        listed = ", ".join(sorted(indexed)[:20]) or "none"
        raise ApiInputError(f"documents: {unknown[0]!r} is not in the index; the documents are: {listed}")
    return tuple(dict.fromkeys(names))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
