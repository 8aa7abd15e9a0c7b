"""Indexing throughput: the real build path against the model's bare ``encode`` of the same texts.

The build path is ``sync_documents`` into a fresh FAISS store: chunking,
embedding, calibration (40 probe questions), FAISS index and files written with
fsync. The reference is the model encoding exactly the chunk texts the build
embeds, nothing else. Each is run ``rounds`` times, alternating, and the best
round counts (the least disturbed by anything else running on the machine).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .profile import StageTimer
from .query import bare_encoder
from .report import Section

__all__ = ["IndexingResult", "replicate_corpus", "measure_indexing", "indexing_section"]


@dataclass(frozen=True)
class IndexingResult:
    documents: int
    chunks: int
    build_s: float
    bare_s: float
    stages_s: dict[str, float]
    device: str
    batch_size: int

    @property
    def build_rate(self) -> float:
        return self.chunks / self.build_s

    @property
    def bare_rate(self) -> float:
        return self.chunks / self.bare_s

    @property
    def ratio(self) -> float:
        return self.build_rate / self.bare_rate


def replicate_corpus(sources: Sequence[Path], folder: Path, copies: int) -> Path:
    """Write ``copies`` distinct variants of each source text file into ``folder`` (a bigger corpus to time)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        for src in sources:
            text = src.read_text(encoding="utf-8")
            (folder / f"copy{i:03d}-{src.name}").write_text(f"{text}\n\nCopy number {i}.\n", encoding="utf-8")
    return folder


def _bare_documents_encoder(embedder):
    """The model that embeds documents, run directly: under onnx-int8 that is the fp32 export
    (``Embedder.encode_documents``), not the int8 one that answers questions."""
    if getattr(embedder, "backend", None) == "onnx-int8" and hasattr(embedder, "encode_documents"):
        from indexer.onnx_backend import BATCH

        embedder.encode_documents(["warm up"])
        model = embedder._documents_model
        return lambda texts: model.encode(list(texts), batch_size=BATCH)
    return bare_encoder(embedder)


def measure_indexing(embedder, corpus_dir: Path, *, rounds: int = 2, log=print) -> IndexingResult:
    """Time ``sync_documents`` of a whole corpus into an empty store, and the bare encode of its chunks."""
    import indexer.build as build_module
    from indexer.build import load_corpus_documents, sync_documents
    from indexer.chunking import ChunkingSettings, chunk_text
    from indexer.stores.faiss import FaissStore

    documents, errors = load_corpus_documents(corpus_dir)
    if errors:
        raise ValueError(f"unreadable documents in {corpus_dir}: {errors}")
    settings = ChunkingSettings()
    texts = [c.embed_text for doc in documents for c in chunk_text(doc.text, doc.name, settings)]
    if hasattr(embedder, "warm_up"):
        embedder.warm_up()
    bare = _bare_documents_encoder(embedder)
    bare(texts[: min(64, len(texts))])  # warm-up
    best_build, best_bare, best_stages = float("inf"), float("inf"), {}
    tmp = Path(tempfile.mkdtemp(prefix="quotebot-indexing-"))
    try:
        for r in range(rounds):
            log(f"indexing: round {r + 1}/{rounds}, {len(documents)} documents, {len(texts)} chunks")
            started = time.perf_counter()
            bare(texts)
            best_bare = min(best_bare, time.perf_counter() - started)

            store = FaissStore(tmp / f"index-{r}")
            timer = StageTimer()
            timer.wrap(embedder, "encode", "model: encode (chunks + 40 calibration probes)")
            if hasattr(embedder, "encode_documents"):
                timer.wrap(embedder, "encode_documents", "model: encode_documents (chunks)")
            timer.wrap(build_module, "chunk_text", "chunking")
            timer.wrap(store, "apply", "store.apply: FAISS index + files + fsync")
            timer.wrap(build_module, "calibrate", "calibration (without its encode)")
            try:
                started = time.perf_counter()
                report = sync_documents(store, embedder, documents, settings=settings)
                elapsed = time.perf_counter() - started
            finally:
                timer.restore()
            if report.chunks_embedded != len(texts):
                raise RuntimeError(f"the build embedded {report.chunks_embedded} chunks, expected {len(texts)}")
            if elapsed < best_build:
                best_build = elapsed
                best_stages = dict(timer.exclusive)
                best_stages["other (loading records, manifest)"] = elapsed - sum(timer.exclusive.values())
            shutil.rmtree(tmp / f"index-{r}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return IndexingResult(
        documents=len(documents),
        chunks=len(texts),
        build_s=best_build,
        bare_s=best_bare,
        stages_s=best_stages,
        device=str(getattr(embedder, "device", None) or "cpu"),
        batch_size=int(getattr(embedder, "batch_size", 0) or 0),
    )


def indexing_section(result: IndexingResult, *, target_ratio: float = 0.9) -> tuple[Section, Section]:
    main = Section(
        "indexing",
        "Indexing throughput: sync_documents vs the model's bare encode",
        ["measure", "sync_documents", "bare encode", "ratio", "target", "met"],
    )
    main.add(
        f"chunks / s ({result.device})",
        result.build_rate,
        result.bare_rate,
        result.ratio,
        f">= {target_ratio}x",
        "yes" if result.ratio >= target_ratio else "NO",
    )
    main.add("seconds", result.build_s, result.bare_s, "-", "-", "-")
    main.notes.append(
        f"{result.documents} documents, {result.chunks} chunks, batch size {result.batch_size}; best of the rounds"
    )
    main.data = {
        "chunks": result.chunks,
        "documents": result.documents,
        "build_s": result.build_s,
        "bare_s": result.bare_s,
        "build_chunks_per_s": result.build_rate,
        "bare_chunks_per_s": result.bare_rate,
        "ratio": result.ratio,
        "stages_s": result.stages_s,
        "device": result.device,
    }
    stages = Section(
        "indexing-stages", "Where sync_documents spends its time (exclusive seconds)", ["stage", "seconds", "share"]
    )
    for label, seconds in sorted(result.stages_s.items(), key=lambda kv: -kv[1]):
        stages.add(label, seconds, f"{seconds / result.build_s:.1%}")
    return main, stages
