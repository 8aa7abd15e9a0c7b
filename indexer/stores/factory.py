"""Pick a store from configuration. Kept apart from the contract (``base``) so that the
contract imports no backend, and each backend is imported only when it is chosen."""

from __future__ import annotations

from pathlib import Path

from .base import VectorStore

__all__ = ["STORES", "open_store"]

STORES = ("faiss", "milvus")


def open_store(
    kind: str = "faiss",
    *,
    index_dir: Path | None = None,
    uri: str | None = None,
    index_type: str = "auto",
    search_device: str | None = None,
) -> VectorStore:
    """The store named by configuration; backends are imported only when chosen.

    ``search_device="cuda"`` makes the FAISS store search exactly on the GPU (see
    ``indexer.torch_search``); Milvus searches on its own servers and ignores it.
    """
    if kind == "faiss":
        from .faiss import FaissStore

        if index_dir is None:
            raise ValueError("the FAISS store needs an index folder (--index DIR)")
        return FaissStore(Path(index_dir), index_type=index_type, search_device=search_device)
    if kind == "milvus":
        from .milvus import MilvusStore

        if not uri:
            raise ValueError(
                "the Milvus store needs --uri (a local file such as index/milvus.db, or http://host:19530)"
            )
        return MilvusStore(uri, index_type=index_type)
    raise ValueError(f"unknown store {kind!r}: use 'faiss' or 'milvus'")
