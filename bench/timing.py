"""Small pure helpers for timing and memory: medians, percentiles, resident memory."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

__all__ = ["Timing", "summarize_seconds", "time_each", "rss_bytes"]

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Latency of many calls, in milliseconds."""

    n: int
    median_ms: float
    p95_ms: float
    mean_ms: float

    def to_dict(self) -> dict:
        return {"n": self.n, "median_ms": self.median_ms, "p95_ms": self.p95_ms, "mean_ms": self.mean_ms}


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize_seconds(seconds: list[float]) -> Timing:
    if not seconds:
        raise ValueError("no timings to summarize")
    ms = [s * 1000.0 for s in seconds]
    return Timing(len(ms), statistics.median(ms), percentile(ms, 95), statistics.fmean(ms))


def time_each(fn: Callable[[T], object], items: Iterable[T]) -> list[float]:
    """Seconds taken by ``fn(item)`` for each item, in order."""
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - started)
    return out


def rss_bytes() -> int:
    """Resident memory of this process now (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")
