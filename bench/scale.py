"""Scale: FAISS index types on synthetic collections of 10k..1M passages.

For each size and index type: build time, index size per passage, whether the
file loads memory-mapped, and single-query search latency and recall@10
against exact search, for a sweep of the type's search knob (HNSW ``efSearch``,
IVF ``nprobe``). The builders are the store's own (``build_faiss_index``).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .synthetic import SyntheticSpec, clustered_unit_vectors, queries_near
from .timing import summarize_seconds

__all__ = [
    "ScaleRow",
    "recall_at",
    "search_knob",
    "measure_scale",
    "mmap_probe",
    "INDEX_TYPES",
    "DEFAULT_SWEEP",
    "TORCH_EXACT",
]

INDEX_TYPES = ("flat", "hnsw", "ivf-sq8", "ivf-pq")
# Exact search with torch (indexer.torch_search): on the GPU when there is one. Not in the
# default list on a CPU machine, where it is FAISS flat done slower; `--index-types` adds it.
TORCH_EXACT = "torch-exact"
# Values of each type's search-time knob to try; the store's default is among them.
DEFAULT_SWEEP = {
    "flat": (None,),
    "hnsw": (16, 32, 64, 128, 256),
    "ivf-sq8": (8, 16, 32, 64, 128),
    "ivf-pq": (8, 16, 32, 64, 128),
}


@dataclass(frozen=True)
class ScaleRow:
    size: int
    index_type: str
    knob: str  # "efSearch=64", "nprobe=16" or "" for exact
    build_s: float
    index_bytes_per_passage: float
    median_ms: float
    p95_ms: float
    recall_at_10: float
    mmap: str  # how the file loads with the store's flags: "mmap (RSS +x MB of y MB)" or "read into RAM"
    default: bool  # this is the store's default setting for this type

    def to_dict(self) -> dict:
        return asdict(self)


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Mean share of the true top-``k`` ids present in the found top-``k`` (rows are queries)."""
    if len(truth) == 0:
        return 1.0
    hits = [len(set(f[:k].tolist()) & set(t[:k].tolist())) / min(k, len(t)) for f, t in zip(found, truth)]
    return float(np.mean(hits))


def search_knob(index, value: int | None) -> str:
    """Set the search-time accuracy knob of a FAISS index; returns it as text ("" for exact indexes)."""
    if value is None:
        return ""
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(value)
        return f"efSearch={value}"
    if hasattr(index, "nprobe"):
        index.nprobe = int(value)
        return f"nprobe={value}"
    return ""


def _current_knob(index) -> int | None:
    if hasattr(index, "hnsw"):
        return int(index.hnsw.efSearch)
    if hasattr(index, "nprobe"):
        return int(index.nprobe)
    return None


