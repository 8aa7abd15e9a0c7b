"""The page's HTML: pure functions from answer dicts (``Answer.to_dict()``) and document records
to escaped HTML.

Everything a document, a file name or a question contributes goes through ``html.escape``
here, so none of it can add markup or script to the page. No Gradio: these run in tests
as plain functions.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bot.answer import ABSTAIN_MESSAGE
from indexer.loaders import LOADERS
from indexer.settings import Settings
from indexer.stores import DocumentRecord

__all__ = [
    "ChangeReport",
    "DOCUMENTS_LOADING",
    "SOURCE_PLACEHOLDER",
    "int_or",
    "code_regions",
    "render_change",
    "render_conversation",
    "render_documents",
    "render_documents_error",
    "render_documents_intro",
    "render_header",
    "render_quote",
    "render_source",
    "render_source_gone",
    "when",
]

SOURCE_WINDOW = 200_000  # characters of a very long document shown around a quote
UPLOAD_FORMATS = (".txt", ".md", ".html", ".pdf", ".docx")  # named on the page; .htm and .markdown work too


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


_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})([^\n]*)$", re.MULTILINE)


def code_regions(text: str) -> list[tuple[int, int, str]]:
    """Where a quote holds Markdown fenced code: ``(start, end, kind)``, kind ``"fence"`` for a
    fence line and ``"code"`` for the lines between two fences.

    Why: a quote is a verbatim span, so one that runs from a sentence into a code block carries
    the fence lines. Shown as prose they read as stray backticks; shown dimmed, with the code in
    a monospace font, the quote reads as the document does. Nothing is added or removed, so the
    text a reader copies is the text of the document.

    A quote may begin or end inside a code block. Fences are paired in order; with an odd count,
    a first fence with no info string after text that does not end a sentence (prose leads into
    code with "." or ":") is taken as the close of a block the quote began in; otherwise the
    last fence opens a block that runs to the quote's end.
    """
    fences = [(m.start(), m.end(), bool(m.group(2).strip())) for m in _FENCE.finditer(text)]
    regions: list[tuple[int, int, str]] = []
    before = text[: fences[0][0]].rstrip() if fences else ""
    if len(fences) % 2 and not fences[0][2] and before and before[-1] not in ".:!?":
        regions.append((0, fences[0][0], "code"))
        regions.append((fences[0][0], fences[0][1], "fence"))
        fences = fences[1:]
    for i in range(0, len(fences), 2):
        open_start, open_end, _ = fences[i]
        regions.append((open_start, open_end, "fence"))
        if i + 1 < len(fences):
            close_start, close_end, _ = fences[i + 1]
            regions.append((open_end, close_start, "code"))
            regions.append((close_start, close_end, "fence"))
        else:
            regions.append((open_end, len(text), "code"))
    return [r for r in regions if r[1] > r[0]]


_CODE_CLASS = {"fence": "qb-fence", "code": "qb-code"}


def render_quote(passage: Mapping[str, Any]) -> str:
    """The passage text, escaped, with its best sentence in ``<strong>`` and fenced code in ``<code>``."""
    text = str(passage.get("text", ""))
    base = int(passage.get("start", 0))
    best = passage.get("best_sentence") or {}
    b_start, b_end = _clamp_span(int(best.get("start", base)) - base, int(best.get("end", base)) - base, 0, len(text))
    regions = code_regions(text)
    cuts = sorted({0, len(text), *(x for r in regions for x in r[:2]), *((b_start, b_end) if b_end > b_start else ())})
    out = []
    for start, end in zip(cuts, cuts[1:]):
        piece = _e(text[start:end])
        kind = next((k for lo, hi, k in regions if lo <= start and end <= hi), None)
        if kind:
            piece = f'<code class="{_CODE_CLASS[kind]}">{piece}</code>'
        if b_start <= start and end <= b_end and b_end > b_start:
            piece = f'<strong class="qb-best">{piece}</strong>'
        out.append(piece)
    return "".join(out)


def _button(
    label_html: str, action: str, turn: int, index: int = -1, *, cls: str, value: str = "", extra: str = ""
) -> str:
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
    copy = _button("Copy quote", "copy", turn, index, cls="qb-copy", extra=' title="Copy the quote with its citation"')
    return (
        '<li class="qb-passage">'
        f'<blockquote class="qb-quote" data-start="{int_or(passage.get("start"), 0)}" '
        f'data-end="{int_or(passage.get("end"), 0)}">{render_quote(passage)}</blockquote>'
        f'<div class="qb-cite-row">{cite}{_relevance(str(passage.get("relevance", "low")))}{copy}</div>'
        "</li>"
    )


_THUMB = (
    '<svg class="qb-thumb" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false" '
    'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M7 10v12"/><path d="M15 5.88 14 10h5.83a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8'
    'a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z"/></svg>'
)


def _render_feedback(turn: int, vote: str | None, comment: str = "") -> str:
    """Yes/No (one vote per answer: the other thumb changes it, the same one or Undo withdraws it),
    then an optional comment."""
    up = _button(
        f"{_THUMB}<span>Yes</span>",
        "vote",
        turn,
        cls="qb-vote qb-vote-up",
        value="up",
        extra=f' aria-label="Helpful" title="Helpful" aria-pressed="{"true" if vote == "up" else "false"}"',
    )
    down = _button(
        f"{_THUMB}<span>No</span>",
        "vote",
        turn,
        cls="qb-vote qb-vote-down",
        value="down",
        extra=f' aria-label="Not helpful" title="Not helpful" aria-pressed="{"true" if vote == "down" else "false"}"',
    )
    after = ""
    if vote:
        undo = _button("Undo", "vote", turn, cls="qb-undo", value="undo", extra=' aria-label="Undo my vote"')
        after = f'<span class="qb-thanks" role="status">Thanks, noted.</span>{undo}'
    row = f'<div class="qb-feedback"><span class="qb-feedback-q">Was this helpful?</span>{up}{down}{after}</div>'
    if comment:
        return row + f'<p class="qb-comment-sent">Your comment: \u201c{_e(comment)}\u201d</p>'
    if vote:
        label = "What was missing? (optional)" if vote == "down" else "Anything to add? (optional)"
        send = _button("Send", "comment", turn, cls="qb-vote qb-comment-send")
        return row + (
            f'<div class="qb-comment" data-turn="{turn}"><label class="qb-comment-label">{label}'
            f'<input type="text" class="qb-comment-input" maxlength="1000" data-turn="{turn}"></label>{send}</div>'
        )
    return row


def _render_reply(turn: int, answer: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if answer.get("abstained"):
        message = str(answer.get("message") or ABSTAIN_MESSAGE)
        if message == ABSTAIN_MESSAGE:
            message = "Sorry, I couldn't find this in the source text, so I won't guess an answer."
        parts.append(f'<p class="qb-abstain">{_e(message)}</p>')
        suggestions = list(answer.get("suggestions") or ())
        if suggestions:
            chips = "".join(_button(_e(s), "suggest", turn, i, cls="qb-chip") for i, s in enumerate(suggestions))
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
        question = str(answer.get("question") or turn.get("question", ""))
        out.append(
            f'<article class="qb-turn" data-turn="{i}">'
            f'<div class="qb-user"><span class="qb-who">You asked</span><p class="qb-question">{_e(question)}</p>'
            f"{_searched_as(question, answer.get('searched_as'))}{_searched_in(turn.get('documents'))}</div>"
            f'<div class="qb-bot">{_render_reply(i, answer)}{_render_feedback(i, turn.get("vote"), str(turn.get("comment") or ""))}</div>'
            "</article>"
        )
    return "".join(out)


def _searched_as(question: str, searched_as: object) -> str:
    """A follow-up is searched together with the question before it; say so, so that the reader
    knows why the quotes answer more than they typed."""
    searched_as = str(searched_as or "").strip()
    if not searched_as or " ".join(searched_as.split()) == " ".join(question.split()):
        return ""
    return f'<p class="qb-searched">Searched as \u201c{_e(searched_as)}\u201d</p>'


def _searched_in(documents: object) -> str:
    """A question asked within chosen documents says which, so a refusal is read rightly."""
    names = [str(d) for d in documents or ()] if isinstance(documents, (list, tuple)) else []
    if not names:
        return ""
    return f'<p class="qb-searched qb-scope-note">Searched only in {_e(", ".join(names))}</p>'


SOURCE_PLACEHOLDER = (
    '<div class="qb-source-empty"><h2 class="qb-source-heading">Source</h2>'
    "<p>Choose a citation under a quote to read the quote in its document, highlighted.</p></div>"
)


def render_pdf_page(view: Any, title: str) -> str:
    """The rendered PDF page with the quote's lines marked over it (``quotebot_app.pdfpage.PageView``)."""
    marks = "".join(
        f'<span class="qb-pdf-mark" style="left:{r.left * 100:.3f}%;top:{r.top * 100:.3f}%;'
        f'width:{r.width * 100:.3f}%;height:{r.height * 100:.3f}%"></span>'
        for r in view.rects
    )
    label = _e(view.label)
    printed = f"page {label}" if view.label == str(view.number) else f"page {label} (page {view.number} of the file)"
    return (
        f'<figure class="qb-pdf"><figcaption class="qb-pdf-caption">The quote on {printed}</figcaption>'
        f'<div class="qb-pdf-scroll" tabindex="0" role="region" aria-label="Page {label} of {title}">'
        f'<div class="qb-pdf-page" style="aspect-ratio:{int(view.width)}/{int(view.height)}">'
        f'<img class="qb-pdf-img" src="{view.data_uri()}" alt="Page {label} of {title}, the quote highlighted" '
        f'width="{int(view.width)}" height="{int(view.height)}">{marks}</div></div></figure>'
    )


