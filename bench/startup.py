"""Cold start: launch to first answer, for ``python -m bot ask`` and for the app, with where the time goes.

Each start is a fresh process on an index that is already built (and a model
already exported), as a user meets it on the second run. The variants take
turns (default backend, then ``--backend torch``, repeated) so a busy spell
falls on both. Wall times come from plain runs; the per-package breakdown from
one extra run of each under ``python -X importtime`` (which slows a start by
itself, so its totals are not the wall times): the self time of every module,
summed by top-level package, so a package's figure counts only its own code.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .report import Section

__all__ = [
    "StartupResult",
    "import_breakdown",
    "measure_startup",
    "startup_section",
    "QUESTION_PATH_FREE_OF",
    "TARGET_S",
]

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What is a muscle spasm?"
TARGET_S = 3.0  # the app, launch to first answer, quiet 2-core machine, index built
# Packages the question path must not import with the default backend (gradio is the app's own).
QUESTION_PATH_FREE_OF = ("torch", "sentence_transformers", "transformers", "sklearn", "scipy.stats")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$", re.M)


def import_breakdown(importtime_output: str) -> dict[str, float]:
    """Milliseconds of import by top-level package (the sum of its modules' self times), largest first."""
    totals: Counter = Counter()
    for match in _LINE.finditer(importtime_output):
        totals[match.group(4).split(".")[0]] += int(match.group(1)) / 1000.0
    return dict(totals.most_common())


def imported_modules(importtime_output: str) -> set[str]:
    return {m.group(4) for m in _LINE.finditer(importtime_output)}


@dataclass
class StartupResult:
    wall_s: dict[str, list[float]] = field(default_factory=dict)  # by variant
    breakdown_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # by variant: package -> ms
    heavy: dict[str, list[str]] = field(
        default_factory=dict
    )  # by variant: which of QUESTION_PATH_FREE_OF were imported

    def median_s(self, variant: str) -> float:
        return statistics.median(self.wall_s[variant])


def _env(backend: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    if backend:
        env["QUOTEBOT_BACKEND"] = backend
    return env


def _python_args(importtime: bool) -> list[str]:
    return ["-X", "importtime"] if importtime else []


def _bot_ask(index: Path, corpus: Path, backend: str | None, importtime: bool) -> tuple[float, str]:
    command = [
        sys.executable,
        *_python_args(importtime),
        "-m",
        "bot",
        "ask",
        QUESTION,
        "--index",
        str(index),
        "--corpus",
        str(corpus),
    ]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=_env(backend), capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"python -m bot ask failed ({proc.returncode}): {proc.stderr[-1000:]}")
    return wall, proc.stderr


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``launch_app`` passes this process's environment on; set it for one launch."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _app(index: Path, corpus: Path, backend: str | None, importtime: bool, workdir: Path) -> tuple[float, str]:
    from .serving import first_answer, launch_app

    with _environment(_env(backend)):
        run = launch_app(corpus, index, workdir, _python_args(importtime))
    try:
        total, _ = first_answer(run)
        return total, run.output()
    finally:
        run.stop()


def measure_startup(
    *,
    rounds: int = 2,
    app: bool = True,
    backends: Sequence[str] = ("onnx-int8", "torch"),
    log: Callable[[str], None] = print,
) -> StartupResult:
    from indexer.build import build_corpus
    from indexer.embedding import Embedder
    from indexer.stores.faiss import FaissStore

    corpus = ROOT / "corpus"
    result = StartupResult()
    with tempfile.TemporaryDirectory(prefix="quotebot-bench-startup-") as tmp:
        index = Path(tmp) / "index"
        build_corpus(corpus, FaissStore(index), Embedder(backend=backends[0]))  # also exports the model once
        kinds = [("bot ask", _bot_ask)] + ([("app", lambda i, c, b, t: _app(i, c, b, t, Path(tmp)))] if app else [])
        for round_ in range(rounds):
            order = list(backends) if round_ % 2 == 0 else list(reversed(backends))
            for kind, start in kinds:
                for backend in order:
                    name = f"{kind} ({backend})"
                    log(f"startup: {name}, round {round_ + 1}/{rounds}")
                    wall, _ = start(index, corpus, backend, False)
                    result.wall_s.setdefault(name, []).append(wall)
        for kind, start in kinds:
            for backend in backends:
                name = f"{kind} ({backend})"
                log(f"startup: {name} under python -X importtime")
                _, output = start(index, corpus, backend, True)
                result.breakdown_ms[name] = import_breakdown(output)
                modules = imported_modules(output)
                result.heavy[name] = sorted(
                    p for p in QUESTION_PATH_FREE_OF if any(m == p or m.startswith(p + ".") for m in modules)
                )
    return result


def startup_section(result: StartupResult, *, top: int = 10) -> list[Section]:
    names = list(result.wall_s)
    wall = Section(
        "startup",
        "Cold start: launch to first answer (index built, model exported)",
        ["process", "median (s)", "runs (s)", "target", "met", "heavy packages imported"],
    )
    for name in names:
        is_target = name.startswith("app (") and "torch" not in name
        median = result.median_s(name)
        wall.add(
            name,
            median,
            " ".join(f"{s:.2f}" for s in result.wall_s[name]),
            f"<= {TARGET_S:g} s" if is_target else "-",
            ("yes" if median <= TARGET_S else "no") if is_target else "-",
            ", ".join(result.heavy.get(name, [])) or "none",
        )
    wall.notes.append(f"heavy packages: {', '.join(QUESTION_PATH_FREE_OF)} (the question path needs none of them)")
    wall.data = {"wall_s": result.wall_s, "heavy": result.heavy}
    packages: list[str] = []
    for name in names:
        for package in list(result.breakdown_ms.get(name, {}))[:top]:
            if package not in packages:
                packages.append(package)
    breakdown = Section(
        "startup-imports",
        "Cold start: import time by top-level package (ms, one run under python -X importtime)",
        ["package"] + names,
    )
    for package in packages:
        breakdown.add(package, *[result.breakdown_ms.get(n, {}).get(package) for n in names])
    breakdown.add("all imports", *[sum(result.breakdown_ms.get(n, {}).values()) or None for n in names])
    breakdown.data = {"breakdown_ms": result.breakdown_ms}
    return [wall, breakdown]
