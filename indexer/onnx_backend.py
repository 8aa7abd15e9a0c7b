"""Run the embedding model with ONNX Runtime on the CPU, optionally with int8 weights.

Why: on a CPU, one question through PyTorch costs several milliseconds of
framework overhead on top of the arithmetic; ONNX Runtime with int8 weights
does the same work about twice as fast (docs/performance.md has the numbers and
the quality check). The ONNX file is exported locally from the installed
PyTorch model the first time it is needed (nothing is downloaded) and kept in a
cache folder keyed by the model's files, so an upgrade of the model re-exports.

Needs the optional packages ``onnxruntime`` and ``onnx`` (``pip install -e .[onnx]``).
Only models made of a Transformer, mean pooling and (optionally) normalisation
are supported, which covers the MiniLM/MPNet sentence-transformers family.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["BACKENDS", "OnnxBackendError", "OnnxEncoder", "export_onnx", "quantize_int8", "onnx_cache_key"]

BACKENDS = ("torch", "onnx", "onnx-int8")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OPSET = 17


class OnnxBackendError(RuntimeError):
    """The ONNX backend cannot run here; the message says what to install or change."""


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise OnnxBackendError(
            "the onnx backends need ONNX Runtime: run pip install -e '.[onnx]' (or pip install onnxruntime onnx), "
            "or use --backend torch"
        ) from err
    return onnxruntime


def onnx_cache_key(model_dir: Path, quantized: bool) -> str:
    """A folder name that changes when the model's files, the exporter or the quantisation change."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt"}:
            stat = path.stat()
            digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    digest.update(f"opset{_OPSET}:v1".encode())
    return f"{Path(model_dir).name}-{digest.hexdigest()[:16]}" + ("-int8" if quantized else "")


def _check_architecture(model) -> None:
    """Refuse models whose pooling our exported graph would not reproduce."""
    names = [type(module).__name__ for module in model]
    if not names or names[0] != "Transformer" or any(n not in {"Transformer", "Pooling", "Normalize"} for n in names):
        raise OnnxBackendError(f"the onnx backends support Transformer + Pooling models only, this one is {names}; use --backend torch")
    pooling = [m for m in model if type(m).__name__ == "Pooling"]
    if pooling and getattr(pooling[0], "pooling_mode_mean_tokens", True) is not True:
        raise OnnxBackendError("the onnx backends support mean pooling only; use --backend torch")


def export_onnx(model_dir: Path, dest: Path) -> None:
    """Export the sentence-transformers model at ``model_dir`` (Transformer + mean pooling) to ``dest``.

    The graph includes pooling and normalisation, so it maps token ids straight
    to unit vectors. Written to a temporary file and renamed: never half a file.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    _check_architecture(model)
    bert = model[0].auto_model.eval()

    class _Pooled(torch.nn.Module):
        def __init__(self, encoder) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    sample = model.tokenizer(["an example", "a somewhat longer example sentence"], padding=True, return_tensors="pt")
    if "token_type_ids" not in sample:
        raise OnnxBackendError("the onnx backends need a tokenizer with token type ids (BERT-style); use --backend torch")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=dest.parent)
    os.close(fd)
    try:
        axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS} | {"sentence_embedding": {0: "batch"}}
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about constant shapes; the tests compare outputs
            torch.onnx.export(
                _Pooled(bert),
                tuple(sample[name] for name in _INPUTS),
                tmp,
                input_names=list(_INPUTS),
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=_OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared by the users of the checkout
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def quantize_int8(src: Path, dest: Path) -> None:
    """Dynamic int8 quantisation of the weights (per channel, symmetric), as sentence-transformers' ``avx512_vnni``."""
    _require_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(prefix=".quant-", suffix=".onnx", dir=dest.parent)
    os.close(fd)
    try:
        quantize_dynamic(
            str(src),
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=False,
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


class OnnxEncoder:
    """Tokeniser + ONNX Runtime session; ``encode`` returns unit float32 vectors like the PyTorch model."""

    def __init__(self, model_dir: Path, cache_dir: Path, *, quantized: bool, threads: int | None = None) -> None:
        ort = _require_onnxruntime()
        from transformers import AutoTokenizer

        model_dir = Path(model_dir)
        folder = Path(cache_dir) / onnx_cache_key(model_dir, quantized)
        fp32 = folder / "model.onnx"
        path = folder / ("model-int8.onnx" if quantized else "model.onnx")
        if not path.exists():
            if not fp32.exists():
                export_onnx(model_dir, fp32)
            if quantized:
                quantize_int8(fp32, path)
                fp32.unlink(missing_ok=True)  # only the file in use is kept
        self.path = path
        self.max_length = _max_seq_length(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Idle worker threads would otherwise spin for a while after every question, taking CPU from
        # the web server and from other requests; the cost is a fraction of a millisecond per call.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        width = self.session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else int(self.encode(["dimension"]).shape[1])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors in input order; batches are formed from texts of similar length to cut padding."""
        out = np.empty((len(texts), 0), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(order), batch_size):
            batch = [texts[i] for i in order[start : start + batch_size]]
            enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
            feeds = {name: np.asarray(enc[name], dtype=np.int64) for name in _INPUTS if name in self._inputs}
            parts.append(self.session.run(None, feeds)[0])
        if not parts:
            return out
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((Path(model_dir) / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256