def render_source(
    passage: Mapping[str, Any], document_text: str, *, nonce: int = 0, window: int = SOURCE_WINDOW, page: Any = None
) -> str:
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
        f'{_e(document_text[start:b_start])}<strong class="qb-best">{_e(document_text[b_start:b_end])}</strong>'
        f"{_e(document_text[b_end:end])}"
    )
    body = f'{_e(document_text[lo:start])}<mark class="qb-span">{span}</mark>{_e(document_text[end:hi])}'
    # The document's name in the corpus, not ``source``: that can be an absolute path on the server.
    meta = " · ".join(_e(x) for x in (passage.get("document", ""), passage.get("location", "")) if x)
    return (
        f'<div class="qb-source-inner" data-shown="{int(nonce)}">'
        '<button type="button" class="qb-source-close" data-action="close-source" '
        'aria-label="Close the source">Close</button>'
        f'<h2 class="qb-source-heading" tabindex="-1">{title}</h2>'
        f'<p class="qb-source-meta">{meta}</p>{note}{render_pdf_page(page, title) if page is not None else ""}'
        f'<div class="qb-doc" tabindex="0" role="region" aria-label="Full text of {title}">{body}</div>'
        "</div>"
    )


def render_source_gone(passage: Mapping[str, Any]) -> str:
    """The source panel when the cited document has left the index since the answer was given."""
    return (
        '<div class="qb-source-empty"><h2 class="qb-source-heading" tabindex="-1">Source</h2>'
        f"<p>The document {_e(passage.get('title', ''))} is no longer in the index.</p></div>"
    )


