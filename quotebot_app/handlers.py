"""What the page's events do: ask, follow a citation, vote, clear, and the Documents panel's
upload and removal. Each handler takes and returns plain values (HTML strings, the list of
turns kept in the browser's session state); ``app.build_app`` wires them to the components.

Nothing here retrieves or ranks: every word comes from an ``Answer``, from ``bot.store`` or
from ``indexer.manage``, rendered by ``quotebot_app.render``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import gradio as gr

from bot.bot import Bot
from indexer.loaders import DocumentError
from indexer.manage import IndexBusy, add_files, index_added, index_lock, remove_document
from indexer.settings import Settings
from indexer.stores import DocumentRecord, IndexProblem

from .feedback import FeedbackLog
from .render import (
    SOURCE_PLACEHOLDER,
    ChangeReport,
    int_or,
    render_change,
    render_conversation,
    render_documents,
    render_documents_error,
    render_source,
    render_source_gone,
)

__all__ = ["Page", "HISTORY_TURNS", "LOCK_WAIT_S", "MAX_TURNS", "UI_MAX_K"]

log = logging.getLogger("quotebot.app")

MAX_TURNS = 50  # turns kept per browser session: bounds memory and page size
HISTORY_TURNS = 5  # previous questions passed to Bot.ask for follow-ups
UI_MAX_K = 5  # the page offers 1-5 passages; the API accepts up to 10 (Bot.ask's own limit)
LOCK_WAIT_S = 600  # how long an upload or removal waits for another change to the index to finish


@dataclass
class Page:
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
        index = int_or(data.get("index"))
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
        index = int_or(data.get("index"))
        if not 0 <= index < len(passages):
            return gr.skip()
        passage = passages[index]
        try:
            text = self.bot.store.document_text(passage["document"])
        except (KeyError, OSError, IndexProblem):
            return render_source_gone(passage)
        return render_source(passage, text, nonce=time.monotonic_ns())

    def on_vote(self, turns: list[dict] | None, evt: gr.EventData):
        turns = list(turns or [])
        data = getattr(evt, "_data", None) or {}
        index = int_or(data.get("turn"))
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
        except IndexProblem as err:
            log.error("cannot list the documents: %s", err)
            return render_documents_error(err)
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
        except (IndexProblem, OSError) as err:
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
        except (DocumentError, IndexProblem, OSError) as err:
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


def _turn(turns: list[dict], index: object) -> dict | None:
    i = int_or(index)
    return turns[i] if 0 <= i < len(turns) else None


def _ui_k(k: object, settings: Settings) -> int:
    value = int_or(k, settings.k)
    return max(1, min(value, UI_MAX_K))

