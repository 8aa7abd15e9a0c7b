"""Deprecated: the FAISS store moved to ``indexer.stores.faiss``. This module re-exports its
public names for one release (``bench/quality.py`` still imports it from here)."""

from .stores.faiss import *  # noqa: F403
from .stores.faiss import __all__  # noqa: F401
