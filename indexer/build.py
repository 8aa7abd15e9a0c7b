"""Bring a store up to date with a set of documents, embedding only what changed.

A document is re-embedded when its bytes change (sha256); everything is rebuilt
when the model or the chunking settings change. Calibration for abstention is
recomputed on every change and stored with the index.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .calibration import calibrate
from .chunking import ChunkingSettings, chunk_text
from .embedding import TextEmbedder
from .limits import DocumentLimits, load_within_limits
from .loaders import Document, DocumentError, iter_corpus_files, load_corpus_info
from .settings import PROJECT_ROOT
from .stores import DocumentRecord, Manifest, NewDocument, VectorStore

__all__ = ["BuildReport", "load_corpus_documents", "sync_documents", "build_corpus", "remove_documents"]


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    chunks_embedded: int = 0
    rebuilt_all: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
            f"{self.chunks_embedded} chunks embedded",
        ]
        if self.errors:
            parts.append(f"{len(self.errors)} failed")
        return ", ".join(parts)


def source_path(corpus_dir: Path, name: str) -> str:
    """Where a document is shown to come from: relative to the project root when the corpus lies
    inside it (``corpus/file.txt``), else the corpus folder's own name and the file
    (``my_docs/file.txt``), so that no server path is sent to a browser and the answer does not
    depend on the folder the command was started from."""
    path = (Path(corpus_dir) / name).resolve()
    try:
        return path.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return f"{Path(corpus_dir).resolve().name}/{name}"


def load_corpus_documents(
    corpus_dir: Path,
    *,
    max_bytes: int | None = None,
    limits: DocumentLimits | None = None,
    chunking: ChunkingSettings | None = None,
) -> tuple[list[Document], dict[str, str]]:
    """Every readable document of a corpus folder, and an error message per unreadable one.

    Files over ``max_bytes`` are refused (with a message) before they are read; each file is read in
    a child process, within ``limits`` (``indexer.limits``).
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"the corpus folder {corpus_dir} does not exist; create it or pass --corpus DIR")
    info = load_corpus_info(corpus_dir)
    documents, errors = [], {}
    root = corpus_dir.resolve()
    for path in iter_corpus_files(corpus_dir):
        name = path.relative_to(corpus_dir).as_posix()
        try:
            refuse_outside_link(path, root, name)
            documents.append(
                load_within_limits(
                    path,
                    name,
                    title=info.document_titles.get(name),
                    source=source_path(corpus_dir, name),
                    max_bytes=max_bytes,
                    limits=limits,
                    chunking=chunking,
                )
            )
        except DocumentError as err:
            errors[name] = str(err)
    return documents, errors


