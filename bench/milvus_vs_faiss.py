"""Milvus Lite against FAISS through the bot's own ``VectorStore`` interface.

    python -m bench.milvus_vs_faiss                      # 100k and 1M passages (long: see docs/scale-out.md)
    python -m bench.milvus_vs_faiss --sizes 100000       # one size
    python -m bench.milvus_vs_faiss --tiny               # 2,000 passages, seconds (what the test runs)
    python -m bench.milvus_vs_faiss --stores milvus --milvus-uri http://host:19530   # a real server

The passages are synthetic: random 384-dimension unit vectors drawn around
``n / 1000`` random cluster centres (so that neighbours are meaningfully closer
than strangers, as with real sentence embeddings), grouped into documents of
1,000 short passages each. Queries are held-out points drawn around random
stored passages. No model is involved: this measures the stores only.

Each (store, size) runs in a fresh subprocess, so build time, memory and
latency of one do not leak into the other. Per run it reports:

* ``build_s``: ``store.apply`` of every document at once (what ``python -m
  indexer build`` does), until it returns;
* ``ready_s``: until the search index covers every row (Milvus Lite builds
  segment indexes in a background thread after ``apply`` returns; FAISS is
  ready when ``apply`` returns);
* ``p50_ms`` / ``p95_ms``: one query at a time through ``store.search(q, 10)``,
  passages' text and offsets included, as the bot asks;
* ``recall@10``: overlap with exact search (numpy, full scan) over the same vectors;
* ``peak_rss_gb``: the process's peak resident memory (data generation included)
  and ``disk_gb``: the index on disk (both of this process only: with
  ``--milvus-uri`` the server's own memory and disk are not seen).

The table goes to standard output and everything to ``--json`` (default
``bench/results/milvus_vs_faiss.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DIM = 384
PER_DOC = 1_000
TINY = 2_000
TEXT_WIDTH = len("synthetic passage 000000000.")  # every passage text has this length
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = PROJECT_ROOT / "bench" / "results" / "milvus_vs_faiss.json"


@dataclass
class Result:
    store: str
    n: int
    status: str = "ok"  # or what went wrong: "timed out after 3600 s", "killed (out of memory?)", ...
    index_type: str = ""
    build_s: float = 0.0
    ready_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    recall_at_10: float = 0.0
    peak_rss_gb: float = 0.0
    disk_gb: float = 0.0
    queries: int = 0


# ---- synthetic data --------------------------------------------------------------------------


def synthetic_vectors(n: int, dim: int = DIM, seed: int = 0, block: int = 100_000) -> np.ndarray:
    """``n`` clustered unit vectors, the same for the same arguments (generated in blocks to bound memory)."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((max(1, n // 1_000), dim), dtype=np.float32))
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, block):
        size = min(block, n - start)
        members = rng.integers(0, len(centres), size)
        noise = rng.standard_normal((size, dim), dtype=np.float32) / np.sqrt(dim)  # about as long as a centre
        out[start : start + size] = _unit(centres[members] + noise)
    return out


