"""Run the embedding model with ONNX Runtime on the CPU: the default way questions and chunks are embedded.

Why: on a CPU, one question through PyTorch costs several milliseconds of
framework overhead on top of the arithmetic; ONNX Runtime with int8 weights
(one scale per block of 32 weights and of 32 activations, ``onnx_export.quantize_int8``)
does the same work several times faster, with vectors within 0.001 cosine of
the fp32 ones (docs/performance.md has the numbers and the quality check).

What runs here is ONNX Runtime and the ``tokenizers`` package reading the
model's own ``tokenizer.json``: no PyTorch, no transformers, no
sentence-transformers, so a process that only answers questions starts in a
fraction of the time. The ONNX file is exported from the installed PyTorch
model the first time a machine needs it (``onnx_export.py``, the one step that
imports torch; nothing is downloaded) and kept in a cache folder keyed by the
model's files, so an upgrade of the model re-exports.

Threads: every ``session.run`` uses one thread. A question is one small batch,
for which a second thread saves a fraction of a millisecond on a quiet machine
but costs tens of milliseconds when another process holds a core (the threads
wait for each other at every operator). Bulk encoding instead runs several
length-sorted batches at once, one per core, which needs no synchronisation
between them and degrades gracefully under load.

Only models made of a Transformer, mean pooling and (optionally) normalisation
are supported, which covers the MiniLM/MPNet sentence-transformers family.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "INT8_VERSION",
    "ONNX_INPUTS",
    "OnnxBackendError",
    "OnnxEncoder",
    "exported_model",
    "load_tokenizer",
    "onnx_cache_key",
]

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx-int8"
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_VERSION = "opset17:v1"  # change when the exported graph changes, so caches re-export
INT8_VERSION = "matmulnbits8-block32"  # change when the quantisation changes, so the int8 file is made again
BATCH = 16  # texts per session.run in bulk: small batches keep every core busy to the end


class OnnxBackendError(RuntimeError):
    """The ONNX backend cannot run here; the message says what to install or change."""


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise OnnxBackendError(
            "the onnx backends need ONNX Runtime, a dependency of quotebot: reinstall with pip install -e . "
            "(or pip install onnxruntime onnx), or use --backend torch"
        ) from err
    return onnxruntime


def onnx_cache_key(model_dir: Path, quantized: bool) -> str:
    """A folder name that changes when the model's files, the exporter or the quantisation change."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt"}:
            stat = path.stat()
            digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    digest.update(EXPORT_VERSION.encode())
    if quantized:
        digest.update(INT8_VERSION.encode())  # the fp32 folder keeps its name: no second export
    return f"{Path(model_dir).name}-{digest.hexdigest()[:16]}" + ("-int8" if quantized else "")


def exported_model(model_dir: Path, cache_dir: Path, *, quantized: bool) -> Path:
    """The cached ONNX file for the model at ``model_dir``, exported (and quantised) first if missing.

    The int8 file is quantised from the fp32 one, which is kept beside it. Each is made
    in a private temporary folder inside the cache and the finished file is moved into
    place with one rename, so a reader never sees half
    a file and two processes exporting at once both succeed (the last rename wins,
    with identical content).
    """
    folder = Path(cache_dir) / onnx_cache_key(model_dir, quantized)
    path = folder / ("model-int8.onnx" if quantized else "model.onnx")
    if path.exists():
        return path
    # int8 is made from the cached fp32 export, which is kept: onnx-int8 embeds documents with it
    fp32_cached = exported_model(model_dir, cache_dir, quantized=False) if quantized else None
    from .onnx_export import export_onnx, quantize_int8  # torch: only for this one-off step

    try:
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    except OSError as err:
        raise OnnxBackendError(
            f"cannot write the ONNX export cache {folder} ({err}); make it writable or use --backend torch"
        ) from err
    try:
        if fp32_cached is not None:
            done = work / path.name
            quantize_int8(fp32_cached, done)
        else:
            done = work / path.name
            export_onnx(Path(model_dir), done)
        os.chmod(done, 0o644)  # mkdtemp's folder is private; the cache is shared by the users of the checkout
        os.replace(done, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def load_tokenizer(model_dir: Path, max_length: int):
    """The model's fast tokenizer from its ``tokenizer.json``, truncating at ``max_length``, padding to the longest text.

    This is what sentence-transformers' tokenizer call does (``padding=True,
    truncation=True, max_length=max_seq_length``); the file's own fixed padding
    and truncation lengths are replaced.
    """
    from tokenizers import Tokenizer

    file = Path(model_dir) / "tokenizer.json"
    if not file.is_file():
        raise OnnxBackendError(
            f"the onnx backends need the model's tokenizer.json, not found in {model_dir}; use --backend torch"
        )
    tokenizer = Tokenizer.from_file(str(file))
    padding = tokenizer.padding or {}
    pad_token = padding.get("pad_token") or "[PAD]"
    pad_id = padding.get("pad_id", tokenizer.token_to_id(pad_token) or 0)
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=padding.get("pad_type_id", 0))
    return tokenizer


class OnnxEncoder:
    """Tokeniser + ONNX Runtime session; ``encode`` returns unit float32 vectors like the PyTorch model.

    Thread-safe without a lock: ONNX Runtime sessions may be run from several
    threads at once, and the tokenizer is only read after it is set up.
    ``workers`` is how many batches bulk encoding runs at once (default: every core);
    ``threads_per_call`` is ONNX Runtime's intra-op threads per batch (1; ``None``:
    its own default, every core, which the benchmark compares under load).
    """

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        *,
        quantized: bool,
        workers: int | None = None,
        threads_per_call: int | None = 1,
        path: Path | None = None,
    ) -> None:
        ort = _require_onnxruntime()
        model_dir = Path(model_dir)
        # ``path``: another ONNX file of the same model (the benchmark's quantisation variants)
        self.path = Path(path) if path else exported_model(model_dir, cache_dir, quantized=quantized)
        self.max_length = _max_seq_length(model_dir)
        self.tokenizer = load_tokenizer(model_dir, self.max_length)
        self.workers = max(1, workers or os.cpu_count() or 1)
        options = ort.SessionOptions()
        if threads_per_call:
            options.intra_op_num_threads = threads_per_call  # 1: see the module's docstring, steady under load
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for a damaged file
            raise OnnxBackendError(
                f"cannot load the ONNX model {self.path} ({err}); delete that file to export it again"
            ) from err
        self._inputs = [i.name for i in self.session.get_inputs() if i.name in ONNX_INPUTS]
        width = self.session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else int(self.encode(["dimension"]).shape[1])

    def _run(self, batch: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch_fast(list(batch))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        columns = {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.zeros_like(ids) if "token_type_ids" in self._inputs else None,
        }
        return self.session.run(None, {name: columns[name] for name in self._inputs})[0]

    def encode(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        """Vectors in input order; batches are formed from texts of similar length to cut padding."""
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32)
        if len(texts) <= batch_size:
            return np.ascontiguousarray(self._run(texts), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [[texts[i] for i in order[start : start + batch_size]] for start in range(0, len(order), batch_size)]
        if self.workers == 1:
            parts = [self._run(b) for b in batches]
        else:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="onnx") as pool:
                parts = list(pool.map(self._run, batches))
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((Path(model_dir) / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256
