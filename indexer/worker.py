"""Index documents in a child process at a low CPU priority (nice 10), so that a process that answers
questions (the page) never waits for the model behind an upload.

Embedding a 1,500-passage upload takes minutes on two cores; done in the page's own process it
holds the model (one forward pass at a time) and the CPU, and questions from other tabs waited
up to the whole time. ``index_in_worker`` hands the documents, already read and checked, to
``python -m indexer.worker`` with its own copy of the model, one CPU thread and ``nice`` 10,
reads its progress, and returns its report. The caller holds the writers' lock for the child
(``indexer.manage.index_lock``); the child commits a new generation as any writer does, and the
bot sees it before its next answer (``bot.freshness``). A child whose parent died stops before
it writes anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from .build import BuildReport
from .document import Document
from .settings import Settings
from .stores import IndexProblem

__all__ = ["WORKER_ABOVE_CHARS", "index_in_worker", "wants_worker"]

# Below this many characters (about 250 passages) the model's start-up in a child costs more than
# the questions would wait; such documents are embedded in the process, in small batches.
WORKER_ABOVE_CHARS = 20_000
NICE = 10  # 19 starves it on a busy machine; at 10 a question still gets about 90% of a core it wants


def wants_worker(embedder: object, documents: Sequence[Document]) -> bool:
    """Whether to index ``documents`` in a worker: only with the real model (a child can make the
    same one from the settings), and only when there is enough to embed to be worth its start."""
    from .embedding import Embedder

    return isinstance(embedder, Embedder) and sum(len(d.text) for d in documents) > WORKER_ABOVE_CHARS


def index_in_worker(
    settings: Settings,
    documents: Sequence[Document],
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Embed and add ``documents`` (keeping every other one) in a low-priority child process.

    Hold the index's writer lock around this call. Raises ``IndexProblem`` with the child's last
    words when it fails (the index is then left as it was)."""
    job = {
        "settings": {f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)},
        "documents": [dataclasses.asdict(d) for d in documents],
        "nice": NICE,
    }
    with tempfile.TemporaryDirectory(prefix="quotebot-index-") as folder:
        path = Path(folder) / "job.json"
        path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p
        )
        report = None
        with open(Path(folder) / "stderr.txt", "w+", encoding="utf-8", errors="replace") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-m", "indexer.worker", str(path)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
            try:
                for line in child.stdout:
                    word, _, rest = line.strip().partition(" ")
                    if word == "progress" and on_progress is not None:
                        done, total = (int(n) for n in rest.split())
                        on_progress(done, total)
                    elif word == "report":
                        report = BuildReport(**json.loads(rest))
                child.wait()
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            stderr.seek(0)
            errors = stderr.read()
    if child.returncode != 0 or report is None:
        last = " ".join(errors.strip().splitlines()[-1:]) or f"exit status {child.returncode}"
        raise IndexProblem(f"indexing in a worker process failed ({last}); the index was left as it was")
    return report


def _plain(value):
    return str(value) if isinstance(value, Path) else value


def main(argv: Sequence[str] | None = None) -> int:
    """The child: read the job, embed at low priority, commit, print the report."""
    from .build import sync_documents
    from .chunking import ChunkingSettings
    from .embedding import Embedder
    from .stores import open_store

    job = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    os.nice(int(job.get("nice", NICE)))
    parent = os.getppid()
    values = job["settings"]
    settings = Settings(
        **{k: Path(v) if k in ("corpus_dir", "index_dir", "feedback_path") else v for k, v in values.items()}
    )
    documents = [Document(**{**d, "pages": tuple(d.get("pages", ()))}) for d in job["documents"]]
    store = open_store(settings.store, index_dir=settings.index_dir, uri=settings.uri, index_type=settings.index_type)

    def progress(done: int, total: int) -> None:
        if os.getppid() != parent:  # the page that holds the lock for us is gone: write nothing
            raise SystemExit("the process that started this indexing ended; nothing was written")
        print(f"progress {done} {total}", flush=True)

    report = sync_documents(
        store,
        Embedder.from_settings(settings),
        documents,
        settings=ChunkingSettings(),
        remove_missing=False,
        on_progress=progress,
    )
    print("report " + json.dumps(dataclasses.asdict(report), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
