"""quotebot's indexer: documents in, a searchable index of exact quotes out.

The names a library user needs, importable from here (nothing heavy is imported until a name
is first used)::

    from indexer import Settings, Embedder, open_store, build_corpus
    settings = Settings.from_env(corpus_dir="my_docs", index_dir="my_index")
    store = open_store(settings.store, index_dir=settings.index_dir, uri=settings.uri)
    report = build_corpus(settings.corpus_dir, store, Embedder.from_settings(settings))

``docs/architecture.md`` shows how a document flows through the modules.
"""

from __future__ import annotations

from .lazy import lazy_exports

_EXPORTS = {
    # configuration
    "Settings": ".settings",
    # reading documents
    "Document": ".document",
    "DocumentError": ".document",
    "load_document": ".loaders",
    "LOADERS": ".loaders",
    # chunking
    "Chunk": ".chunking",
    "ChunkingSettings": ".chunking",
    "chunk_text": ".chunking",
    # embedding
    "Embedder": ".embedding",
    "TextEmbedder": ".embedding",
    "ModelNotFound": ".embedding",
    # stores
    "VectorStore": ".stores",
    "open_store": ".stores",
    "Manifest": ".stores",
    "DocumentRecord": ".stores",
    "Hit": ".stores",
    "IndexProblem": ".stores",
    "IndexMissing": ".stores",
    "IndexCorrupt": ".stores",
    "IndexMismatch": ".stores",
    # building and changing an index
    "BuildReport": ".build",
    "build_corpus": ".build",
    "sync_documents": ".build",
    "remove_documents": ".build",
    "add_files": ".manage",
    "index_added": ".manage",
    "remove_document": ".manage",
    "index_lock": ".manage",
    "IndexBusy": ".manage",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