def _single_query_latency(index, queries: np.ndarray, k: int, threads: int = 1) -> tuple[list[float], np.ndarray]:
    """One query per call, as the bot searches; returns seconds per call and the ids found.

    FAISS runs one query on one thread for HNSW and IVF anyway; exact search
    would split it over OpenMP threads, whose barrier waits turn into tens of
    milliseconds when another process holds a core. One thread per query is
    also what a server answering concurrent requests gets, so that is the default.
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    found = np.empty((len(queries), k), dtype=np.int64)
    seconds = []
    try:
        for i in range(len(queries)):
            q = queries[i : i + 1]
            started = time.perf_counter()
            _, ids = index.search(q, k)
            seconds.append(time.perf_counter() - started)
            found[i] = ids[0]
    finally:
        faiss.omp_set_num_threads(before)
    return seconds, found


_PROBE = r"""
import json, sys, faiss
sys.path.insert(0, sys.argv[3])
from indexer.stores.faiss import faiss_read_flags
def rss():
    import os
    with open('/proc/self/statm') as h:
        return int(h.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
before = rss()
index = faiss.read_index(sys.argv[1], faiss_read_flags(int(sys.argv[2])))
after = rss()
print(json.dumps({"rss_growth": after - before, "ntotal": index.ntotal}))
"""


def mmap_probe(path: Path, force_mmap: bool = True) -> dict:
    """Load an index file in a fresh process with the store's flags and report how much RAM it took.

    A fresh process, because a process that just freed a big index reuses that
    memory and would hide the difference.
    """
    root = str(Path(__file__).resolve().parent.parent)
    size = int(force_mmap) * 10**18  # pretend the file is huge, so the store's mmap flags are used
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), str(size), root], capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mmap_text(path: Path) -> str:
    file_bytes = path.stat().st_size
    probe = mmap_probe(path)
    if "error" in probe:
        return f"load failed: {probe['error'][:80]}"
    growth = probe["rss_growth"]
    mb = 1024 * 1024
    if file_bytes < 8 * mb:  # page-size noise is as large as the file: no verdict
        return f"file too small to tell (RSS +{growth / mb:.0f} of {file_bytes / mb:.0f} MiB)"
    if growth < 0.5 * file_bytes:
        return f"mmap (RSS +{growth / mb:.0f} of {file_bytes / mb:.0f} MiB)"
    return f"read into RAM (RSS +{growth / mb:.0f} of {file_bytes / mb:.0f} MiB)"


def measure_scale(
    sizes: Sequence[int],
    index_types: Sequence[str] = INDEX_TYPES,
    *,
    queries: int = 200,
    k: int = 10,
    sweep: dict | None = None,
    spec: SyntheticSpec | None = None,
    check_mmap: bool = True,
    log=print,
) -> list[ScaleRow]:
    """Build every index type at every size and measure it; one row per (size, type, knob value)."""
    import faiss

    from indexer.stores.faiss import build_faiss_index

    sweep = sweep or DEFAULT_SWEEP
    rows: list[ScaleRow] = []
    with tempfile.TemporaryDirectory(prefix="quotebot-scale-") as tmp:
        for n in sizes:
            log(f"scale: generating {n:,} clustered unit vectors")
            data = clustered_unit_vectors(n, spec)
            qs = queries_near(data, queries, spec)
            truth_index = faiss.IndexFlatIP(data.shape[1])
            truth_index.add(data)
            _, truth = truth_index.search(qs, k)
            del truth_index
            for index_type in index_types:
                if index_type == TORCH_EXACT:
                    rows.append(_torch_exact_row(data, qs, truth, k, log))
                    continue
                log(f"scale: {n:,} passages, building {index_type}")
                gc.collect()
                started = time.perf_counter()
                index = build_faiss_index(data, index_type)
                build_s = time.perf_counter() - started
                path = Path(tmp) / f"{index_type}-{n}.faiss"
                faiss.write_index(index, str(path))
                per_passage = path.stat().st_size / max(n, 1)
                mmap = _mmap_text(path) if check_mmap else "not checked"
                default = _current_knob(index)
                values = list(sweep.get(index_type, (None,)))
                if default is not None and default not in values:
                    values.append(default)
                for value in sorted(values, key=lambda v: -1 if v is None else v):
                    knob = search_knob(index, value)
                    _single_query_latency(index, qs[: min(20, len(qs))], k)  # warm caches
                    seconds, found = _single_query_latency(index, qs, k)
                    timing = summarize_seconds(seconds)
                    rows.append(
                        ScaleRow(
                            size=n,
                            index_type=index_type,
                            knob=knob,
                            build_s=round(build_s, 2),
                            index_bytes_per_passage=round(per_passage, 1),
                            median_ms=round(timing.median_ms, 3),
                            p95_ms=round(timing.p95_ms, 3),
                            recall_at_10=round(recall_at(found, truth, min(k, 10)), 4),
                            mmap=mmap,
                            default=value == default,
                        )
                    )
                    log(
                        f"scale:   {index_type} {knob or 'exact'}: {timing.median_ms:.3f} ms, recall@10 {rows[-1].recall_at_10:.3f}"
                    )
                del index
                path.unlink(missing_ok=True)
            del data
    return rows


def _torch_exact_row(data: np.ndarray, qs: np.ndarray, truth: np.ndarray, k: int, log) -> ScaleRow:
    """Exact search as one matrix product with torch: fp16 on a GPU when there is one (what the
    store does with ``search_device="cuda"``), else fp32 on the CPU."""
    import torch

    from indexer.torch_search import TorchExactSearch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    searcher = TorchExactSearch(data, device)
    build_s = time.perf_counter() - started
    _single_query_latency(searcher, qs[: min(20, len(qs))], k)  # warm up (CUDA kernels, caches)
    seconds, found = _single_query_latency(searcher, qs, k)
    timing = summarize_seconds(seconds)
    row = ScaleRow(
        size=len(data),
        index_type=f"{TORCH_EXACT} ({device})",
        knob="",
        build_s=round(build_s, 2),
        index_bytes_per_passage=float(data.shape[1] * (2 if device == "cuda" else 4)),
        median_ms=round(timing.median_ms, 3),
        p95_ms=round(timing.p95_ms, 3),
        recall_at_10=round(recall_at(found, truth, min(k, 10)), 4),
        mmap=f"held in {'GPU' if device == 'cuda' else 'CPU'} memory",
        default=device == "cuda",
    )
    log(f"scale:   {row.index_type}: {timing.median_ms:.3f} ms, recall@10 {row.recall_at_10:.3f}")
    return row


def suggest_exact_below(rows: Sequence[ScaleRow], budget_ms: float) -> int | None:
    """Collection size at which exact search's median latency reaches ``budget_ms``.

    Interpolated linearly between the two measured sizes that straddle the
    budget (exact search time grows linearly within a memory regime, but jumps
    when the vectors stop fitting in the CPU cache, so no single line fits all
    sizes). ``None`` when every measured size is within the budget.
    """
    points = sorted((r.size, r.median_ms) for r in rows if r.index_type == "flat")
    if not points:
        return None
    previous = (0, 0.0)
    for size, ms in points:
        if ms > budget_ms:
            (s0, m0), (s1, m1) = previous, (size, ms)
            return int(round(s0 + (budget_ms - m0) * (s1 - s0) / (m1 - m0)))
        previous = (size, ms)
    return None


if __name__ == "__main__":  # pragma: no cover - use python -m bench
    raise SystemExit("run: python -m bench --only scale")