def render_header(title: str, description: str, *, max_question_chars: int = 0) -> str:
    """The title and description; the question limit rides along for the page's character counter."""
    limit = f' data-max-question="{int(max_question_chars)}"' if max_question_chars else ""
    return f'<header class="qb-header"{limit}><h1>{_e(title)}</h1><p>{_e(description)}</p></header>'


# ---- documents: what is indexed, and what an upload or a removal did ------------------------


@dataclass(frozen=True)
class ChangeReport:
    """What an upload or a removal did, one line per file, for the status line of the panel."""

    done: tuple[str, ...] = ()  # files added, documents removed
    refused: tuple[str, ...] = ()  # files refused, each with why and what to do
    error: str = ""  # the change as a whole could not be made


def when(indexed_at: str) -> str:
    """An ISO time as people read it, in UTC (the server's clock, not the reader's)."""
    try:
        moment = _dt.datetime.fromisoformat(indexed_at)
    except (TypeError, ValueError):
        return str(indexed_at or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _sorted_records(records: Mapping[str, DocumentRecord]) -> list[DocumentRecord]:
    return sorted(records.values(), key=lambda r: ((r.title or r.name).casefold(), r.name))


def _document_item(record: DocumentRecord, *, manage: bool, confirm: bool, focus: bool) -> str:
    title = _e(record.title or record.name)
    n = record.n_chunks
    meta = (
        f'<span class="qb-docs-file">{_e(record.name)}</span>'
        f"<span>{n} passage{'s' if n != 1 else ''}</span>"
        f'<span>indexed <time datetime="{_e(record.indexed_at)}">{_e(when(record.indexed_at))}</time></span>'
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
    items = [_document_item(r, manage=manage, confirm=r.name == confirm, focus=r.name == focus_item) for r in records]
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


def render_documents_error(error: object) -> str:
    """The Documents panel when the index cannot be read: an empty list and what went wrong."""
    return render_documents({}, manage=False) + f'<p class="qb-docs-error">{_e(error)}</p>'


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
        lead = (
            f"{n} file{'s' if n != 1 else ''} could not be added:"
            if report.done or n > 1
            else "This file could not be added:"
        )
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


def int_or(value: object, default: int = -1) -> int:
    """``value`` as an int, or ``default`` when it is not one (browser events carry strings)."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
