"""The app's command line and start-up: flags over ``QUOTEBOT_*`` variables over defaults, the
index brought up to date before serving, and the options the page is launched with."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping

from indexer.manage import build_index, build_warnings, index_lock
from indexer.settings import Settings
from indexer.stores import IndexError_

from .assets import page_style
from .guards import BodyLimit
from .handlers import LOCK_WAIT_S

__all__ = ["CONCURRENCY", "build_parser", "launch_kwargs", "settings_from_args", "update_index"]

CONCURRENCY = 8  # events served at once; Bot.ask is thread-safe (the model call is serialised)


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


def launch_kwargs(settings: Settings, auth: list[tuple[str, str]] | None) -> dict[str, Any]:
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
    for line in build_warnings(report, damage, settings.corpus_dir):
        print(line, file=sys.stderr)
    return f"index {store.describe()}: {report.summary() if report.changed else 'up to date'}"