def refuse_outside_link(path: Path, root: Path, name: str) -> None:
    """Refuse a corpus file that is a link to somewhere outside the corpus folder (``passwd.txt ->
    /etc/passwd``): the index would quote a file nobody put into the collection."""
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        raise DocumentError(
            f"{name}: a link to a file outside the corpus folder {root.name}/; links out of it are not "
            "indexed. Copy the file into the folder instead (or python -m indexer add FILE)"
        )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def sync_documents(
    store: VectorStore,
    embedder: TextEmbedder,
    documents: Sequence[Document],
    *,
    settings: ChunkingSettings | None = None,
    remove_missing: bool = True,
    remove: Sequence[str] = (),
    show_progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Make the store hold exactly ``documents`` (plus, unless ``remove_missing``, what it had).

    Only new or changed documents are chunked and embedded. Nothing is written
    when nothing changed.
    """
    settings = settings or ChunkingSettings()
    report = BuildReport()
    old = store.read_manifest()
    rebuild_all = old is not None and (old.model != embedder.name or old.chunking != settings.to_dict())
    report.rebuilt_all = rebuild_all
    old_docs = {} if old is None else dict(old.documents)
    wanted = {doc.name: doc for doc in documents}

    to_embed: list[Document] = []
    retitled: dict[str, DocumentRecord] = {}
    for doc in documents:
        previous = old_docs.get(doc.name)
        if previous is None:
            report.added.append(doc.name)
            to_embed.append(doc)
        elif rebuild_all or previous.sha256 != doc.sha256:
            report.updated.append(doc.name)
            to_embed.append(doc)
        elif previous.title != doc.title:  # the title is not embedded: only the record changes
            report.updated.append(doc.name)
            retitled[doc.name] = replace(previous, title=doc.title)
        else:
            report.unchanged.append(doc.name)
    gone = [name for name in old_docs if name not in wanted and (remove_missing or name in remove)]
    report.removed.extend(gone)
    if not report.changed:
        return report
    if rebuild_all:  # documents kept but not passed in are re-embedded from the text the store keeps
        kept = [name for name in old_docs if name not in wanted and name not in gone]
        to_embed.extend(_stored_document(store, old_docs[name]) for name in kept)

    chunked = [(doc, chunk_text(doc.text, doc.name, settings)) for doc in to_embed]
    texts = [c.embed_text for _, chunks in chunked for c in chunks]
    if texts:
        vectors = _encode_with_progress(embedder, texts, show_progress, on_progress)
    else:  # only titles changed, or documents were removed: no model needed
        vectors = np.zeros((0, old.dimension if old else embedder.dimension), dtype=np.float32)
    report.chunks_embedded = len(texts)

    now = _now()
    new_docs, offset = [], 0
    records = {name: rec for name, rec in old_docs.items() if name not in gone}
    records.update(retitled)
    for doc, chunks in chunked:
        record = DocumentRecord(
            name=doc.name,
            sha256=doc.sha256,
            title=doc.title,
            format=doc.format,
            source=doc.source,
            n_chunks=len(chunks),
            indexed_at=now,
            pages=doc.pages,
        )
        records[doc.name] = record
        new_docs.append(NewDocument(record, doc.text, chunks, vectors[offset : offset + len(chunks)]))
        offset += len(chunks)
    dimension = vectors.shape[1] if len(vectors) else (old.dimension if old else embedder.dimension)
    remove_names = set(gone) | (set(old_docs) if rebuild_all else set())
    if old is not None and not new_docs and not remove_names:
        calibration = old.calibration  # only titles changed: the vectors, and so their statistics, did not
    else:
        sample, single_sentence = _all_vectors_after(store, remove_names, new_docs, dimension)
        calibration = calibrate(embedder, sample, sentence_vectors=sample[single_sentence]).to_dict()
    manifest = Manifest(
        model=embedder.name,
        dimension=dimension,
        chunking=settings.to_dict(),
        documents=records,
        calibration=calibration,
    )
    store.apply(remove=sorted(remove_names), add=new_docs, manifest=manifest)
    return report


def _stored_document(store: VectorStore, record: DocumentRecord) -> Document:
    """A document rebuilt from the index alone, for when its source file is not at hand."""
    return Document(
        name=record.name,
        text=store.document_text(record.name),
        sha256=record.sha256,
        title=record.title,
        format=record.format,
        source=record.source,
        pages=record.pages,
    )


def _encode_with_progress(
    embedder: TextEmbedder, texts: list[str], show_progress: bool, on_progress: Callable[[int, int], None] | None
) -> np.ndarray:
    encode = getattr(embedder, "encode_documents", embedder.encode)  # Embedder: fp32 documents under onnx-int8
    if on_progress is None:
        return encode(texts, show_progress=show_progress)
    parts, step = [], 32  # the model is held one batch at a time: a question waits for one batch at most
    on_progress(0, len(texts))
    for start in range(0, len(texts), step):
        parts.append(encode(texts[start : start + step]))
        on_progress(min(start + step, len(texts)), len(texts))
    return np.concatenate(parts) if parts else encode([])


def _all_vectors_after(
    store: VectorStore, removed: set[str], new_docs: list[NewDocument], dimension: int, limit: int = 20_000
) -> tuple[np.ndarray, np.ndarray]:
    """A sample of the vectors the store will hold after the change, for calibration,
    with a mask of those that embed a single sentence."""
    replaced = removed | {doc.record.name for doc in new_docs}
    kept = [c for c in store.all_chunks() if c.doc not in replaced][:limit]
    parts = [store.get_vectors([c.id for c in kept])] if kept else []
    single = [len(c.sentences) == 1 for c in kept]
    for doc in new_docs:
        parts.append(doc.vectors)
        single.extend(len(c.sentences) == 1 for c in doc.chunks)
    if not parts:
        return np.zeros((0, dimension), dtype=np.float32), np.zeros(0, dtype=bool)
    return np.concatenate(parts), np.asarray(single, dtype=bool)


def build_corpus(
    corpus_dir: Path,
    store: VectorStore,
    embedder: TextEmbedder,
    *,
    settings: ChunkingSettings | None = None,
    show_progress: bool = False,
    max_bytes: int | None = None,
    limits: DocumentLimits | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Index a corpus folder: the store ends up holding exactly the folder's readable documents.

    An unreadable file (or one over ``max_bytes`` or ``limits``) is reported in ``errors`` and
    left out; the others are still indexed.
    """
    documents, errors = load_corpus_documents(Path(corpus_dir), max_bytes=max_bytes, limits=limits, chunking=settings)
    report = sync_documents(
        store, embedder, documents, settings=settings, show_progress=show_progress, on_progress=on_progress
    )
    report.errors.update(errors)
    return report


def remove_documents(store: VectorStore, names: Sequence[str]) -> list[str]:
    """Drop documents from the index without touching the others; returns the names removed."""
    manifest = store.read_manifest()
    if manifest is None:
        return []
    present = [n for n in names if n in manifest.documents]
    if not present:
        return []
    records = {n: r for n, r in manifest.documents.items() if n not in present}
    store.apply(remove=present, add=[], manifest=replace(manifest, documents=records))
    return present
