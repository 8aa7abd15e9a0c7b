"""The chat page: a Gradio shell over ``bot.Bot`` that shows quotes, their sources and asks for feedback.

``build_app(bot, settings)`` builds the page and the ``/ask`` API endpoint;
``main()`` brings the index up to date, loads the model once and serves.
Nothing here retrieves or ranks: every word on the page comes from an
``Answer``, from ``bot.store`` or from ``indexer.manage`` (the Documents panel,
which adds and removes documents), and all of it is escaped with
``html.escape`` before it reaches the browser, so a document, a file name or a
question can never add markup or script to the page.

Run ``python app.py --help`` for the flags; see ``Settings`` for the
environment variables.
"""

import argparse
import contextlib
import datetime as _dt
import html
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import gradio as gr

from starlette.middleware import Middleware

from bot.answer import ABSTAIN_MESSAGE
from bot.bot import Bot, open_settings_store
from indexer.loaders import LOADERS, DocumentError
from indexer.manage import IndexBusy, add_files, index_added, index_lock, remove_document
from indexer.settings import Settings
from indexer.stores import DocumentRecord, IndexError_

__all__ = [
    "build_app",
    "main",
    "page_style",
    "load_auth",
    "FeedbackLog",
    "render_conversation",
    "render_source",
    "render_documents",
    "render_change",
    "ChangeReport",
    "management_off_reason",
    "AuthError",
    "exposure_warning",
]

log = logging.getLogger("quotebot.app")

MAX_TURNS = 50  # turns kept per browser session: bounds memory and page size
HISTORY_TURNS = 5  # previous questions passed to Bot.ask for follow-ups
UI_MAX_K = 5  # the page offers 1-5 passages; the API accepts up to 10 (Bot.ask's own limit)
CONCURRENCY = 8  # events served at once; Bot.ask is thread-safe (the model call is serialised)
SOURCE_WINDOW = 200_000  # characters of a very long document shown around a quote
THEME_KEY = "quotebot-theme"
UPLOAD_FORMATS = (".txt", ".md", ".html", ".pdf", ".docx")  # named on the page; .htm and .markdown work too
LOCK_WAIT_S = 600  # how long an upload or removal waits for another change to the index to finish

# --------------------------------------------------------------------------------------------
# Rendering: pure functions from answer dicts (Answer.to_dict()) to escaped HTML.
# --------------------------------------------------------------------------------------------


def _e(text: object) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape("" if text is None else str(text), quote=True)


_RELEVANCE_BARS = {"high": 3, "medium": 2, "low": 1}


def _relevance(label: str) -> str:
    """Relevance in words with a small three-step bar, never a raw score."""
    label = label if label in _RELEVANCE_BARS else "low"
    filled = _RELEVANCE_BARS[label]
    bars = "".join(f'<i class="{"on" if i < filled else "off"}"></i>' for i in range(3))
    return (
        f'<span class="qb-rel qb-rel-{label}"><span class="qb-bars" aria-hidden="true">{bars}</span>'
        f"{label.capitalize()} relevance</span>"
    )


