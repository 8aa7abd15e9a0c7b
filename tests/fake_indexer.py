"""``python -m indexer`` with the tests' fake embedder, for tests that need a writer in another process:

python -m tests.fake_indexer add --replace notes.txt --corpus C --index I
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import indexer.__main__ as cli
    from tests.fakes import FakeEmbedder

    cli.Embedder.from_settings = staticmethod(lambda settings: FakeEmbedder())
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
