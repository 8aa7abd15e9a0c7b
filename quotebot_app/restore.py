"""A conversation brought back from the browser's storage after a reload, checked before use.

The browser keeps a copy of the turns (``gr.BrowserState``); what it sends back could have been
edited, so nothing in it is trusted: every field is type-checked and bounded, and every quote must
still be the exact slice of its document in the index, or the turn is dropped. Pure, given a
function that returns a document's text (or ``None`` when it is not in the index).
"""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["restore_turns"]

MAX_TURNS = 50
_ID = re.compile(r"^[0-9a-f]{8,32}$")


def _text(value: Any, limit: int = 5000) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _strings(value: Any, limit: int = 20) -> list[str]:
    return [v[:1000] for v in value[:limit] if isinstance(v, str)] if isinstance(value, list) else []


def _passage(raw: Any, document_text: Callable[[str], str | None]) -> dict | None:
    if not isinstance(raw, dict):
        return None
    name, start, end, text = raw.get("document"), raw.get("start"), raw.get("end"), raw.get("text")
    if not (isinstance(name, str) and isinstance(text, str) and type(start) is int and type(end) is int):
        return None
    source = document_text(name)
    if source is None or not 0 <= start < end <= len(source) or source[start:end] != text:
        return None
    passage = {
        key: raw[key]
        for key in ("source", "title", "location", "heading", "relevance")
        if isinstance(raw.get(key), str)
    }
    passage.update(document=name, start=start, end=end, text=text, score=0.0)
    if isinstance(raw.get("score"), (int, float)) and not isinstance(raw.get("score"), bool):
        passage["score"] = float(raw["score"])
    best = raw.get("best_sentence")
    if isinstance(best, dict) and type(best.get("start")) is int and type(best.get("end")) is int:
        b_start, b_end = best["start"], best["end"]
        if start <= b_start < b_end <= end:
            passage["best_sentence"] = {"start": b_start, "end": b_end, "text": source[b_start:b_end]}
    return passage


def _turn(raw: Any, document_text: Callable[[str], str | None]) -> dict | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("answer"), dict):
        return None
    answer = raw["answer"]
    question = _text(answer.get("question"))
    if not question:
        return None
    passages = []
    for item in answer.get("passages") or [] if isinstance(answer.get("passages"), list) else []:
        passage = _passage(item, document_text)
        if passage is None:
            return None  # a quote that no longer checks out: the whole turn goes, not half of it
        passages.append(passage)
    abstained = answer.get("abstained") is True
    if not abstained and not passages:
        return None
    restored = {
        "answer": {
            "question": question,
            "abstained": abstained,
            "message": _text(answer.get("message"), 1000) or "",
            "passages": passages,
            "notice": _text(answer.get("notice"), 2000) or "",
            "suggestions": _strings(answer.get("suggestions"), 10),
            "searched_as": _text(answer.get("searched_as")) or question,
        },
        "vote": raw.get("vote") if raw.get("vote") in ("up", "down") else None,
    }
    if isinstance(raw.get("id"), str) and _ID.match(raw["id"]):
        restored["id"] = raw["id"]
    if _text(raw.get("comment"), 1000):
        restored["comment"] = raw["comment"][:1000]
    if _strings(raw.get("documents")):
        restored["documents"] = _strings(raw.get("documents"))
    return restored


def restore_turns(saved: Any, document_text: Callable[[str], str | None]) -> list[dict]:
    """The turns of ``saved`` that check out, oldest first, at most ``MAX_TURNS``."""
    if not isinstance(saved, list):
        return []
    cache: dict[str, str | None] = {}

    def text_of(name: str) -> str | None:
        if name not in cache:
            cache[name] = document_text(name)
        return cache[name]

    turns = [_turn(raw, text_of) for raw in saved[-MAX_TURNS:]]
    return [t for t in turns if t is not None]
