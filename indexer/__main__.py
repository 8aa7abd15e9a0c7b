"""Command line: ``python -m indexer build|list``."""

from __future__ import annotations

import argparse
import json
import sys

from .build import build_corpus
from .chunking import ChunkingSettings
from .embedding import BACKENDS, Embedder, ModelNotFound
from .onnx_backend import OnnxBackendError
from .settings import Settings
from .store import IndexError_, open_store


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", help="index folder (default: ./index, or $QUOTEBOT_INDEX)")
    parser.add_argument("--store", choices=["faiss", "milvus"], help="vector store (default: faiss)")
    parser.add_argument("--uri", help="Milvus URI: a local .db file (Milvus Lite) or http://host:19530")
    parser.add_argument("--model", help="sentence-transformers model name or path")
    parser.add_argument("--backend", choices=BACKENDS, help="how the model runs (default: torch)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="Index documents for the quoting bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="index every document in a corpus folder (only what changed)")
    build.add_argument("--corpus", help="folder of documents (default: ./corpus)")
    build.add_argument("--index-type", choices=["auto", "flat", "hnsw", "ivf-sq8", "ivf-pq"], help="FAISS index type")
    _common(build)
    listing = sub.add_parser("list", help="list indexed documents")
    listing.add_argument("--json", action="store_true", help="print JSON")
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
        backend=args.backend,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    try:
        store = open_store(settings.store, index_dir=settings.index_dir, uri=settings.uri, index_type=settings.index_type)
        if args.command == "build":
            report = build_corpus(
                settings.corpus_dir, store, Embedder(settings.model, device=settings.device, backend=settings.backend), show_progress=True,
                settings=ChunkingSettings(),
            )
            for name, message in report.errors.items():
                print(f"skipped {name}: {message}", file=sys.stderr)
            state = "up to date, nothing to do" if not report.changed else report.summary()
            print(f"index {store.describe()}: {state}")
            return 1 if report.errors and not (report.changed or report.unchanged) else 0
        if args.command == "list":
            docs = store.documents()
            if args.json:
                print(json.dumps([r.to_dict() for r in docs.values()], ensure_ascii=False, indent=1))
            elif not docs:
                print("the index holds no documents")
            for rec in docs.values():
                if not args.json:
                    print(f"{rec.name}\t{rec.n_chunks} chunks\tindexed {rec.indexed_at}\t{rec.title}")
            return 0
    except (IndexError_, ModelNotFound, OnnxBackendError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