def _clamp_span(start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    start = min(max(int(start), lo), hi)
    end = min(max(int(end), start), hi)
    return start, end


def render_quote(passage: Mapping[str, Any]) -> str:
    """The passage text, escaped, with its best sentence in ``<strong>``."""
    text = str(passage.get("text", ""))
    base = int(passage.get("start", 0))
    best = passage.get("best_sentence") or {}
    b_start, b_end = _clamp_span(int(best.get("start", base)) - base, int(best.get("end", base)) - base, 0, len(text))
    if b_end <= b_start:
        return _e(text)
    return f'{_e(text[:b_start])}<strong class="qb-best">{_e(text[b_start:b_end])}</strong>{_e(text[b_end:])}'


def _button(label_html: str, action: str, turn: int, index: int = -1, *, cls: str, value: str = "", extra: str = "") -> str:
    attrs = f'type="button" class="{cls}" data-action="{action}" data-turn="{turn}" data-index="{index}"'
    if value:
        attrs += f' data-value="{_e(value)}"'
    return f"<button {attrs}{extra}>{label_html}</button>"


def _render_passage(turn: int, index: int, passage: Mapping[str, Any]) -> str:
    title = _e(passage.get("title") or passage.get("document") or "Document")
    location = _e(passage.get("location", ""))
    cite_label = f'<span class="qb-cite-title">{title}</span><span class="qb-cite-loc">{location}</span>'
    cite = _button(
        cite_label,
        "cite",
        turn,
        index,
        cls="qb-cite",
        extra=f' title="Show this quote in its document" aria-label="Source: {title}, {location}. Show in context"',
    )
    return (
        '<li class="qb-passage">'
        f'<blockquote class="qb-quote" data-start="{_int(passage.get("start"), 0)}" '
        f'data-end="{_int(passage.get("end"), 0)}">{render_quote(passage)}</blockquote>'
        f'<div class="qb-cite-row">{cite}{_relevance(str(passage.get("relevance", "low")))}</div>'
        "</li>"
    )


_THUMB = (
    '<svg class="qb-thumb" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false" '
    'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M7 10v12"/><path d="M15 5.88 14 10h5.83a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8'
    'a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z"/></svg>'
)


def _render_feedback(turn: int, vote: str | None) -> str:
    up = _button(
        f"{_THUMB}<span>Yes</span>", "vote", turn, cls="qb-vote qb-vote-up", value="up",
        extra=f' aria-label="Helpful" title="Helpful" aria-pressed="{"true" if vote == "up" else "false"}"',
    )
    down = _button(
        f"{_THUMB}<span>No</span>", "vote", turn, cls="qb-vote qb-vote-down", value="down",
        extra=f' aria-label="Not helpful" title="Not helpful" aria-pressed="{"true" if vote == "down" else "false"}"',
    )
    thanks = '<span class="qb-thanks" role="status">Thanks, noted.</span>' if vote else ""
    return f'<div class="qb-feedback"><span class="qb-feedback-q">Was this helpful?</span>{up}{down}{thanks}</div>'


def _render_reply(turn: int, answer: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if answer.get("abstained"):
        message = str(answer.get("message") or ABSTAIN_MESSAGE)
        if message == ABSTAIN_MESSAGE:
            message = "Sorry, I couldn't find this in the source text, so I won't guess an answer."
        parts.append(f'<p class="qb-abstain">{_e(message)}</p>')
        suggestions = list(answer.get("suggestions") or ())
        if suggestions:
            chips = "".join(
                _button(_e(s), "suggest", turn, i, cls="qb-chip") for i, s in enumerate(suggestions)
            )
            parts.append(
                '<p class="qb-lead">The source text does cover questions like these:</p>'
                f'<div class="qb-chips">{chips}</div>'
            )
    else:
        passages = list(answer.get("passages") or ())
        n = len(passages)
        parts.append(f'<p class="qb-lead">The source text says ({n} passage{"s" if n != 1 else ""}):</p>')
        items = "".join(_render_passage(turn, i, p) for i, p in enumerate(passages))
        parts.append(f'<ol class="qb-passages">{items}</ol>')
    if answer.get("notice"):
        parts.append(f'<p class="qb-notice">{_e(answer["notice"])}</p>')
    return "".join(parts)


def render_conversation(turns: Sequence[Mapping[str, Any]], examples: Sequence[str] = ()) -> str:
    """The whole transcript as escaped HTML; the example questions when it is empty.

    A live region, so a screen reader reads each new reply out.
    """
    return f'<div class="qb-log" role="log" aria-live="polite" aria-label="Conversation">{_transcript(turns, examples)}</div>'


def _transcript(turns: Sequence[Mapping[str, Any]], examples: Sequence[str]) -> str:
    if not turns:
        chips = "".join(_button(_e(q), "example", -1, i, cls="qb-chip") for i, q in enumerate(examples))
        intro = "Ask a question, or try one of these:" if examples else "Ask a question to begin."
        return f'<div class="qb-empty"><p class="qb-lead">{intro}</p><div class="qb-chips">{chips}</div></div>'
    out = []
    for i, turn in enumerate(turns):
        answer = turn.get("answer") or {}
        out.append(
            f'<article class="qb-turn" data-turn="{i}">'
            f'<div class="qb-user"><span class="qb-who">You asked</span><p class="qb-question">{_e(answer.get("question") or turn.get("question", ""))}</p></div>'
            f'<div class="qb-bot">{_render_reply(i, answer)}{_render_feedback(i, turn.get("vote"))}</div>'
            "</article>"
        )
    return "".join(out)


SOURCE_PLACEHOLDER = (
    '<div class="qb-source-empty"><h2 class="qb-source-heading">Source</h2>'
    "<p>Choose a citation under a quote to read the quote in its document, highlighted.</p></div>"
)


def render_source(passage: Mapping[str, Any], document_text: str, *, nonce: int = 0, window: int = SOURCE_WINDOW) -> str:
    """The document with the quoted span in ``<mark>`` (best sentence in ``<strong>``), all escaped.

    Very long documents are cut to ``window`` characters around the quote so the
    page stays responsive; the panel says so.
    """
    title = _e(passage.get("title") or passage.get("document") or "Document")
    start, end = _clamp_span(int(passage.get("start", 0)), int(passage.get("end", 0)), 0, len(document_text))
    note = ""
    if document_text[start:end] != passage.get("text"):
        note = (
            '<p class="qb-source-note" role="alert">The document has changed since this answer was given; '
            "the highlighted place may no longer match the quote.</p>"
        )
    lo, hi = 0, len(document_text)
    if hi > window:
        lo = max(0, start - window // 2)
        hi = min(len(document_text), max(end, lo + window))
        note += (
            f'<p class="qb-source-note">This document is long: showing characters {lo:,}–{hi:,} '
            f"of {len(document_text):,} around the quote.</p>"
        )
    best = passage.get("best_sentence") or {}
    b_start, b_end = _clamp_span(int(best.get("start", start)), int(best.get("end", start)), start, end)
    span = (
        f"{_e(document_text[start:b_start])}<strong class=\"qb-best\">{_e(document_text[b_start:b_end])}</strong>"
        f"{_e(document_text[b_end:end])}"
    )
    body = f'{_e(document_text[lo:start])}<mark class="qb-span">{span}</mark>{_e(document_text[end:hi])}'
    # The document's name in the corpus, not ``source``: that can be an absolute path on the server.
    meta = " · ".join(_e(x) for x in (passage.get("document", ""), passage.get("location", "")) if x)
    return (
        f'<div class="qb-source-inner" data-shown="{int(nonce)}">'
        f'<h2 class="qb-source-heading" tabindex="-1">{title}</h2>'
        f'<p class="qb-source-meta">{meta}</p>{note}'
        f'<div class="qb-doc" tabindex="0" role="region" aria-label="Full text of {title}">{body}</div>'
        "</div>"
    )


def render_header(title: str, description: str) -> str:
    return f'<header class="qb-header"><h1>{_e(title)}</h1><p>{_e(description)}</p></header>'


# --------------------------------------------------------------------------------------------
# Documents: what is indexed, and what an upload or a removal did.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeReport:
    """What an upload or a removal did, one line per file, for the status line of the panel."""

    done: tuple[str, ...] = ()  # files added, documents removed
    refused: tuple[str, ...] = ()  # files refused, each with why and what to do
    error: str = ""  # the change as a whole could not be made


def _when(indexed_at: str) -> str:
    """An ISO time as people read it, in UTC (the server's clock, not the reader's)."""
    try:
        moment = _dt.datetime.fromisoformat(indexed_at)
    except (TypeError, ValueError):
        return str(indexed_at or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _sorted_records(records: Mapping[str, DocumentRecord]) -> list[DocumentRecord]:
    return sorted(records.values(), key=lambda r: ((r.title or r.name).casefold(), r.name))


def _document_item(record: DocumentRecord, *, manage: bool, confirm: bool, focus: bool) -> str:
    title = _e(record.title or record.name)
    n = record.n_chunks
    meta = (
        f'<span class="qb-docs-file">{_e(record.name)}</span>'
        f'<span>{n} passage{"s" if n != 1 else ""}</span>'
        f'<span>indexed <time datetime="{_e(record.indexed_at)}">{_e(_when(record.indexed_at))}</time></span>'
    )
    actions = ""
    name = _e(record.name)
    if manage and confirm:
        actions = (
            f'<div class="qb-docs-actions qb-docs-confirm" role="group" aria-label="Remove {title}?">'
            '<span class="qb-docs-ask">Remove it from the collection?</span>'
            f'<button type="button" class="qb-docs-btn qb-docs-danger" data-action="remove" data-name="{name}" '
            f'data-autofocus aria-label="Yes, remove {title}">Yes, remove</button>'
            f'<button type="button" class="qb-docs-btn" data-action="cancel" data-name="{name}">Cancel</button>'
            "</div>"
        )
    elif manage:
        actions = (
            '<div class="qb-docs-actions">'
            f'<button type="button" class="qb-docs-btn" data-action="ask_remove" data-name="{name}" '
            f'aria-label="Remove {title}"{" data-autofocus" if focus else ""}>Remove</button></div>'
        )
    return (
        f'<li class="qb-docs-item" data-name="{name}"><div class="qb-docs-info">'
        f'<p class="qb-docs-title">{title}</p><p class="qb-docs-meta">{meta}</p></div>{actions}</li>'
    )


def render_documents(
    records: Mapping[str, DocumentRecord],
    *,
    manage: bool,
    confirm: str | None = None,
    focus: str | None = None,
    nonce: int = 0,
) -> str:
    """The indexed documents (title, file name, passages, when indexed), all escaped.

    With ``manage`` each has a Remove button; ``confirm`` names the one whose
    removal is waiting for a second click (which gets keyboard focus). ``focus``
    names the document whose Remove button gets focus, or "" for the list's
    heading: a click inside the list replaced the button that had it.
    """
    records = _sorted_records(records)
    focus_item = focus if focus and any(r.name == focus for r in records) else None
    items = [
        _document_item(r, manage=manage, confirm=r.name == confirm, focus=r.name == focus_item) for r in records
    ]
    n = len(items)
    heading = f"{n} document{'s' if n != 1 else ''} in the collection" if n else "No documents in the collection yet"
    focus_attr = " data-autofocus" if focus is not None and focus_item is None and confirm is None else ""
    body = f'<ul class="qb-docs-list">{"".join(items)}</ul>' if items else ""
    if not items and manage:
        body = '<p class="qb-docs-note">Add files above; answers will quote them.</p>'
    return (
        f'<div class="qb-docs-inner" data-shown="{int(nonce)}">'
        f'<h2 class="qb-docs-heading" tabindex="-1"{focus_attr}>{heading}</h2>{body}</div>'
    )


def render_change(report: ChangeReport | None) -> str:
    """The status line after an upload or a removal: every file named, refusals with their reason."""
    if report is None:
        return '<div class="qb-docs-status" role="status"></div>'
    parts = []
    if report.error:
        parts.append(f'<p class="qb-docs-error">{_e(report.error)}</p>')
    if report.done:
        parts.append('<ul class="qb-docs-done">' + "".join(f"<li>{_e(line)}</li>" for line in report.done) + "</ul>")
    if report.refused:
        n = len(report.refused)
        lead = f"{n} file{'s' if n != 1 else ''} could not be added:" if report.done or n > 1 else "This file could not be added:"
        parts.append(f'<p class="qb-docs-error">{_e(lead)}</p>')
        parts.append(
            '<ul class="qb-docs-refused">' + "".join(f"<li>{_e(line)}</li>" for line in report.refused) + "</ul>"
        )
    return f'<div class="qb-docs-status" role="status">{"".join(parts)}</div>'


DOCUMENTS_LOADING = '<div class="qb-docs-inner"><p class="qb-docs-note">Listing the documents...</p></div>'


def render_documents_intro(settings: Settings, *, manage: bool) -> str:
    formats = ", ".join(s for s in UPLOAD_FORMATS if s in LOADERS)
    if not manage:
        return (
            '<p class="qb-docs-note">These are the documents the answers quote. '
            "This page is read-only: documents cannot be added or removed here.</p>"
        )
    # Gradio's own size check (launch's max_file_size) runs in the browser and refuses the whole
    # choice when one file is too big, naming it; every other refusal is per file, from add_files.
    return (
        f'<p class="qb-docs-note">Add your own documents ({_e(formats)}): up to {settings.max_upload_files} files '
        f"at once, {_e(settings.max_upload_mb)} MB each (a choice that includes a bigger file is refused as a "
        "whole, naming it). They are indexed straight away, and answers quote them by title.</p>"
    )


# --------------------------------------------------------------------------------------------
# Feedback: one JSON line per vote.
# --------------------------------------------------------------------------------------------


class FeedbackLog:
    """Appends votes to a JSON Lines file, one ``os.write`` per line so lines never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @staticmethod
    def record(answer: Mapping[str, Any], vote: str) -> dict:
        return {
            "time": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
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


# --------------------------------------------------------------------------------------------
# The page.
# --------------------------------------------------------------------------------------------

_CHAT_JS = """
element.addEventListener('click', (event) => {
  const b = event.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const data = {turn: Number(b.dataset.turn), index: Number(b.dataset.index), value: b.dataset.value || ''};
  const action = b.dataset.action;
  if (action === 'cite') trigger('cite', data);
  else if (action === 'suggest' || action === 'example') trigger('ask', {...data, kind: action});
  else if (action === 'vote') trigger('vote', data);
});
watch('value', () => {
  const turns = element.querySelectorAll('.qb-turn');
  const count = String(turns.length);
  if (turns.length && element.dataset.count !== count) {
    element.dataset.count = count;
    turns[turns.length - 1].scrollIntoView({block: 'start', behavior: 'smooth'});
  } else if (!turns.length) {
    element.dataset.count = '0';
  }
});
"""

_SOURCE_JS = """
watch('value', () => {
  const mark = element.querySelector('mark.qb-span');
  const doc = element.querySelector('.qb-doc');
  if (!mark || !doc) return;
  doc.scrollTop = Math.max(0, mark.offsetTop - doc.clientHeight / 3);
  const box = element.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight * 0.6) element.scrollIntoView({block: 'start'});
  const heading = element.querySelector('.qb-source-heading');
  if (heading) heading.focus({preventScroll: true});
});
"""

_DOCS_JS = """
element.addEventListener('click', (event) => {
  const b = event.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const data = {name: b.dataset.name || ''};
  const action = b.dataset.action;
  if (action === 'ask_remove') trigger('ask_remove', data);
  else if (action === 'cancel') trigger('cancel', data);
  else if (action === 'remove') trigger('remove', data);
});
watch('value', () => {
  const target = element.querySelector('[data-autofocus]');
  if (target) target.focus({preventScroll: false});
});
"""

_THEME_TOGGLE_JS = f"""
() => {{
  const dark = !document.body.classList.contains('dark');
  document.body.classList.toggle('dark', dark);
  try {{ localStorage.setItem('{THEME_KEY}', dark ? 'dark' : 'light'); }} catch (e) {{}}
}}
"""

_LOAD_JS = f"""
() => {{
  try {{
    const saved = localStorage.getItem('{THEME_KEY}');
    if (saved) document.body.classList.toggle('dark', saved === 'dark');
  }} catch (e) {{}}
}}
"""

_CSS = """
:root { --qb-muted: #475569; --qb-link: #0f5fa8; }
.dark { --qb-muted: #cbd5e1; --qb-link: #8cc8ff; }
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#qb-chat *, #qb-source * { box-sizing: border-box; }
.qb-header h1 { font-size: 1.6rem; margin: 0.2em 0 0.3em; color: var(--body-text-color); }
.qb-header p { margin: 0; color: var(--qb-muted); max-width: 60em; }
#qb-chat, #qb-source { overflow-wrap: anywhere; word-break: normal; color: var(--body-text-color); }
#qb-chat { min-height: 8rem; }
.qb-turn { border-bottom: 1px solid var(--border-color-primary); padding: 0.75rem 0 1rem; scroll-margin-top: 0.5rem; }
.qb-turn:last-child { border-bottom: none; }
.qb-who { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--qb-muted); }
.qb-question { margin: 0.1rem 0 0.6rem; font-weight: 600; font-size: 1.05rem; white-space: pre-wrap; }
.qb-lead { margin: 0.3rem 0; color: var(--qb-muted); }
.qb-passages { list-style: none; margin: 0; padding: 0; }
.qb-passage { margin: 0 0 0.9rem; padding: 0; }
.qb-quote {
  margin: 0.2rem 0 0.35rem; padding: 0.6rem 0.9rem; white-space: pre-wrap; line-height: 1.55;
  border-left: 4px solid var(--color-accent); background: var(--background-fill-secondary);
  border-radius: 0 var(--radius-md) var(--radius-md) 0; color: var(--body-text-color); font-style: normal;
}
.qb-quote::before { content: "\\201C"; } .qb-quote::after { content: "\\201D"; }
.qb-best { font-weight: 600; text-decoration: underline; text-decoration-color: var(--color-accent);
  text-decoration-thickness: 2px; text-underline-offset: 3px; }
.qb-cite-row { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem 0.8rem; }
.qb-cite, .qb-chip, .qb-vote {
  font: inherit; cursor: pointer; color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  border-radius: var(--radius-md); padding: 0.3rem 0.6rem; text-align: left; max-width: 100%;
}
.qb-cite { display: inline-flex; flex-wrap: wrap; gap: 0 0.4rem; color: var(--qb-link);
  border-color: transparent; background: transparent; padding: 0.2rem 0.3rem; text-decoration: underline; }
.qb-cite-loc { color: var(--qb-muted); }
.qb-cite:hover, .qb-chip:hover, .qb-vote:hover { background: var(--background-fill-secondary); }
.qb-cite:focus-visible, .qb-chip:focus-visible, .qb-vote:focus-visible, .qb-doc:focus-visible,
.qb-source-heading:focus-visible { outline: 3px solid var(--color-accent); outline-offset: 2px; }
.qb-rel { display: inline-flex; align-items: center; gap: 0.35rem; font-size: 0.85rem; color: var(--qb-muted); }
.qb-bars { display: inline-flex; gap: 2px; align-items: flex-end; }
.qb-bars i { display: inline-block; width: 5px; border-radius: 1px; background: var(--border-color-primary); }
.qb-bars i:nth-child(1) { height: 6px; } .qb-bars i:nth-child(2) { height: 9px; } .qb-bars i:nth-child(3) { height: 12px; }
.qb-bars i.on { background: var(--color-accent); }
.qb-chips { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.4rem 0 0.6rem; }
.qb-chip { border-radius: 999px; padding: 0.35rem 0.8rem; }
.qb-abstain { margin: 0.2rem 0 0.4rem; }
.qb-notice { font-size: 0.85rem; color: var(--qb-muted); margin: 0.3rem 0; }
.qb-feedback { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem; font-size: 0.85rem;
  color: var(--qb-muted); }
.qb-vote { display: inline-flex; align-items: center; gap: 0.3rem; padding: 0.15rem 0.55rem; }
.qb-vote-down .qb-thumb { transform: rotate(180deg); }
.qb-vote[aria-pressed="true"] { border-color: var(--color-accent); background: var(--color-accent-soft); }
.qb-source-heading { font-size: 1.1rem; margin: 0 0 0.2rem; color: var(--body-text-color); }
.qb-source-meta, .qb-source-empty p { margin: 0 0 0.5rem; color: var(--qb-muted); font-size: 0.9rem; }
.qb-source-note { margin: 0 0 0.5rem; font-size: 0.85rem; color: var(--qb-muted); }
.qb-doc { position: relative; white-space: pre-wrap; line-height: 1.55; max-height: 70vh; overflow-y: auto;
  overflow-x: hidden; padding: 0.6rem 0.8rem; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-md); background: var(--background-fill-primary); }
mark.qb-span { background: #fff1a8; color: #1f2328; border-radius: 2px; padding: 0.05em 0; }
.dark mark.qb-span { background: #6b5a12; color: #fff8dc; }
#qb-docs-list, #qb-docs-status, #qb-docs .qb-docs-note { overflow-wrap: anywhere; color: var(--body-text-color); }
#qb-docs * { box-sizing: border-box; }
#qb-docs .html-container { padding: 0.25rem 0; }  /* text lines up with the drop zone's edge */
#qb-upload { border: 2px dashed var(--border-color-primary) !important; }
.qb-docs-note { margin: 0 0 0.4rem; color: var(--qb-muted); }
.qb-docs-heading { font-size: 1rem; margin: 0.6rem 0 0.3rem; color: var(--body-text-color); }
.qb-docs-list { list-style: none; margin: 0; padding: 0; }
.qb-docs-item { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.3rem 1rem;
  padding: 0.5rem 0; border-top: 1px solid var(--border-color-primary); }
.qb-docs-info { flex: 1 1 16rem; min-width: 0; }
.qb-docs-title { margin: 0; font-weight: 600; }
.qb-docs-meta { margin: 0.1rem 0 0; font-size: 0.85rem; color: var(--qb-muted); display: flex; flex-wrap: wrap;
  gap: 0 0.9rem; }
.qb-docs-file { font-family: var(--font-mono); }
.qb-docs-actions { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem; }
.qb-docs-ask { font-size: 0.9rem; }
.qb-docs-btn { font: inherit; font-size: 0.9rem; cursor: pointer; color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  border-radius: var(--radius-md); padding: 0.25rem 0.7rem; }
.qb-docs-btn:hover { background: var(--background-fill-secondary); }
.qb-docs-danger { border-color: #b42318; color: #b42318; }
.dark .qb-docs-danger { border-color: #fda29b; color: #fda29b; }
.qb-docs-btn:focus-visible, .qb-docs-heading:focus-visible { outline: 3px solid var(--color-accent); outline-offset: 2px; }
.qb-docs-status:empty, #qb-docs-status:has(.qb-docs-status:empty) { display: none; }
.qb-docs-status p, .qb-docs-status ul { margin: 0.2rem 0; }
.qb-docs-status ul { padding-left: 1.2rem; }
.qb-docs-error { color: #b42318; font-weight: 600; }
.dark .qb-docs-error { color: #fda29b; }
#qb-source-col { position: sticky; top: 0.5rem; align-self: flex-start; }
#qb-ask-row { align-items: stretch; }
@media (max-width: 700px) {
  #qb-source-col { position: static; }
  .qb-doc { max-height: 60vh; }
  .qb-header h1 { font-size: 1.3rem; }
}
"""


def page_style() -> dict[str, Any]:
    """Theme, CSS and JS for ``Blocks.launch`` (Gradio 6 takes them there, not in ``Blocks``)."""
    # Regular and Bold only: the SemiBold file Gradio ships is a subset that lacks some letters.
    font = (gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif")
    theme = gr.themes.Soft(primary_hue="teal", neutral_hue="slate", font=font)
    return {"theme": theme, "css": _CSS, "js": _LOAD_JS}


@dataclass
class _Page:
    """What the event handlers share: the bot, the settings and the feedback log."""

    bot: Bot
    settings: Settings
    feedback: FeedbackLog

    def examples(self) -> tuple[str, ...]:
        return tuple(self.bot.info.examples)

    def answer(self, question: str, k: int | None, turns: list[dict]) -> tuple[str, list[dict], str]:
        history = [str(t["answer"].get("question", "")) for t in turns[-HISTORY_TURNS:]]
        answer = self.bot.ask(question, history=history, k=_ui_k(k, self.settings))
        turns = (list(turns) + [{"answer": answer.to_dict(), "vote": None}])[-MAX_TURNS:]
        return render_conversation(turns, self.examples()), turns, ""

    def on_submit(self, question: str, k: float, turns: list[dict] | None):
        turns = list(turns or [])
        if not str(question or "").strip():
            return gr.skip(), turns, question
        return self.answer(question, k, turns)

    def on_ask(self, k: float, turns: list[dict] | None, evt: gr.EventData):
        turns = list(turns or [])
        data = getattr(evt, "_data", None) or {}
        question = None
        index = _int(data.get("index"))
        if data.get("kind") == "example":
            examples = self.examples()
            question = examples[index] if 0 <= index < len(examples) else None
        else:
            turn = _turn(turns, data.get("turn"))
            suggestions = (turn or {}).get("answer", {}).get("suggestions") or []
            question = suggestions[index] if 0 <= index < len(suggestions) else None
        if question is None:
            return gr.skip(), turns, gr.skip()
        return self.answer(question, k, turns)

    def on_cite(self, turns: list[dict] | None, evt: gr.EventData) -> str:
        data = getattr(evt, "_data", None) or {}
        turn = _turn(list(turns or []), data.get("turn"))
        passages = (turn or {}).get("answer", {}).get("passages") or []
        index = _int(data.get("index"))
        if not 0 <= index < len(passages):
            return gr.skip()
        passage = passages[index]
        try:
            text = self.bot.store.document_text(passage["document"])
        except (KeyError, OSError, IndexError_):
            return (
                '<div class="qb-source-empty"><h2 class="qb-source-heading" tabindex="-1">Source</h2>'
                f"<p>The document {_e(passage.get('title', ''))} is no longer in the index.</p></div>"
            )
        return render_source(passage, text, nonce=time.monotonic_ns())

    def on_vote(self, turns: list[dict] | None, evt: gr.EventData):
        turns = list(turns or [])
        data = getattr(evt, "_data", None) or {}
        index = _int(data.get("turn"))
        vote = data.get("value")
        if not 0 <= index < len(turns) or vote not in ("up", "down") or turns[index].get("vote") == vote:
            return gr.skip(), turns
        try:
            self.feedback.append(turns[index]["answer"], vote)
        except OSError as err:
            log.error("could not record feedback in %s: %s", self.feedback.path, err)
            gr.Warning("Sorry, your feedback could not be saved.")
            return gr.skip(), turns
        turns[index] = {**turns[index], "vote": vote}
        return render_conversation(turns, self.examples()), turns

    def on_clear(self):
        return render_conversation([], self.examples()), [], SOURCE_PLACEHOLDER

    def api_ask(self, question: str, k: int, history: list[str] | None) -> dict:
        history = [str(h) for h in history or () if h is not None][-HISTORY_TURNS:]
        return self.bot.ask(question, history=history, k=k or self.settings.k).to_dict()

    # ---- documents -------------------------------------------------------------------------

    @property
    def manage(self) -> bool:
        return not self.settings.read_only

    def documents_html(self, *, confirm: str | None = None, focus: str | None = None) -> str:
        try:
            records = self.bot.store.documents()
        except IndexError_ as err:
            log.error("cannot list the documents: %s", err)
            return render_documents({}, manage=False) + f'<p class="qb-docs-error">{_e(err)}</p>'
        return render_documents(records, manage=self.manage, confirm=confirm, focus=focus, nonce=time.monotonic_ns())

    @contextlib.contextmanager
    def _changing(self, progress: Callable[[float, str], None]) -> Iterator[None]:
        """Hold the index's writer lock (another tab, user or ``python -m indexer`` may hold it)."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(index_lock(self.bot.store, timeout=0))
            except IndexBusy:
                progress(0.0, "Waiting for another change to the documents to finish...")
                stack.enter_context(index_lock(self.bot.store, timeout=LOCK_WAIT_S))
            yield

    def upload(self, paths: Sequence[str] | None, progress: Callable[[float, str], None] = lambda f, d: None) -> ChangeReport:
        """Add the uploaded files to the corpus folder and the index; refused files do not stop the others.

        ``paths`` are Gradio's temporary copies, which keep the file's own name.
        The bot answers from the new index as soon as this returns; questions
        asked meanwhile are answered from the old one.
        """
        if not self.manage:
            return ChangeReport(error="This page is read-only: documents cannot be added here.")
        paths = [str(p) for p in paths or () if p]
        if not paths:
            return ChangeReport(error="Choose one or more files to add.")
        limit = self.settings.max_upload_files
        if len(paths) > limit:
            return ChangeReport(
                error=f"You chose {len(paths)} files, but at most {limit} can be added at once. "
                "Nothing was added: add them in smaller groups."
            )

        def embedded(done: int, total: int) -> None:
            progress(done / total if total else 1.0, f"Indexing: {done} of {total} passages embedded")

        try:
            with self._changing(progress):
                progress(0.0, f"Reading {len(paths)} file{'s' if len(paths) != 1 else ''}...")
                results = add_files(self.settings.corpus_dir, paths, max_bytes=self.settings.max_upload_bytes)
                accepted = [r for r in results if r.ok]
                if accepted:
                    index_added(self.bot.store, self.bot.embedder, accepted, on_progress=embedded)
                    self.bot.changed()
        except IndexBusy as err:
            return ChangeReport(error=f"Nothing was added: {err}.")
        except (IndexError_, OSError) as err:
            log.error("indexing an upload failed: %s", err)
            return ChangeReport(
                error="The files could not be indexed, so answers do not quote them yet. The app indexes "
                f"them when it next starts, or run python -m indexer build. ({err})"
            )
        records = self.bot.store.documents()
        return ChangeReport(
            done=tuple(_added_line(r, records.get(r.name)) for r in accepted),
            refused=tuple(r.message for r in results if not r.ok),
        )

    def remove(self, name: str) -> ChangeReport:
        """Take one document out of the corpus folder and the index; answers stop quoting it at once."""
        if not self.manage:
            return ChangeReport(error="This page is read-only: documents cannot be removed here.")
        record = self.bot.store.documents().get(str(name))
        if record is None:
            return ChangeReport(error=f"{name} is not in the collection (any more); the list below is up to date.")
        try:
            with self._changing(lambda f, d: None):
                remove_document(self.settings.corpus_dir, self.bot.store, record.name)
                self.bot.changed()
        except IndexBusy as err:
            return ChangeReport(error=f"Nothing was removed: {err}.")
        except (DocumentError, IndexError_, OSError) as err:
            log.error("removing %s failed: %s", record.name, err)
            return ChangeReport(error=f"{record.title} could not be removed: {err}")
        return ChangeReport(done=(f"Removed \u201c{record.title}\u201d ({record.name}).",))

    def on_upload(self, files: list[str] | None, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        try:
            report = self.upload(files, lambda fraction, desc: progress(fraction, desc=desc))
        finally:
            for path in files or ():  # Gradio's copies: the corpus folder has its own now
                with contextlib.suppress(OSError):
                    Path(path).unlink()
        return None, render_change(report), self.documents_html()

    def on_ask_remove(self, evt: gr.EventData):
        name = str((getattr(evt, "_data", None) or {}).get("name", ""))
        return self.documents_html(confirm=name)

    def on_cancel_remove(self, evt: gr.EventData):
        return self.documents_html(focus=str((getattr(evt, "_data", None) or {}).get("name", "")))

    def on_remove(self, evt: gr.EventData):
        name = str((getattr(evt, "_data", None) or {}).get("name", ""))
        report = self.remove(name)
        return render_change(report), self.documents_html(focus="")


def _added_line(result, record: DocumentRecord | None) -> str:
    """One line of the status after an upload: the file as the reader named it, and its title."""
    if record is None:  # indexed, then removed by someone else already
        return f"{result.original}: {result.message}."
    title = f"\u201c{record.title}\u201d"
    if result.message.endswith("with the same content"):
        return f"{result.original}: already in the collection as {title}, with the same content."
    n = record.n_chunks
    line = f"{result.original}: added as {title} ({n} passage{'s' if n != 1 else ''})."
    if not result.message.startswith("added as"):  # renamed or replaced: say so
        line += f" Note: {result.message}."
    elif result.name != result.original:
        line += f" Saved as {result.name}."
    return line


def _int(value: object, default: int = -1) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _turn(turns: list[dict], index: object) -> dict | None:
    i = _int(index)
    return turns[i] if 0 <= i < len(turns) else None


def _ui_k(k: object, settings: Settings) -> int:
    value = _int(k, settings.k)
    return max(1, min(value, UI_MAX_K))


def build_app(bot: Bot, settings: Settings) -> gr.Blocks:
    """The chat page and the ``/ask`` API endpoint. Launch it with ``**page_style()``."""
    page = _Page(bot, settings, FeedbackLog(settings.feedback_path))
    info = bot.info

    with gr.Blocks(title=info.title or "Quotebot") as app:
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=280):
                gr.HTML(render_header(info.title, info.description), apply_default_css=False, js_on_load=None)
            with gr.Column(scale=1, min_width=260):
                k = gr.Slider(
                    1, UI_MAX_K, value=max(1, min(settings.k, UI_MAX_K)), step=1,
                    label="Passages to show", elem_id="qb-k",
                )
                with gr.Row():
                    theme = gr.Button("Light / dark", size="sm", elem_id="qb-theme", min_width=80)
                    clear = gr.Button("New chat", size="sm", elem_id="qb-clear", min_width=80)
        with gr.Accordion("Documents", open=False, elem_id="qb-docs") as documents_panel:
            gr.HTML(render_documents_intro(settings, manage=page.manage), apply_default_css=False, js_on_load=None)
            if page.manage:
                files = gr.File(
                    label="Add documents",
                    show_label=False,  # the note above says what it is; a floating label covers the icon on a phone
                    file_count="multiple",
                    type="filepath",
                    height=140,
                    elem_id="qb-upload",
                )
                status = gr.HTML(render_change(None), elem_id="qb-docs-status", apply_default_css=False, js_on_load=None)
            documents = gr.HTML(
                DOCUMENTS_LOADING,  # each page load lists what is indexed then (below), never a stale list
                elem_id="qb-docs-list",
                apply_default_css=False,
                js_on_load=_DOCS_JS if page.manage else None,
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chat = gr.HTML(
                    render_conversation([], page.examples()),
                    elem_id="qb-chat",
                    apply_default_css=False,
                    js_on_load=_CHAT_JS,
                    padding=True,
                    container=True,
                )
                question = gr.Textbox(
                    placeholder="Ask a question about the documents and press Enter",
                    show_label=False,
                    lines=1,
                    max_lines=1,
                    submit_btn="Ask",
                    autofocus=True,
                    elem_id="qb-question",
                )
            with gr.Column(scale=2, min_width=300, elem_id="qb-source-col"):
                source = gr.HTML(
                    SOURCE_PLACEHOLDER,
                    elem_id="qb-source",
                    apply_default_css=False,
                    js_on_load=_SOURCE_JS,
                    padding=True,
                    container=True,
                )

        private = {"api_visibility": "private", "show_progress": "minimal"}
        question.submit(page.on_submit, [question, k, turns], [chat, turns, question], **private)
        chat.ask(page.on_ask, [k, turns], [chat, turns, question], **private)
        chat.cite(page.on_cite, [turns], [source], **private)
        chat.vote(page.on_vote, [turns], [chat, turns], **private)
        clear.click(page.on_clear, None, [chat, turns, source], **private)
        theme.click(None, js=_THEME_TOGGLE_JS, api_visibility="private")
        app.load(page.documents_html, None, [documents], **private)
        documents_panel.expand(page.documents_html, None, [documents], **private)  # others may have changed them
        if page.manage:
            # One change to the documents at a time (index_lock also keeps out other processes);
            # questions are other events, answered meanwhile from the index as it was.
            changing = {"concurrency_id": "documents", "concurrency_limit": 1, "api_visibility": "private"}
            files.upload(
                page.on_upload, [files], [files, status, documents], show_progress="full", show_progress_on=[files],
                **changing,
            )
            documents.ask_remove(page.on_ask_remove, None, [documents], **private)
            documents.cancel(page.on_cancel_remove, None, [documents], **private)
            documents.remove(page.on_remove, None, [status, documents], **changing, show_progress="minimal")

        default_k = settings.k

        def ask(question: str, k: int = default_k, history: list[str] | None = None) -> dict:
            """Answer one question by quoting the documents: returns Answer.to_dict().

            question: the question. k: passages to return (1-10). history: the previous
            questions of the conversation, oldest first, so a short follow-up is read in context.
            """
            return page.api_ask(question, k, history)

        gr.api(ask, api_name="ask")
    return app


# --------------------------------------------------------------------------------------------
# Serving.
# --------------------------------------------------------------------------------------------


REQUEST_MAX_BYTES = 1024 * 1024  # any request but an upload: a question with its history is far smaller
# The upload route takes this many times the page's file limit, so that a choice a little over the
# limit still reaches the Documents panel, which explains the limit; more is refused at the door.
UPLOAD_ROUTE_FILES_FACTOR = 4
_PART_OVERHEAD = 16 * 1024  # headers of one multipart part, generously


class BodyLimit:
    """ASGI middleware: refuse (413) request bodies over our limits, before or while they are read.

    Gradio limits each uploaded file (``max_file_size``) but takes up to 1000 files
    in one upload request, and JSON bodies of any size. Here an upload request
    carries at most ``max_files`` files and ``max_upload_bytes`` bytes; any other
    request at most ``max_other_bytes``. A declared ``Content-Length`` over the
    limit is refused unread; a chunked body is counted as it arrives.
    """

    def __init__(self, app, *, max_files: int, max_upload_bytes: int, max_other_bytes: int = REQUEST_MAX_BYTES) -> None:
        self.app = app
        self.max_files = max_files
        self.max_upload_bytes = max_upload_bytes
        self.max_other_bytes = max_other_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Middleware:
        """At most what the biggest upload the page accepts can weigh, in files a few times the page's limit."""
        return Middleware(
            cls,
            max_files=UPLOAD_ROUTE_FILES_FACTOR * settings.max_upload_files,
            max_upload_bytes=settings.max_upload_files * (settings.max_upload_bytes + _PART_OVERHEAD),
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        upload = scope["path"].rstrip("/").endswith("/upload")
        limit = self.max_upload_bytes if upload else self.max_other_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            body = json.dumps({"detail": f"Request too large: the limit is {limit:,} bytes."}).encode()
            await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        delimiter = b"--" + _boundary(headers.get(b"content-type", b"")) if upload else b""
        seen = {"bytes": 0, "delimiters": 0, "tail": b""}

        async def counted_receive():
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            seen["bytes"] += len(chunk)
            if len(delimiter) > 2:  # n files are n + 1 delimiters; one may straddle two chunks
                data = seen["tail"] + chunk
                seen["delimiters"] += data.count(delimiter)
                seen["tail"] = data[-(len(delimiter) - 1) :]
            if upload and (seen["bytes"] > limit or seen["delimiters"] > self.max_files + 1):
                # Starlette's own exception: Gradio's upload parser deletes the partial files and answers 413.
                from starlette.formparsers import MultiPartException

                raise MultiPartException(
                    f"Upload refused: the maximum allowed size of one upload is {self.max_files} files "
                    f"and {limit:,} bytes."
                )
            if seen["bytes"] > limit:
                from starlette.exceptions import HTTPException

                raise HTTPException(413, f"Request too large: the limit is {limit:,} bytes.")
            return message

        await self.app(scope, counted_receive, send)


def _boundary(content_type: bytes) -> bytes:
    for param in content_type.split(b";")[1:]:
        key, _, value = param.strip().partition(b"=")
        if key.lower() == b"boundary":
            return value.strip(b'"')
    return b""


class AuthError(ValueError):
    """The login configuration is malformed; the message says which line."""


def _parse_credential(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user.strip() or not password:
        raise AuthError(f"{where}: expected user:password with a non-empty user and password")
    return user.strip(), password


def load_auth(env: Mapping[str, str] | None = None) -> list[tuple[str, str]] | None:
    """Logins from ``QUOTEBOT_AUTH`` ("user:password") and/or ``QUOTEBOT_AUTH_FILE`` (one per line).

    Never from the command line, where other users of the machine can read it.
    """
    env = os.environ if env is None else env
    logins: list[tuple[str, str]] = []
    if env.get("QUOTEBOT_AUTH"):
        logins.append(_parse_credential(env["QUOTEBOT_AUTH"].strip(), "QUOTEBOT_AUTH"))
    if env.get("QUOTEBOT_AUTH_FILE"):
        path = Path(env["QUOTEBOT_AUTH_FILE"])
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise AuthError(f"QUOTEBOT_AUTH_FILE: cannot read {path} ({err.strerror}); fix the path or unset it") from err
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                logins.append(_parse_credential(line, f"{path} line {n}"))
        if not logins:
            raise AuthError(f"QUOTEBOT_AUTH_FILE: {path} holds no user:password line")
    return logins or None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, auth: object) -> str | None:
    """What to tell the owner when the page is reachable from other machines without a login."""
    if _is_loopback(host) or auth:
        return None
    return (
        f"listening on {host} without a login: anyone who can reach this machine can use the bot; "
        "set QUOTEBOT_AUTH=user:password or QUOTEBOT_AUTH_FILE=path to require one"
    )


def management_off_reason(settings: Settings, host: str, auth: object) -> str | None:
    """Why the page must not let its readers add or remove documents, or ``None`` when it may.

    Off when asked for (``--read-only``), and when the page is reachable from
    other machines without a login: then anyone could change the collection.
    """
    if settings.read_only:
        return "read-only (--read-only or QUOTEBOT_READ_ONLY=1)"
    if not _is_loopback(host) and not auth:
        return (
            f"listening on {host} without a login, so adding and removing documents on the page is off; "
            "set QUOTEBOT_AUTH or QUOTEBOT_AUTH_FILE to allow it"
        )
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="Serve the chat page that answers questions by quoting the documents.",
        epilog="Login (optional): set QUOTEBOT_AUTH=user:password or QUOTEBOT_AUTH_FILE=path (lines user:password).",
    )
    parser.add_argument("--corpus", help="folder of documents (default: ./corpus, or $QUOTEBOT_CORPUS)")
    parser.add_argument("--index", help="index folder (default: ./index, or $QUOTEBOT_INDEX)")
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1, or $QUOTEBOT_HOST)")
    parser.add_argument("--port", type=int, help="port (default: 7860, or $QUOTEBOT_PORT)")
    parser.add_argument("--store", choices=["faiss", "milvus"], help="vector store (default: faiss)")
    parser.add_argument("--uri", help="Milvus URI: a local .db file (Milvus Lite) or http://host:19530")
    parser.add_argument("--model", help="sentence-transformers model name or path")
    parser.add_argument(
        "--read-only", action="store_true", default=None,
        help="list the documents but offer no upload or removal (or set QUOTEBOT_READ_ONLY=1)",
    )
    return parser


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Flags over ``QUOTEBOT_*`` variables over defaults."""
    return Settings.from_env(
        None if env is None else dict(env),
        corpus_dir=args.corpus, index_dir=args.index, host=args.host, port=args.port,
        store=args.store, uri=args.uri, model=args.model, read_only=args.read_only,
    )


def _launch_kwargs(settings: Settings, auth: list[tuple[str, str]] | None) -> dict[str, Any]:
    """Safe defaults: no share link, no monitoring page, no MCP, and no files served from our folders."""
    blocked = [str(Path(p).resolve()) for p in (settings.corpus_dir, settings.index_dir, settings.feedback_path.parent)]
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "auth": auth,
        "share": False,
        "max_file_size": f"{settings.max_upload_mb}mb",
        "app_kwargs": {"middleware": [BodyLimit.from_settings(settings)]},
        "allowed_paths": [],
        "blocked_paths": blocked,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "run_history": False,
        "footer_links": ["api"],
        "show_error": False,
        "quiet": True,
        **page_style(),
    }


def update_index(store, embedder, settings: Settings) -> str:
    """Bring the index up to date with the corpus folder; the line to print about it.

    An index folder the app cannot write (a read-only deployment, a full disk) is
    no reason to refuse service when a built index is there: the app then serves
    that index as it is and says so. Without one there is nothing to serve, and
    the error stands.
    """
    from indexer.manage import build_index

    try:
        with index_lock(store, timeout=LOCK_WAIT_S):  # not while `python -m indexer add` is changing it
            report, damage = build_index(store, embedder, settings.corpus_dir, max_bytes=settings.max_upload_bytes)
    except OSError as err:
        try:
            built = store.read_manifest() is not None
        except (IndexError_, OSError):
            built = False
        if not built:
            raise
        return f"index {store.describe()}: could not bring it up to date ({err}); serving it as it was last built"
    if damage:
        print(f"warning: the index is damaged: {damage}; built it again from {settings.corpus_dir}", file=sys.stderr)
    for message in report.errors.values():  # each message names its file
        print(f"skipped {message}", file=sys.stderr)
    return f"index {store.describe()}: {report.summary() if report.changed else 'up to date'}"


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)

    from indexer.embedding import Embedder, ModelNotFound

    try:
        settings = settings_from_args(args)
        auth = load_auth()
        off = management_off_reason(settings, settings.host, auth)
        if off and not settings.read_only:
            log.warning(off)
        settings = replace(settings, read_only=off is not None)
        embedder = Embedder.from_settings(settings)
        store = open_settings_store(settings)
        print(update_index(store, embedder, settings), flush=True)
        bot = Bot.load(settings, embedder=embedder, store=store)  # the store just brought up to date: read once
        bot.warm_up()
    except (IndexError_, ModelNotFound, FileNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    warning = exposure_warning(settings.host, auth)
    if warning:
        log.warning(warning)
    app = build_app(bot, settings)
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=256)
    try:
        _, local_url, _ = app.launch(prevent_thread_lock=True, **_launch_kwargs(settings, auth))
    except OSError as err:
        print(f"error: cannot serve on {settings.host}:{settings.port} ({err}); pass --port to pick another", file=sys.stderr)
        return 2
    print(f"quotebot: serving on {local_url.rstrip('/')}", flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
