"""What the page's events do: ask, follow a citation, vote, clear, and the Documents panel's
upload and removal. Each handler takes and returns plain values (HTML strings, the list of
turns kept in the browser's session state); ``app.build_app`` wires them to the components.

Nothing here retrieves or ranks: every word comes from an ``Answer``, from ``bot.store`` or
from ``indexer.manage``, rendered by ``quotebot_app.render``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from bot.answer import ABSTAIN_MESSAGE
from bot.bot import Bot
from bot.examples import collection_title
from indexer.loaders import DocumentError
from indexer.manage import IndexBusy, add_files, index_added, index_lock, remove_document
from indexer.settings import Settings
from indexer.stores import DocumentRecord, IndexProblem
from indexer.worker import index_in_worker, wants_worker

from .api import ApiInputError, check_documents, check_request
from .feedback import MAX_COMMENT_CHARS, FeedbackLog, new_answer_id
from .gradio_import import gr
from .pdfpage import page_view
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
from .restore import restore_turns

__all__ = ["Page", "HISTORY_TURNS", "LOCK_WAIT_S", "MAX_TURNS", "UI_MAX_K"]

log = logging.getLogger("quotebot.app")

MAX_TURNS = 50  # turns kept per browser session: bounds memory and page size
HISTORY_TURNS = 5  # previous questions passed to Bot.ask for follow-ups
EXAMPLES_SHOWN = 6  # example questions on the empty page; suggestions are drawn from all of them
UI_MAX_K = 5  # the page offers 1-5 passages; the API accepts up to 10 (Bot.ask's own limit)
LOCK_WAIT_S = 600  # how long an upload or removal waits for another change to the index to finish
CONFIRM_S = 300  # a removal must follow its confirmation, from the same session, within this long


@dataclass
class Page:
    """What the event handlers share: the bot, the settings and the feedback log."""

    bot: Bot
    settings: Settings
    feedback: FeedbackLog
    # (session, document) -> when the session was asked to confirm removing it: the server's own
    # confirmation, so that no single request, from any page, can delete a document.
    _confirming: dict[tuple[str, str], float] = field(default_factory=dict)
    _confirming_lock: threading.Lock = field(default_factory=threading.Lock)

    def examples(self) -> tuple[str, ...]:
        """The example questions on the empty page: corpus.toml's, else the first derived ones."""
        return self.bot.examples()[:EXAMPLES_SHOWN]

    def title(self) -> str:
        """corpus.toml's title, else one made of the documents' titles (never the folder's name)."""
        if (Path(self.settings.corpus_dir) / "corpus.toml").exists():
            return self.bot.info.title
        try:
            records = self.bot.store.documents()
        except IndexProblem:
            records = {}
        titles = sorted((r.title or r.name for r in records.values()), key=str.casefold)
        return collection_title(titles, fallback=self.bot.info.title)

    def answer(
        self, question: str, k: int | None, turns: list[dict], scope: Sequence[str] | None = None
    ) -> tuple[str, list[dict], str]:
        history = [str(t["answer"].get("question", "")) for t in turns[-HISTORY_TURNS:]]
        records = self.bot.store.documents() if scope else {}
        chosen = [name for name in dict.fromkeys(scope or ()) if name in records]  # removed since: dropped
        answer = self.bot.ask(question, history=history, k=_ui_k(k, self.settings), documents=chosen or None)
        turn = {"answer": answer.to_dict(), "vote": None, "id": new_answer_id()}
        if chosen:
            turn["documents"] = [records[name].title or name for name in chosen]
        if answer.abstained and answer.message == ABSTAIN_MESSAGE:  # the owner learns what the documents lack
            self._record(turn, None)
        turns = (list(turns) + [turn])[-MAX_TURNS:]
        return render_conversation(turns, self.examples()), turns, ""

    def on_submit(self, question: str, k: float, turns: list[dict] | None, scope: list[str] | None = None):
        turns = list(turns or [])
        if not str(question or "").strip():
            return gr.skip(), turns, question
        return self.answer(question, k, turns, scope)

    def scope_choices(self):
        """The "Search in" control: every indexed document by title, shown when there are two or more."""
        try:
            records = self.bot.store.documents()
        except IndexProblem:
            records = {}
        choices = [
            (r.title or r.name, r.name)
            for r in sorted(records.values(), key=lambda r: ((r.title or r.name).casefold(), r.name))
        ]
        return gr.Dropdown(choices=choices, visible=len(choices) > 1)

    def on_ask(self, k: float, turns: list[dict] | None, evt: gr.EventData, scope: list[str] | None = None):
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
        return self.answer(question, k, turns, scope)

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
        return render_source(passage, text, nonce=time.monotonic_ns(), page=self._pdf_page(passage))

    def _pdf_page(self, passage: dict):
        """The rendered PDF page a passage lies on, the quote highlighted (``None`` for other formats)."""
        record = self.bot.store.documents().get(str(passage.get("document", "")))
        if record is None or record.format != "pdf":
            return None
        start = int_or(passage.get("start"), 0)
        page_index = max(0, sum(1 for p in record.pages if p <= start) - 1)
        best = (passage.get("best_sentence") or {}).get("text", "")
        return page_view(Path(self.settings.corpus_dir) / record.name, page_index, str(passage.get("text", "")), best)

    def _record(self, turn: dict, vote: str | None, comment: str | None = None) -> bool:
        """Write the answer's one line in the feedback log; False (and a warning) when it cannot."""
        try:
            self.feedback.set(turn["answer"], turn["id"], vote, comment=comment, documents=turn.get("documents") or ())
            return True
        except OSError as err:
            log.error("could not record feedback in %s: %s", self.feedback.path, err)
            gr.Warning("Sorry, your feedback could not be saved.")
            return False

    def on_vote(self, turns: list[dict] | None, evt: gr.EventData):
        """One vote per answer: a click sets it, the other thumb changes it, the same thumb or
        Undo withdraws it. The answer's line in the log is rewritten, never doubled."""
        turns = list(turns or [])
        data = getattr(evt, "_data", None) or {}
        index = int_or(data.get("turn"))
        value = data.get("value")
        if not 0 <= index < len(turns) or value not in ("up", "down", "undo"):
            return gr.skip(), turns
        turn = {"id": new_answer_id(), **turns[index]}  # a turn kept from before answers had ids gets one
        vote = None if value == "undo" or turn.get("vote") == value else value
        if vote == turn.get("vote") or not self._record(turn, vote):
            return gr.skip(), turns
        turns[index] = {**turn, "vote": vote}
        return render_conversation(turns, self.examples()), turns

    def on_comment(self, turns: list[dict] | None, evt: gr.EventData):
        """The optional comment under a vote, kept with the answer's line."""
        turns = list(turns or [])
        data = getattr(evt, "_data", None) or {}
        index = int_or(data.get("turn"))
        text = " ".join(str(data.get("text") or "").split())[:MAX_COMMENT_CHARS]
        if not 0 <= index < len(turns) or not text:
            return gr.skip(), turns
        turn = {"id": new_answer_id(), **turns[index]}
        if not self._record(turn, turn.get("vote"), comment=text):
            return gr.skip(), turns
        turns[index] = {**turn, "comment": text}
        return render_conversation(turns, self.examples()), turns

    @staticmethod
    def to_browser(turns: list[dict] | None) -> list[dict]:
        """The copy of the conversation kept in the browser's storage, so a reload brings it back."""
        return list(turns or [])

    def on_restore(self, saved: object, current: list[dict] | None = None):
        """The conversation from the browser's storage, each quote checked against the index first:
        what the browser sends back is not trusted (a turn that no longer checks out is dropped).
        A conversation already under way in this page is never replaced."""
        if current:
            return gr.skip(), gr.skip()
        turns = restore_turns(saved, self._verified_text)
        if not turns and self.bot.info.examples:
            return gr.skip(), gr.skip()  # the page was built with corpus.toml's examples
        # Examples derived from the documents are made on the first page load, not at start-up:
        # the trial questions would read (and keep) every document's text before anyone asks.
        return render_conversation(turns, self.examples()), turns

    def _verified_text(self, name: str) -> str | None:
        try:
            if name not in self.bot.store.documents():
                return None
            return self.bot.store.document_text(name)
        except (KeyError, OSError, IndexProblem):
            return None

    def on_clear(self):
        return render_conversation([], self.examples()), [], SOURCE_PLACEHOLDER

    def api_ask(self, question: object, k: object, history: object, documents: object = None) -> dict:
        """The ``/ask`` endpoint: a request with a bad field is refused with an error naming it."""
        try:
            request = check_request(question, k, history, default_k=self.settings.k, documents=documents)
            chosen = check_documents(request.documents, self.bot.store.documents())
        except ApiInputError as err:
            raise gr.Error(str(err), print_exception=False) from None
        history = list(request.history[-HISTORY_TURNS:])
        return self.bot.ask(request.question, history=history, k=request.k, documents=chosen).to_dict()

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

    def upload(
        self, paths: Sequence[str] | None, progress: Callable[[float, str], None] = lambda f, d: None
    ) -> ChangeReport:
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
                results = add_files(
                    self.settings.corpus_dir,
                    paths,
                    max_bytes=self.settings.max_upload_bytes,
                    limits=self.settings.document_limits,
                )
                accepted = [r for r in results if r.ok]
                documents = [r.document for r in accepted if r.document is not None]
                if wants_worker(self.bot.embedder, documents):  # questions never wait behind this upload
                    index_in_worker(self.settings, documents, on_progress=embedded)
                elif accepted:
                    index_added(self.bot.store, self.bot.embedder, accepted, on_progress=embedded)
                if accepted:
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
        # Gradio's copies stay where they are: two tabs uploading the same file get the same copy,
        # and Gradio deletes them after UPLOAD_KEEP_S (app.build_app's delete_cache).
        report = self.upload(files, lambda fraction, desc: progress(fraction, desc=desc))
        return None, render_change(report), self.documents_html()

    def on_ask_remove(self, evt: gr.EventData, request: gr.Request | None = None):
        name = str((getattr(evt, "_data", None) or {}).get("name", ""))
        now = time.monotonic()
        with self._confirming_lock:
            for key in [k for k, at in self._confirming.items() if now - at > CONFIRM_S]:
                del self._confirming[key]
            if len(self._confirming) < 10_000:
                self._confirming[(_session(request), name)] = now
        return self.documents_html(confirm=name)

    def on_cancel_remove(self, evt: gr.EventData, request: gr.Request | None = None):
        name = str((getattr(evt, "_data", None) or {}).get("name", ""))
        with self._confirming_lock:
            self._confirming.pop((_session(request), name), None)
        return self.documents_html(focus=name)

    def on_remove(self, evt: gr.EventData, request: gr.Request | None = None):
        name = str((getattr(evt, "_data", None) or {}).get("name", ""))
        with self._confirming_lock:
            asked = self._confirming.pop((_session(request), name), None)
        if asked is None or time.monotonic() - asked > CONFIRM_S:
            report = ChangeReport(
                error=f"Nothing was removed: confirm the removal of {name} first (press Remove, then Yes)."
            )
        else:
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


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "")


def _turn(turns: list[dict], index: object) -> dict | None:
    i = int_or(index)
    return turns[i] if 0 <= i < len(turns) else None


def _ui_k(k: object, settings: Settings) -> int:
    value = int_or(k, settings.k)
    return max(1, min(value, UI_MAX_K))
