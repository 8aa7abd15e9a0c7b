"""The app's command line and start-up: flags over ``QUOTEBOT_*`` variables over defaults, the
index brought up to date before serving, and the options the page is launched with."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware

from indexer.manage import build_index, build_warnings, index_lock
from indexer.settings import Settings, add_settings_flags, settings_from_args
from indexer.stores import IndexProblem

from .assets import page_style
from .guards import BodyLimit, LoginThrottle, OriginGuard
from .handlers import LOCK_WAIT_S

__all__ = ["CONCURRENCY", "build_parser", "launch_kwargs", "settings_from_args", "update_index"]

CONCURRENCY = 8  # events served at once; Bot.ask is thread-safe (the model call is serialised)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python app.py",
        description="Serve the chat page that answers questions by quoting the documents.",
        epilog="Login (optional): set QUOTEBOT_AUTH=user:password or QUOTEBOT_AUTH_FILE=path (lines user:password).",
    )
    add_settings_flags(parser)
    return parser


def launch_kwargs(settings: Settings, auth: list[tuple[str, str]] | None) -> dict[str, Any]:
    """Safe defaults: no share link, no monitoring page, no MCP, and no files served from our folders."""
    blocked = [str(Path(p).resolve()) for p in (settings.corpus_dir, settings.index_dir, settings.feedback_path.parent)]
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "auth": auth,
        "share": False,
        "max_file_size": f"{settings.max_upload_mb}mb",
        # Outermost first: a foreign Host or Origin, and password guessing, are refused before anything is read.
        "app_kwargs": {
            "middleware": [
                OriginGuard.from_settings(settings, auth),
                Middleware(LoginThrottle),
                BodyLimit.from_settings(settings),
            ]
        },
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
    try:
        with index_lock(store, timeout=LOCK_WAIT_S):  # not while `python -m indexer add` is changing it
            report, damage = build_index(
                store,
                embedder,
                settings.corpus_dir,
                max_bytes=settings.max_upload_bytes,
                limits=settings.document_limits,
            )
    except OSError as err:
        try:
            built = store.read_manifest() is not None
        except (IndexProblem, OSError):
            built = False
        if not built:
            raise
        return f"index {store.describe()}: could not bring it up to date ({err}); serving it as it was last built"
    for line in build_warnings(report, damage, settings.corpus_dir):
        print(line, file=sys.stderr)
    return f"index {store.describe()}: {report.summary() if report.changed else 'up to date'}"
