"""Query embedding on the CPU: PyTorch against ONNX Runtime and OpenVINO, speed and answer quality.

Each backend runs in its own process (``python -m bench.backends SPEC ...``),
one after the other and in alternating order over repeats, so that one
runtime's worker threads never compete with another's and a busy spell on the
machine does not fall on one backend only. Every process times the same
questions one at a time (the way the bot asks) and encodes the same chunks,
then answers both evaluation sets against indexes built with the PyTorch model.

Backend specs:

- ``torch``, ``onnx``, ``onnx-int8``: the project's ``Embedder(backend=...)``;
- ``st:torch``, ``st:onnx``, ``st:onnx-int8``, ``st:openvino``, ``st:openvino-int8``:
  sentence-transformers' own backends (``SentenceTransformer(path, backend=...)``,
  ``export_dynamic_quantized_onnx_model``, ``export_static_quantized_openvino_model``),
  exported locally from the bundled model. These need optimum, which conflicts
  with the project's pins, so they are meant for a throwaway virtual environment
  (docs/performance.md has the recipe).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .report import Section

__all__ = ["BackendResult", "measure_backends", "backends_section", "EVAL_SETS"]

ROOT = Path(__file__).resolve().parent.parent
# (label, questions, corpus folder)
EVAL_SETS = (
    ("muscle", ROOT / "eval" / "muscle_spasms.jsonl", ROOT / "corpus"),
    ("constitution", ROOT / "eval" / "us_constitution.jsonl", ROOT / "eval" / "constitution"),
)
ST_CACHE = ROOT / ".cache" / "st-backends"


@dataclass
class BackendResult:
    spec: str
    load_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    chunks_per_s: list[float] = field(default_factory=list)
    quality: dict = field(default_factory=dict)
    error: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 95)) if self.latencies_ms else float("nan")


# ---- the embedders under test --------------------------------------------------------------


class _STEmbedder:
    """A sentence-transformers model with one of its own backends, behind our ``TextEmbedder`` shape."""

    def __init__(self, kind: str) -> None:
        from sentence_transformers import SentenceTransformer

        from indexer.embedding import DEFAULT_MODEL, resolve_model

        self.name = DEFAULT_MODEL
        src = Path(resolve_model(DEFAULT_MODEL))
        work = ST_CACHE / kind.split("-")[0] / src.name
        if not work.exists():  # a private copy: exports are written next to the model
            shutil.copytree(src, work)
        if kind == "torch":
            self.model = SentenceTransformer(str(work), device="cpu")
        elif kind in ("onnx", "onnx-int8"):
            self.model = self._onnx(SentenceTransformer, work, kind == "onnx-int8")
        elif kind in ("openvino", "openvino-int8"):
            self.model = self._openvino(SentenceTransformer, work, kind == "openvino-int8")
        else:
            raise ValueError(f"unknown sentence-transformers backend {kind!r}")

    @staticmethod
    def _onnx(cls, work: Path, quantized: bool):
        if not (work / "onnx" / "model.onnx").exists():
            cls(str(work), backend="onnx").save_pretrained(str(work))
        if not quantized:
            return cls(str(work), backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"})
        found = sorted((work / "onnx").glob("model_*int8_avx512_vnni.onnx"))
        if not found:
            from sentence_transformers import export_dynamic_quantized_onnx_model

            base = cls(str(work), backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"})
            export_dynamic_quantized_onnx_model(base, "avx512_vnni", str(work))
            found = sorted((work / "onnx").glob("model_*int8_avx512_vnni.onnx"))
        return cls(str(work), backend="onnx", model_kwargs={"file_name": f"onnx/{found[0].name}"})

    @staticmethod
    def _openvino(cls, work: Path, quantized: bool):
        if not (work / "openvino" / "openvino_model.xml").exists():
            cls(str(work), backend="openvino").save_pretrained(str(work))
        if not quantized:
            return cls(str(work), backend="openvino")
        name = "openvino/openvino_model_qint8_quantized.xml"
        if not (work / name).exists():
            _static_quantize_openvino(cls(str(work), backend="openvino"), work)
        return cls(str(work), backend="openvino", model_kwargs={"file_name": name})

    @property
    def dimension(self) -> int:
        return 384

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        return np.ascontiguousarray(out, dtype=np.float32)


def _static_quantize_openvino(model, work: Path) -> None:
    """Static int8 quantisation as ``export_static_quantized_openvino_model`` does, calibrated on local text.

    sentence-transformers' helper downloads GLUE/SST-2 for calibration; nothing may be
    downloaded here, so the same ``OVQuantizer`` is fed the bundled corpus's chunks
    and the calibration probe questions instead.
    """
    from datasets import Dataset
    from optimum.intel import OVConfig, OVQuantizationConfig, OVQuantizer

    from indexer.build import load_corpus_documents
    from indexer.calibration import PROBE_QUESTIONS
    from indexer.chunking import chunk_text

    documents, _ = load_corpus_documents(ROOT / "corpus")
    texts = [c.embed_text for d in documents for c in chunk_text(d.text, d.name)] + list(PROBE_QUESTIONS)
    texts = texts[:300]
    tokens = model.tokenizer(texts, padding="max_length", max_length=384, truncation=True)
    dataset = Dataset.from_dict(dict(tokens))
    config = OVConfig(quantization_config=OVQuantizationConfig(num_samples=len(texts)))
    quantizer = OVQuantizer.from_pretrained(model.transformers_model)
    out = work / "ov-int8-tmp"
    quantizer.quantize(calibration_dataset=dataset, save_directory=str(out), ov_config=config)
    xml = next(out.rglob("openvino_model.xml"))  # optimum-intel writes it in a subfolder in some versions
    for suffix in (".xml", ".bin"):
        shutil.move(str(xml.with_suffix(suffix)), str(work / "openvino" / f"openvino_model_qint8_quantized{suffix}"))
    shutil.rmtree(out, ignore_errors=True)


def make_embedder(spec: str, threads: int | None = None):
    if spec.startswith("st:"):
        if threads:
            import torch

            torch.set_num_threads(threads)
        return _STEmbedder(spec[3:])
    from indexer.embedding import Embedder

    return Embedder(backend=spec, device="cpu", threads=threads)


# ---- one backend, in this process ----------------------------------------------------------


def _questions() -> list[str]:
    return [
        json.loads(line)["q"]
        for _, path, _ in EVAL_SETS
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _chunk_texts() -> list[str]:
    from indexer.build import load_corpus_documents
    from indexer.chunking import chunk_text

    texts = []
    for _, _, corpus in EVAL_SETS:
        documents, _ = load_corpus_documents(corpus)
        texts += [c.embed_text for d in documents for c in chunk_text(d.text, d.name)]
    return texts


def run_one(
    spec: str,
    indexes: dict[str, Path],
    *,
    rounds: int,
    quality: bool,
    limit: int | None = None,
    threads: int | None = None,
) -> dict:
    """Load one backend, time it, score it; a plain dict for the parent process."""
    from bot.bot import Bot
    from bot.evaluation import evaluate, load_eval_set
    from indexer.settings import Settings

    started = time.perf_counter()
    embedder = make_embedder(spec, threads)
    embedder.encode(["load the model"])
    load_s = time.perf_counter() - started
    questions = _questions()[:limit]
    chunks = _chunk_texts()[: (limit or 0) * 4 or None]
    for q in questions[:10]:
        embedder.encode([q])
    latencies = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            embedder.encode([q])
            latencies.append((time.perf_counter() - t0) * 1000.0)
    t0 = time.perf_counter()
    embedder.encode(chunks)
    rate = len(chunks) / (time.perf_counter() - t0)
    scores = {}
    if quality:
        for label, path, corpus in EVAL_SETS:
            bot = Bot.load(Settings.from_env(index_dir=indexes[label], corpus_dir=corpus), embedder=embedder)
            items = load_eval_set(path)[:limit]
            report, _ = evaluate(bot.ask, items)
            scores[label] = {
                "hit_at_1": report.hit_at_1,
                "hit_at_3": report.hit_at_3,
                "mrr": report.mrr,
                "correctly_abstained": report.correctly_abstained,
                "wrongly_abstained": report.wrongly_abstained,
            }
    return {"spec": spec, "load_s": load_s, "latencies_ms": latencies, "chunks_per_s": rate, "quality": scores}


# ---- all backends, each in a child process ------------------------------------------------


def build_eval_indexes(folder: Path, log=print) -> dict[str, Path]:
    """Index both evaluation corpora with the PyTorch model (what the backends are scored against)."""
    from indexer.build import build_corpus
    from indexer.embedding import Embedder
    from indexer.stores.faiss import FaissStore

    embedder = Embedder(device="cpu")
    out = {}
    for label, _, corpus in EVAL_SETS:
        log(f"backends: indexing {corpus.name} with the torch model")
        out[label] = folder / label
        build_corpus(corpus, FaissStore(out[label]), embedder)
    return out


def measure_backends(
    specs: Sequence[str],
    *,
    repeats: int = 2,
    rounds: int = 2,
    python: str | None = None,
    limit: int | None = None,
    threads: int | None = None,
    log=print,
) -> list[BackendResult]:
    """Run every backend ``repeats`` times in fresh processes, alternating the order; merge the samples."""
    results = {spec: BackendResult(spec) for spec in specs}
    with tempfile.TemporaryDirectory(prefix="quotebot-backends-") as tmp:
        indexes = build_eval_indexes(Path(tmp), log)
        for repeat in range(repeats):
            order = list(specs) if repeat % 2 == 0 else list(reversed(specs))
            for spec in order:
                log(f"backends: {spec} (repeat {repeat + 1}/{repeats})")
                cmd = [python or sys.executable, "-m", "bench.backends", spec, "--rounds", str(rounds)]
                cmd += [f"--index-{label}={path}" for label, path in indexes.items()]
                if repeat > 0:
                    cmd.append("--no-quality")  # answers do not change between repeats
                if limit:
                    cmd += ["--limit", str(limit)]
                if threads:
                    cmd += ["--threads", str(threads)]
                env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
                proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=3600)
                result = results[spec]
                if proc.returncode != 0:
                    result.error = (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]
                    log(f"backends: {spec} failed: {result.error}")
                    continue
                data = json.loads(proc.stdout.strip().splitlines()[-1])
                result.load_s = data["load_s"] if repeat == 0 else min(result.load_s, data["load_s"])
                result.latencies_ms += data["latencies_ms"]
                result.chunks_per_s.append(data["chunks_per_s"])
                result.quality = result.quality or data["quality"]
    return [results[s] for s in specs]


def backends_section(results: Sequence[BackendResult], *, baseline: str = "torch") -> Section:
    section = Section(
        "backends",
        "Query embedding on the CPU: backends side by side",
        [
            "backend",
            "question median (ms)",
            "p95 (ms)",
            "speed-up",
            "chunks / s",
            "hit@3 muscle",
            "hit@3 constitution",
            "hit@1 muscle / const",
            "abstained ok muscle / const",
        ],
    )
    base = next((r for r in results if r.spec == baseline and not r.error), None)
    for r in results:
        if r.error:
            section.add(r.spec, "-", "-", "-", "-", "-", "-", "-", f"failed: {r.error}")
            continue
        q = r.quality
        speedup = base.median_ms / r.median_ms if base else None

        def pair(key: str, q: dict | None = q) -> str:
            if not q:
                return "-"
            return f"{q['muscle'][key]:.3f} / {q['constitution'][key]:.3f}"

        section.add(
            r.spec,
            r.median_ms,
            r.p95_ms,
            f"{speedup:.2f}x" if speedup else "-",
            max(r.chunks_per_s) if r.chunks_per_s else None,
            q["muscle"]["hit_at_3"] if q else None,
            q["constitution"]["hit_at_3"] if q else None,
            pair("hit_at_1"),
            pair("correctly_abstained"),
        )
    section.notes.append(
        "each backend in its own process, repeats in alternating order; quality: the bot answering both eval "
        "sets against indexes built with the torch model (query embedding by the backend)"
    )
    section.data = {
        r.spec: {
            "load_s": r.load_s,
            "median_ms": r.median_ms,
            "p95_ms": r.p95_ms,
            "chunks_per_s": r.chunks_per_s,
            "quality": r.quality,
            "error": r.error,
        }
        for r in results
    }
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backends", description="time one embedding backend (a child of python -m bench)"
    )
    parser.add_argument("spec")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--threads", type=int)
    for label, _, _ in EVAL_SETS:
        parser.add_argument(f"--index-{label}", type=Path, required=True)
    args = parser.parse_args(argv)
    indexes = {label: getattr(args, f"index_{label}") for label, _, _ in EVAL_SETS}
    data = run_one(
        args.spec, indexes, rounds=args.rounds, quality=not args.no_quality, limit=args.limit, threads=args.threads
    )
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
