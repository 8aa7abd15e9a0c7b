"""Run ``python -m indexer build`` with the fake embedder, stopping at a chosen point to be killed.

Used by the crash-safety tests::

    python -m tests.slow_build --pause-at renamed --marker /tmp/m -- build --corpus C --index I

When the build reaches the pause point it writes the marker file and sleeps,
so the test can ``kill -9`` it exactly there. Pause points, in the order a build
passes them: ``encode`` (embedding), ``texts`` (document texts written),
``tmp-written`` (the new generation written to its temporary folder),
``renamed`` (the generation renamed into place, ``CURRENT`` not yet flipped).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PAUSE_POINTS = ("encode", "texts", "tmp-written", "renamed")


def _pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(120)
    raise SystemExit("slow_build: was not killed at the pause point")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.slow_build")
    parser.add_argument("--pause-at", choices=PAUSE_POINTS, required=True)
    parser.add_argument("--marker", type=Path, required=True, help="file written when the pause point is reached")
    parser.add_argument("indexer_args", nargs=argparse.REMAINDER, help="arguments for python -m indexer, after --")
    args = parser.parse_args(argv)
    indexer_args = [a for a in args.indexer_args if a != "--"] if args.indexer_args[:1] == ["--"] else args.indexer_args

    import indexer.__main__ as cli
    import indexer.fsutil as fsutil
    import indexer.stores.faiss as faiss_store
    from tests.fakes import FakeEmbedder

    class PausingEmbedder(FakeEmbedder):
        def encode(self, texts, *, show_progress=False):
            if texts and args.pause_at == "encode":
                _pause(args.marker)
            return super().encode(texts, show_progress=show_progress)

    real_fsync_dir = fsutil.fsync_dir

    def fsync_dir(path: Path) -> None:
        real_fsync_dir(path)
        path = Path(path)
        reached = {
            "texts": path.name == "texts",
            "tmp-written": path.name.startswith(".tmp-gen-"),
            "renamed": (path / "CURRENT").exists(),  # the index folder, synced after the rename
        }
        if reached.get(args.pause_at):
            _pause(args.marker)

    fsutil.fsync_dir = fsync_dir
    faiss_store.fsync_dir = fsync_dir
    cli.Embedder.from_settings = staticmethod(lambda settings: PausingEmbedder())
    return cli.main(indexer_args)


if __name__ == "__main__":
    sys.exit(main())
