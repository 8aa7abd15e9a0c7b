"""``python -m indexer`` with the tests' fake embedder, for tests that need a writer in another process:

python -m tests.fake_indexer add --replace notes.txt --corpus C --index I
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_fake_indexer(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run this module as another process (``python -m tests.fake_indexer ARGS``), offline, with
    ``env`` added to this process's environment; its output is captured, never raised on."""
    environment = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(PROJECT_ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "tests.fake_indexer", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> int:
    import indexer.__main__ as cli
    from tests.fakes import FakeEmbedder

    cli.Embedder.from_settings = staticmethod(lambda settings: FakeEmbedder())
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
