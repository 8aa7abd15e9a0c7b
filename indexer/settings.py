"""All configuration in one place: defaults, then environment variables, then flags.

Both CLIs and the app build one ``Settings`` and pass it down; nothing deeper
reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .embedding import DEFAULT_BACKEND, DEFAULT_MODEL

__all__ = ["PROJECT_ROOT", "Settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Environment variable for each setting that may come from the environment.
_ENV = {
    "corpus_dir": "QUOTEBOT_CORPUS",
    "index_dir": "QUOTEBOT_INDEX",
    "model": "QUOTEBOT_MODEL",
    "device": "QUOTEBOT_DEVICE",
    "backend": "QUOTEBOT_BACKEND",
    "store": "QUOTEBOT_STORE",
    "uri": "QUOTEBOT_MILVUS_URI",
    "index_type": "QUOTEBOT_INDEX_TYPE",
    "k": "QUOTEBOT_K",
    "min_margin": "QUOTEBOT_MIN_MARGIN",
    "density_ratio": "QUOTEBOT_DENSITY_RATIO",
    "host": "QUOTEBOT_HOST",
    "port": "QUOTEBOT_PORT",
    "max_question_chars": "QUOTEBOT_MAX_QUESTION_CHARS",
    "max_upload_mb": "QUOTEBOT_MAX_UPLOAD_MB",
    "max_upload_files": "QUOTEBOT_MAX_UPLOAD_FILES",
    "read_only": "QUOTEBOT_READ_ONLY",
    "feedback_path": "QUOTEBOT_FEEDBACK",
}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    model: str = DEFAULT_MODEL
    device: str | None = None  # None: CUDA when present, else CPU
    backend: str = DEFAULT_BACKEND  # how the model runs: onnx-int8 (CPU, the fast default), onnx, or torch (needed for CUDA)
    store: str = "faiss"  # or "milvus"
    uri: str | None = None  # Milvus: a local file (Milvus Lite) or http://host:19530
    index_type: str = "auto"  # one of indexer.stores.INDEX_TYPES
    k: int = 3  # passages shown per answer
    passage_chars: int = 400  # a quote grows around the matched sentences up to this length
    min_margin: float = 0.1  # how far above the corpus noise ceiling a passage must score
    density_ratio: float = 0.64  # ... and at least this share of the corpus's neighbour similarity
    host: str = "127.0.0.1"
    port: int = 7860
    max_question_chars: int = 1000
    max_upload_mb: int = 20
    max_upload_files: int = 20  # files in one upload, on the page and at the upload route
    read_only: bool = False  # the page lists documents but offers no upload or removal
    feedback_path: Path = PROJECT_ROOT / "feedback" / "feedback.jsonl"

    @property
    def max_upload_bytes(self) -> int:
        """The largest document file accepted, by upload, ``add`` or ``build``."""
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        """Defaults, overridden by ``QUOTEBOT_*`` variables, overridden by non-None ``overrides``."""
        env = os.environ if env is None else env
        values = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in _ENV.items():
            if env.get(var):
                values[name] = _convert(types[name], env[var], var)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("corpus_dir", "index_dir", "feedback_path"):
            if name in values:
                values[name] = Path(values[name])
        return replace(cls(), **values)


_TRUE = frozenset(["1", "true", "yes", "on"])
_FALSE = frozenset(["0", "false", "no", "off"])


def _convert(type_name: str, raw: str, var: str):
    if type_name == "bool":
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError(f"{var}={raw!r} is not a yes/no value; use 1 or 0")
        return word in _TRUE
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError as err:
        raise ValueError(f"{var}={raw!r} is not a valid {type_name}") from err
    return raw