def query_vectors(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """Queries near random stored passages (a paraphrase lands near its answer, not on it)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(vectors), count)
    noise = rng.standard_normal((count, vectors.shape[1]), dtype=np.float32) * (0.5 / np.sqrt(vectors.shape[1]))
    return _unit(vectors[picks] + noise)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 100_000) -> np.ndarray:
    """Row numbers of the exact top ``k`` per query, by inner product (the reference for recall)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start : start + block].T
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argsort(-all_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(all_scores, keep, axis=1)
        best_rows = np.take_along_axis(all_rows, keep, axis=1)
    return best_rows


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_documents(vectors: np.ndarray) -> list:
    """Documents of ``PER_DOC`` passages; passage ``i`` reads ``synthetic passage {i:09d}.``."""
    from indexer.chunking import Chunk
    from indexer.stores import DocumentRecord, NewDocument

    docs = []
    step = TEXT_WIDTH + 1
    for d, start in enumerate(range(0, len(vectors), PER_DOC)):
        rows = range(start, min(start + PER_DOC, len(vectors)))
        name = f"syn-{d:05d}.txt"
        texts = [f"synthetic passage {i:09d}." for i in rows]
        chunks = [
            Chunk(
                f"{name}:{j * step}-{j * step + TEXT_WIDTH}",
                name,
                j * step,
                j * step + TEXT_WIDTH,
                t,
                "",
                0,
                ((j * step, j * step + TEXT_WIDTH),),
            )
            for j, t in enumerate(texts)
        ]
        record = DocumentRecord(name, f"synthetic-{d}", name, "txt", name, len(chunks), "")
        docs.append(NewDocument(record, " ".join(texts), chunks, vectors[rows.start : rows.stop]))
    return docs


def _row_of(chunk) -> int:
    return int(chunk.text[len("synthetic passage ") : -1])


# ---- one measurement (runs in its own process) -----------------------------------------------


def measure(
    store_kind: str, n: int, workdir: Path, queries: int, k: int, index_type: str, server_uri: str | None = None
) -> Result:
    """One build and query run. With ``server_uri`` the Milvus run goes to that server, into
    collections named ``quotebot_bench_*`` that are dropped before and after."""
    from indexer.stores import Manifest, open_store
    from indexer.stores.milvus import MilvusStore

    vectors = synthetic_vectors(n)
    qs = query_vectors(vectors, queries)
    truth = exact_top_k(vectors, qs, k)
    docs = synthetic_documents(vectors)
    location = workdir / ("milvus.db" if store_kind == "milvus" else "faiss")
    if store_kind == "milvus" and server_uri:
        store = MilvusStore(server_uri, collection="quotebot_bench", index_type=index_type)
        store.drop()
    else:
        store = open_store(store_kind, index_dir=location, uri=str(location), index_type=index_type)
    manifest = Manifest("synthetic", DIM, {}, {d.record.name: d.record for d in docs})

    started = time.perf_counter()
    store.apply(remove=[], add=docs, manifest=manifest)
    build_s = time.perf_counter() - started
    del docs
    if store_kind == "milvus":
        _wait_for_server_index(store) if server_uri else _wait_for_lite_indexes(store)
    ready_s = time.perf_counter() - started

    for q in qs[:5]:  # warm caches and connections
        store.search(q[None, :], k)
    latencies, found = [], []
    for q in qs:
        t0 = time.perf_counter()
        hits = store.search(q[None, :], k)[0]
        latencies.append(time.perf_counter() - t0)
        found.append([_row_of(h.chunk) for h in hits])
    recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth.tolist())]))
    index_type = store.read_manifest().index_type
    if server_uri and store_kind == "milvus":
        store.drop()
    return Result(
        store=_label(store_kind, server_uri),
        n=n,
        index_type=index_type,
        build_s=round(build_s, 2),
        ready_s=round(ready_s, 2),
        p50_ms=round(float(np.percentile(latencies, 50)) * 1000, 2),
        p95_ms=round(float(np.percentile(latencies, 95)) * 1000, 2),
        recall_at_10=round(recall, 4),
        peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        disk_gb=round(_disk_bytes(location) / 1024**3, 3) if location.exists() else 0.0,
        queries=len(qs),
    )


def _wait_for_lite_indexes(store) -> None:
    """Block until Milvus Lite's background worker has indexed every segment.

    Uses Milvus Lite internals (bench only): a server reports rows as indexed
    through ``describe_index``, Milvus Lite 3.2 does not track it.
    """
    from milvus_lite.server_manager import server_manager_instance

    name = store.chunks_name(DIM)
    _, db, _ = server_manager_instance._servers[os.path.abspath(store.uri)]
    collection = db.get_collection(name)
    while True:
        collection._wait_for_bg()
        if collection._ensure_loaded_segments_indexed() == 0:
            return


