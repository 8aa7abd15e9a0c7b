"""Where chunks and their vectors live: the ``VectorStore`` contract (``base``), one module per
backend (``faiss``, ``milvus``) and ``open_store`` (``factory``), which picks one from
configuration. Importing this package imports no backend."""

from .base import (
    FORMAT_VERSION,
    INDEX_TYPES,
    TIE_SLACK,
    DocumentRecord,
    Hit,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexProblem,
    Manifest,
    NewDocument,
    UnknownDocument,
    VectorStore,
    check_index_type,
    rank_hits,
)
from .factory import STORES, open_store

__all__ = [
    "FORMAT_VERSION",
    "INDEX_TYPES",
    "STORES",
    "TIE_SLACK",
    "DocumentRecord",
    "Hit",
    "IndexCorrupt",
    "IndexProblem",
    "IndexMismatch",
    "IndexMissing",
    "Manifest",
    "NewDocument",
    "UnknownDocument",
    "VectorStore",
    "check_index_type",
    "open_store",
    "rank_hits",
]
