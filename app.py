"""The chat page's entry point: wires the page's parts together and serves them.

``build_app(bot, settings)`` lays out the page and connects its events to the handlers
(``quotebot_app.handlers``) and the ``/ask`` API endpoint; ``main()`` reads the flags
(``quotebot_app.cli``), brings the index up to date, loads the model once and serves behind
the guards (``quotebot_app.guards``). The HTML comes from ``quotebot_app.render``, the CSS and
JavaScript from ``quotebot_app/static/``; nothing here retrieves, ranks or renders.

Run ``python app.py --help`` (or ``quotebot serve --help``) for the flags; see ``Settings``
for the environment variables.
"""

import logging
import sys
from dataclasses import replace
from typing import Sequence

from bot.bot import Bot, open_settings_store
from indexer.embedding import Embedder, ModelNotFound
from indexer.settings import Settings, quiet_cli_environment
from indexer.stores import IndexProblem
from quotebot_app.assets import static_text
from quotebot_app.cli import CONCURRENCY, build_parser, launch_kwargs, settings_from_args, update_index
from quotebot_app.feedback import FeedbackLog
from quotebot_app.gradio_import import gr  # Gradio without its stub writer (the module says why)
from quotebot_app.guards import exposure_warning, load_auth, management_off_reason
from quotebot_app.handlers import UI_MAX_K, Page
from quotebot_app.render import (
    DOCUMENTS_LOADING,
    SOURCE_PLACEHOLDER,
    render_change,
    render_conversation,
    render_documents_intro,
    render_header,
)

__all__ = ["build_app", "main", "UPLOAD_KEEP_S"]

UPLOAD_KEEP_S = 600

log = logging.getLogger("quotebot.app")


def build_app(bot: Bot, settings: Settings) -> gr.Blocks:
    """The chat page and the ``/ask`` API endpoint. Launch it with ``**page_style()``."""
    page = Page(bot, settings, FeedbackLog(settings.feedback_path))
    info = bot.info
    title = page.title()

    # Gradio's copies of uploads (also those sent straight to the upload route) are deleted once
    # they are UPLOAD_KEEP_S old, checked as often: the corpus folder keeps its own copy.
    with gr.Blocks(title=title or "Quotebot", delete_cache=(UPLOAD_KEEP_S, UPLOAD_KEEP_S)) as app:
        turns = gr.State([])
        saved = gr.BrowserState([], storage_key="quotebot-conversation")  # a copy, checked when restored
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=280):
                gr.HTML(
                    render_header(title, info.description, max_question_chars=settings.max_question_chars),
                    apply_default_css=False,
                    js_on_load=None,
                )
            with gr.Column(scale=1, min_width=260):
                k = gr.Slider(
                    1,
                    UI_MAX_K,
                    value=max(1, min(settings.k, UI_MAX_K)),
                    step=1,
                    label="Passages to show",
                    elem_id="qb-k",
                )
                scope = gr.Dropdown(
                    choices=[],
                    value=[],
                    multiselect=True,
                    label="Search in",
                    info="Only these documents (all when none is chosen)",
                    visible=False,
                    elem_id="qb-scope",
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
                status = gr.HTML(
                    render_change(None), elem_id="qb-docs-status", apply_default_css=False, js_on_load=None
                )
            documents = gr.HTML(
                DOCUMENTS_LOADING,  # each page load lists what is indexed then (below), never a stale list
                elem_id="qb-docs-list",
                apply_default_css=False,
                js_on_load=static_text("documents.js") if page.manage else None,
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chat = gr.HTML(
                    render_conversation([], info.examples),  # derived examples come with the first page load
                    elem_id="qb-chat",
                    apply_default_css=False,
                    js_on_load=static_text("chat.js"),
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
                    js_on_load=static_text("source.js"),
                    padding=True,
                    container=True,
                )

        private = {"api_visibility": "private", "show_progress": "minimal"}
        question.submit(page.on_submit, [question, k, turns, scope], [chat, turns, question], **private)
        chat.ask(page.on_ask, [k, turns, scope], [chat, turns, question], **private)
        chat.cite(page.on_cite, [turns], [source], **private)
        chat.vote(page.on_vote, [turns], [chat, turns], **private)
        chat.comment(page.on_comment, [turns], [chat, turns], **private)
        clear.click(page.on_clear, None, [chat, turns, source], **private).then(
            None, js=static_text("focus_question.js"), api_visibility="private"
        )
        turns.change(page.to_browser, [turns], [saved], **private)
        app.load(page.on_restore, [saved, turns], [chat, turns], **private)
        theme.click(None, js=static_text("theme_toggle.js"), api_visibility="private")
        app.load(page.documents_html, None, [documents], **private)
        app.load(page.scope_choices, None, [scope], **private)
        documents_panel.expand(page.documents_html, None, [documents], **private)  # others may have changed them
        if page.manage:
            # One change to the documents at a time (index_lock also keeps out other processes);
            # questions are other events, answered meanwhile from the index as it was.
            changing = {"concurrency_id": "documents", "concurrency_limit": 1, "api_visibility": "private"}
            files.upload(
                page.on_upload,
                [files],
                [files, status, documents],
                show_progress="full",
                show_progress_on=[files],
                **changing,
            ).then(page.scope_choices, None, [scope], **private)
            documents.ask_remove(page.on_ask_remove, None, [documents], **private)
            documents.cancel(page.on_cancel_remove, None, [documents], **private)
            documents.remove(page.on_remove, None, [status, documents], **changing, show_progress="minimal").then(
                page.scope_choices, None, [scope], **private
            )

        default_k = settings.k

        def ask(
            question: str, k: int = default_k, history: list[str] | None = None, documents: list[str] | None = None
        ) -> dict:
            """Answer one question by quoting the documents: returns Answer.to_dict().

            question: the question. k: passages to return (1-10). history: the previous
            questions of the conversation, oldest first, so a short follow-up is read in context.
            documents: names of indexed documents to search (all when left out).
            """
            return page.api_ask(question, k, history, documents)

        gr.api(ask, api_name="ask")
    return app


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    quiet_cli_environment()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser(prog).parse_args(argv)

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
    except (IndexProblem, ModelNotFound, FileNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    warning = exposure_warning(settings.host, auth)
    if warning:
        log.warning(warning)
    app = build_app(bot, settings)
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=256)
    try:
        _, local_url, _ = app.launch(prevent_thread_lock=True, **launch_kwargs(settings, auth))
    except OSError as err:
        print(
            f"error: cannot serve on {settings.host}:{settings.port} ({err}); pass --port to pick another",
            file=sys.stderr,
        )
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