def _wait_for_server_index(store, timeout: float = 6 * 3600) -> None:
    """A server reports its background index build through ``describe_index``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        indexed, total = store.index_progress()
        if total and indexed >= total:
            return
        time.sleep(2)


def _disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---- the whole run ---------------------------------------------------------------------------


def run_one_in_subprocess(store: str, n: int, args: argparse.Namespace) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{store}-{n}-", dir=args.workdir))
    command = [
        sys.executable,
        "-m",
        "bench.milvus_vs_faiss",
        "--one",
        store,
        str(n),
        "--queries",
        str(args.queries),
        "--k",
        str(args.k),
        "--index-type",
        args.index_type,
        "--workdir",
        str(workdir),
    ] + (["--milvus-uri", args.milvus_uri] if args.milvus_uri else [])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, cwd=PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return Result(store=_label(store, args.milvus_uri), n=n, status=f"timed out after {args.timeout} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0:
        why = "killed (out of memory?)" if done.returncode < 0 else f"failed: {done.stderr.strip().splitlines()[-1:]}"
        return Result(store=_label(store, args.milvus_uri), n=n, status=why)
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


def _label(store: str, server_uri: str | None = None) -> str:
    if store != "milvus":
        return "FAISS"
    return "Milvus server" if server_uri else "Milvus Lite"


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _server_version(uri: str) -> str:
    """The server's own version string, for the record (the client is in the table's store column)."""
    from indexer.stores.milvus import MilvusStore

    try:
        return MilvusStore(uri)._client().get_server_version()
    except Exception as err:
        return f"unknown ({err})"


def table(results: list[Result]) -> str:
    header = "| store | passages | index | build s | ready s | p50 ms | p95 ms | recall@10 | peak RSS GB | disk GB |"
    lines = [header, "|" + "---|" * 10]
    for r in results:
        if r.status != "ok":
            lines.append(f"| {r.store} | {r.n:,} | {r.status} | | | | | | | |")
            continue
        lines.append(
            f"| {r.store} | {r.n:,} | {r.index_type} | {r.build_s:.1f} | {r.ready_s:.1f} | {r.p50_ms:.2f} | "
            f"{r.p95_ms:.2f} | {r.recall_at_10:.3f} | {r.peak_rss_gb:.2f} | {r.disk_gb:.3f} |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.milvus_vs_faiss", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="passage counts")
    parser.add_argument("--tiny", action="store_true", help=f"only {TINY:,} passages (a smoke run of seconds)")
    parser.add_argument("--stores", nargs="+", choices=["faiss", "milvus"], default=["faiss", "milvus"])
    parser.add_argument("--queries", type=int, default=200, help="queries timed per run")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--index-type", default="auto", choices=["auto", "flat", "hnsw", "ivf-sq8"])
    parser.add_argument("--timeout", type=int, default=3 * 3600, help="seconds allowed per (store, size) run")
    parser.add_argument("--workdir", type=Path, default=None, help="where indexes are built (default: system temp)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument(
        "--milvus-uri",
        help="measure this Milvus server (http://host:19530) instead of Milvus Lite; "
        "token from $QUOTEBOT_MILVUS_TOKEN; uses and drops collections quotebot_bench_*",
    )
    parser.add_argument("--one", nargs=2, metavar=("STORE", "N"), help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.one:
        store, n = args.one[0], int(args.one[1])
        result = measure(store, n, args.workdir, args.queries, args.k, args.index_type, args.milvus_uri)
        print(json.dumps(asdict(result)))
        return 0
    sizes = [TINY] if args.tiny else args.sizes
    results = []
    for n in sizes:
        for store in args.stores:
            result = run_one_in_subprocess(store, n, args)
            results.append(result)
            print(f"{result.store} {n:,}: {result.status}", file=sys.stderr, flush=True)
    print(table(results))
    report = {
        "command": "python -m bench.milvus_vs_faiss " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "environment": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        "milvus_server": _server_version(args.milvus_uri) if args.milvus_uri else None,
        "data": "synthetic clustered unit vectors, 384 dimensions; queries near stored passages",
        "queries": args.queries,
        "k": args.k,
        "results": [asdict(r) for r in results],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
