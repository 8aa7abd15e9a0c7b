"""Command line: ``python -m indexer build|add|remove|list``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Iterator

from .build import BuildReport
from .embedding import BACKENDS, Embedder, ModelNotFound
from .loaders import LOADERS, DocumentError
from .manage import IndexBusy, add_files, build_index, index_added, index_lock, remove_document
from .onnx_backend import OnnxBackendError
from .settings import Settings
from .stores import INDEX_TYPES, STORES, IndexError_, VectorStore, open_store


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", help="index folder (default: ./index, or $QUOTEBOT_INDEX)")
    parser.add_argument("--store", choices=STORES, help="vector store (default: faiss)")
    parser.add_argument("--uri", help="Milvus URI: a local .db file (Milvus Lite) or http://host:19530")
    parser.add_argument("--model", help="sentence-transformers model name or path")
    parser.add_argument("--backend", choices=BACKENDS, help="how the model runs (default: torch)")


def _corpus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", help="folder of documents (default: ./corpus, or $QUOTEBOT_CORPUS)")


def _size_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-file-mb", type=float, dest="max_upload_mb",
        help="refuse files larger than this many MB (default: 20, or $QUOTEBOT_MAX_UPLOAD_MB)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="Index documents for the quoting bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    formats = ", ".join(sorted(LOADERS))
    build = sub.add_parser("build", help="index every document in a corpus folder (only what changed)")
    _corpus(build)
    build.add_argument("--index-type", choices=INDEX_TYPES, help="FAISS index type")
    _size_limit(build)
    _common(build)
    add = sub.add_parser("add", help=f"copy documents into the corpus folder and index them ({formats})")
    add.add_argument("paths", nargs="+", metavar="PATH", help="files to add")
    conflict = add.add_mutually_exclusive_group()
    conflict.add_argument(
        "--replace", action="store_const", const="replace", dest="on_conflict",
        help="replace a different corpus file of the same name (default: save as NAME-2.ext)",
    )
    conflict.add_argument(
        "--no-rename", action="store_const", const="error", dest="on_conflict",
        help="refuse a file whose name is taken by a different corpus file",
    )
    _corpus(add)
    _size_limit(add)
    _common(add)
    remove = sub.add_parser("remove", help="take documents out of the index and the corpus folder")
    remove.add_argument("names", nargs="+", metavar="NAME", help="document names as `list` shows them")
    _corpus(remove)
    _common(remove)
    listing = sub.add_parser("list", help="list indexed documents")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _corpus(listing)
    _common(listing)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=args.index,
        store=args.store,
        uri=args.uri,
        model=args.model,
        index_type=getattr(args, "index_type", None),
        max_upload_mb=getattr(args, "max_upload_mb", None),
        backend=args.backend,
    )


@contextlib.contextmanager
def _writing(store: VectorStore) -> Iterator[None]:
    """Hold the index's writer lock, saying so when another job holds it first."""
    try:
        with index_lock(store, timeout=0):
            yield
        return
    except IndexBusy:
        print("waiting for another job that is changing the index...", file=sys.stderr)
    with index_lock(store):
        yield


def _print_report(store: VectorStore, report: BuildReport) -> None:
    state = "up to date, nothing to do" if not report.changed else report.summary()
    print(f"index {store.describe()}: {state}")


def _build(settings: Settings, store: VectorStore) -> int:
    embedder = Embedder.from_settings(settings)
    with _writing(store):
        report, damage = build_index(store, embedder, settings.corpus_dir, max_bytes=settings.max_upload_bytes, show_progress=True)
    if damage:
        print(f"warning: the index is damaged: {damage}", file=sys.stderr)
        print(f"building the index again from {settings.corpus_dir}", file=sys.stderr)
    for message in report.errors.values():
        print(f"skipped {message}", file=sys.stderr)
    _print_report(store, report)
    return 1 if report.errors and not (report.changed or report.unchanged) else 0


def _add(settings: Settings, store: VectorStore, args: argparse.Namespace) -> int:
    results = add_files(
        settings.corpus_dir, args.paths, max_bytes=settings.max_upload_bytes, on_conflict=args.on_conflict or "rename"
    )
    for result in results:
        if result.ok:
            print(result.message)
        else:
            print(f"refused {result.message}", file=sys.stderr)
    if any(r.ok for r in results):
        embedder = Embedder.from_settings(settings)
        with _writing(store):
            report = index_added(store, embedder, [r for r in results if r.ok])
        _print_report(store, report)
    return 0 if all(r.ok for r in results) else 1


def _remove(settings: Settings, store: VectorStore, args: argparse.Namespace) -> int:
    status = 0
    for name in args.names:
        try:
            result = remove_document(settings.corpus_dir, store, name)
        except DocumentError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
            continue
        places = (("the index", result.removed_from_index), ("the corpus folder", result.file_deleted))
        where = [place for place, done in places if done]
        print(f"removed {result.name} from {' and '.join(where)}")
    return status


def _list(store: VectorStore, as_json: bool) -> int:
    docs = store.documents()
    if as_json:
        print(json.dumps([r.to_dict() for r in docs.values()], ensure_ascii=False, indent=1))
    elif not docs:
        print("the index holds no documents")
    else:
        for rec in docs.values():
            print(f"{rec.name}\t{rec.n_chunks} chunks\tindexed {rec.indexed_at}\t{rec.title}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        store = open_store(settings.store, index_dir=settings.index_dir, uri=settings.uri, index_type=settings.index_type)
        if args.command == "build":
            return _build(settings, store)
        if args.command == "add":
            return _add(settings, store, args)
        if args.command == "remove":
            return _remove(settings, store, args)
        if args.command == "list":
            return _list(store, args.json)
    except (IndexError_, ModelNotFound, OnnxBackendError, OSError, ValueError) as err:  # OSError: a missing folder, a full disk
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
