"""Command line: ``python -m indexer build|add|remove|list``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Iterator

from .build import BuildReport
from .embedding import Embedder, ModelNotFound
from .loaders import LOADERS, DocumentError
from .manage import IndexBusy, add_files, build_index, build_warnings, index_added, index_lock, remove_document
from .onnx_backend import OnnxBackendError
from .settings import Settings, add_settings_flags, quiet_cli_environment, settings_from_args
from .stores import IndexProblem, VectorStore, open_store


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m indexer", description="Index documents for the quoting bot."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    formats = ", ".join(sorted(LOADERS))
    build = sub.add_parser("build", help="index every document in a corpus folder (only what changed)")
    add_settings_flags(build)
    add = sub.add_parser("add", help=f"copy documents into the corpus folder and index them ({formats})")
    add.add_argument("paths", nargs="+", metavar="PATH", help="files to add")
    conflict = add.add_mutually_exclusive_group()
    conflict.add_argument(
        "--replace",
        action="store_const",
        const="replace",
        dest="on_conflict",
        help="replace a different corpus file of the same name (default: save as NAME-2.ext)",
    )
    conflict.add_argument(
        "--no-rename",
        action="store_const",
        const="error",
        dest="on_conflict",
        help="refuse a file whose name is taken by a different corpus file",
    )
    add_settings_flags(add)
    remove = sub.add_parser("remove", help="take documents out of the index and the corpus folder")
    remove.add_argument("names", nargs="+", metavar="NAME", help="document names as `list` shows them")
    add_settings_flags(remove)
    listing = sub.add_parser("list", help="list indexed documents")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_settings_flags(listing)
    return parser


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
        report, damage = build_index(
            store,
            embedder,
            settings.corpus_dir,
            max_bytes=settings.max_upload_bytes,
            show_progress=True,
            limits=settings.document_limits,
        )
    for line in build_warnings(report, damage, settings.corpus_dir):
        print(line, file=sys.stderr)
    _print_report(store, report)
    return 1 if report.errors and not (report.changed or report.unchanged) else 0


def _add(settings: Settings, store: VectorStore, args: argparse.Namespace) -> int:
    results = add_files(
        settings.corpus_dir,
        args.paths,
        max_bytes=settings.max_upload_bytes,
        on_conflict=args.on_conflict or "rename",
        limits=settings.document_limits,
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


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    quiet_cli_environment()
    args = build_parser(prog).parse_args(argv)
    try:
        settings = settings_from_args(args)
        store = open_store(
            settings.store, index_dir=settings.index_dir, uri=settings.uri, index_type=settings.index_type
        )
        if args.command == "build":
            return _build(settings, store)
        if args.command == "add":
            return _add(settings, store, args)
        if args.command == "remove":
            return _remove(settings, store, args)
        if args.command == "list":
            return _list(store, args.json)
    except (
        IndexProblem,
        ModelNotFound,
        OnnxBackendError,
        OSError,
        ValueError,
    ) as err:  # OSError: a missing folder, a full disk
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
