"""Deprecated: the store contract moved to ``indexer.stores`` (``base``, ``faiss``, ``milvus``,
``factory``). This module re-exports its names for one release, so that code importing
``indexer.store`` keeps working; import from ``indexer.stores`` (or ``indexer``) instead."""

from .stores.base import *  # noqa: F403
from .stores.base import HNSW_EF_SEARCH, IVF_NPROBE, text_key  # noqa: F401
from .stores.base import __all__ as _BASE_ALL
from .stores.factory import open_store

__all__ = [*_BASE_ALL, "open_store"]
