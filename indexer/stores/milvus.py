"""A Milvus collection as the vector store, for corpora and traffic that outgrow one machine.

The same code talks to Milvus Lite (``uri`` is a local ``*.db`` path: an embedded
engine in this process, no server) and to a Milvus server or cluster (``uri`` is
``http://host:19530``, optionally ``http://host:19530/dbname``; a token, if the
server needs one, comes from ``$QUOTEBOT_MILVUS_TOKEN``, never from a flag).

Everything the bot needs lives in Milvus, so an app replica holds only the model:

``<name>_chunks_<dim>``
    one row per chunk: ``pk`` (``chunk id#gen``), ``chunk_id`` (``Chunk.id``,
    stable: document + offsets), ``doc``, ``gen``, ``start``, ``end``, ``text``,
    ``heading``, ``block``, ``sentences`` (JSON) and ``vector`` (FLOAT_VECTOR,
    metric IP on unit vectors; FLAT below ``EXACT_BELOW`` rows, HNSW above).
``<name>_meta``
    small rows of text: ``head`` (the commit pointer), ``manifest/<gen>/<i>``
    (the manifest plus which generation of each document is live, split into
    parts below Milvus' 64 KiB VARCHAR limit) and ``text/<key>/<i>`` (each
    document's full text, content-addressed, for ``document_text``).

Milvus has no multi-row transactions, so ``apply`` is a shadow write with a
single-row commit point:

1. rows left over by an interrupted earlier ``apply`` (``gen`` above the live
   one) are deleted;
2. new documents' texts and chunk rows are written under a new generation
   ``g``; readers ignore them, because the live manifest says which generation
   of each document is current;
3. the manifest for ``g`` is written in parts, then the one ``head`` row is
   upserted to point at it: this is the commit;
4. the replaced and removed documents' old rows, stale manifest parts and texts
   no document needs are deleted.

A crash before step 3 leaves the previous index whole (readers never see the
new rows); a crash after it leaves the new index whole plus garbage that the
next ``apply`` removes. Readers that cached an older manifest notice rows of a
generation they do not know, re-read the head and carry on. What this does not
give: isolation between two writers (run one indexer at a time), and searches
during an index-type change (FLAT -> HNSW when a collection crosses
``EXACT_BELOW`` rows) fail until the new index is loaded, because Milvus must
release a collection to replace its index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import numpy as np

from ..chunking import Chunk
from .base import (
    FORMAT_VERSION,
    HNSW_EF_SEARCH,
    IVF_NPROBE,
    TIE_SLACK,
    Hit,
    IndexCorrupt,
    IndexMissing,
    IndexProblem,
    Manifest,
    NewDocument,
    UnknownDocument,
    VectorStore,
    check_index_type,
    rank_hits,
    text_key,
)
from .milvus_noise import quiet_milvus_client

__all__ = ["MilvusStore", "MilvusStoreError", "TOKEN_ENV", "is_local_uri"]

TOKEN_ENV = "QUOTEBOT_MILVUS_TOKEN"
INSTALL_HINT = 'install the Milvus extra: pip install -e ".[milvus]"'
VARCHAR_MAX = 65_535  # Milvus' VARCHAR limit, in bytes
PART_BYTES = 60_000  # long values (manifest, document text) are split into parts of at most this
INSERT_BATCH = 1_000  # rows per insert call: ~2-8 MB of request, far below gRPC limits
IDS_BATCH = 1_000  # primary keys per get/delete call
SEARCH_LIMIT_MAX = 16_384  # Milvus' largest top-k
# Searches read with Session consistency: this process's own writes are visible at once, other
# processes' within a time tick (200 ms). Strong, the collections' default (kept for the head,
# manifest and texts), makes a server wait for its next time tick on every search: 200 ms at the
# median against 1.5 ms (docs/scale-out.md). A stale search is safe here: rows are filtered by the
# generation the manifest names, so it can only miss a just-committed document for a moment.
SEARCH_CONSISTENCY = "Session"
DOC_NAME_MAX = 1_000  # bytes; a chunk's primary key is the name plus offsets and generation
_COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,180}$")
_CHUNK_FIELDS = ["chunk_id", "doc", "gen", "start", "end", "text", "heading", "block", "sentences"]


# Exact search below this many rows, HNSW above: Milvus's own trade-off, measured in docs/scale-out.md
# (FAISS switches earlier, to IVF-SQ8, see stores.faiss.EXACT_BELOW).
EXACT_BELOW = 100_000


def choose_milvus_index_type(n: int, requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    return "flat" if n < EXACT_BELOW else "hnsw"


def _rpc_detail(err: Exception) -> str:
    """What a raw gRPC error says ("Deadline Exceeded"), or its text when it has no details."""
    details = getattr(err, "details", None)
    return str(details() if callable(details) else err)


class MilvusStoreError(IndexProblem):
    """Milvus could not be reached or refused a request; the message says which and what to do."""


def is_local_uri(uri: str) -> bool:
    """A URI without a network scheme is a Milvus Lite database file on this machine."""
    return urlsplit(uri).scheme.lower() not in ("http", "https", "tcp", "grpc", "unix")


@dataclass(frozen=True)
class _State:
    """What the live ``head`` points at: one consistent view of the index."""

    gen: int
    chunks: str  # name of the chunk collection
    manifest: Manifest
    doc_gens: dict[str, int]  # document -> generation whose rows are live
    texts: dict[str, tuple[str, int]]  # document -> (text key, number of parts)


class MilvusStore(VectorStore):
    """Chunks, vectors, manifest and texts in two Milvus collections; see the module docstring.

    Constructing one is cheap: nothing is imported or connected until the first call.
    ``token`` defaults to ``$QUOTEBOT_MILVUS_TOKEN`` (``user:password`` or an API key);
    it is read here rather than kept in ``Settings`` so that it never ends up in a
    flag, a log line or a printed configuration.
    """

    def __init__(
        self,
        uri: str,
        *,
        index_type: str = "auto",
        collection: str = "quotebot",
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not uri:
            raise ValueError(
                "the Milvus store needs --uri (a local file such as index/milvus.db, or http://host:19530)"
            )
        if not _COLLECTION_NAME.match(collection):
            raise ValueError(
                f"collection name {collection!r} must be letters, digits and underscores, not starting with a digit"
            )
        check_index_type(index_type)
        self.local = is_local_uri(uri)
        if self.local and not uri.endswith(".db"):
            raise ValueError(
                f"a Milvus Lite database is a local path ending in .db (e.g. index/milvus.db), not {uri!r}"
            )
        if self.local and index_type == "ivf-pq":
            raise ValueError("Milvus Lite has no product-quantization index; use --index-type ivf-sq8 or hnsw")
        self.uri = uri
        self.index_type = index_type
        self.collection = collection
        self.timeout = timeout
        self._token = os.environ.get(TOKEN_ENV, "") if token is None else token
        self._conn = None
        self._loaded: set[str] = set()
        self._state: _State | None = None
        self._texts: dict[str, str] = {}  # text key -> document text, a small cache for the source panel
        self._lock = threading.RLock()

    @property
    def meta_name(self) -> str:
        return f"{self.collection}_meta"

    def chunks_name(self, dimension: int) -> str:
        return f"{self.collection}_chunks_{dimension}"

    def describe(self) -> str:
        kind = "Milvus Lite database" if self.local else "Milvus at"
        return f"{kind} {_redact(self.uri)} (collection {self.collection})"

    def rebuild_command(self) -> str:
        return f"python -m indexer build --store milvus --uri {_redact(self.uri)}"

    # ---- connection ----------------------------------------------------------------------

    def _client(self):
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def _connect(self):
        quiet_milvus_client()  # before pymilvus loads gRPC: see indexer/stores/milvus_noise.py
        try:
            from pymilvus import MilvusClient
            from pymilvus.exceptions import MilvusException
        except ImportError as err:
            raise MilvusStoreError(f"the Milvus store needs the pymilvus package; {INSTALL_HINT}") from err
        uri = self.uri
        if self.local:
            try:
                import milvus_lite  # noqa: F401 - only to say clearly what is missing
            except ImportError as err:
                raise MilvusStoreError(
                    f"{uri} is a local Milvus Lite database, which needs the milvus-lite package; {INSTALL_HINT}"
                ) from err
            path = Path(uri).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            uri = str(path)
        try:
            return MilvusClient(uri=uri, token=self._token, timeout=self.timeout)
        except MilvusException as err:
            if self.local:
                raise MilvusStoreError(
                    f"cannot open the Milvus Lite database {self.uri} ({err.message}); Milvus Lite serves one "
                    "process per database, so stop any other indexer or bot using it, or use a Milvus server"
                ) from err
            raise MilvusStoreError(
                f"cannot reach Milvus at {_redact(self.uri)} ({err.message}); start the server or fix --uri / "
                f"$QUOTEBOT_MILVUS_URI, and set ${TOKEN_ENV} if it needs a token"
            ) from err

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """Turn pymilvus' exceptions into one error type that says where and what to do."""
        import grpc
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except (MilvusException, grpc.RpcError) as err:  # an iterator's call can raise gRPC's own error
            detail = err.message if isinstance(err, MilvusException) else _rpc_detail(err)
            raise MilvusStoreError(
                f"Milvus at {_redact(self.uri)} failed to {what} ({detail}); check that the server is up "
                f"and the collections {self.collection}_* are intact, or rebuild with: {self.rebuild_command()}"
            ) from err

    def _ensure_loaded(self, name: str) -> None:
        """Collections must be loaded to be read; Milvus Lite releases them when its process ends."""
        if name in self._loaded:
            return
        client = self._client()
        state = client.get_load_state(name).get("state")
        if getattr(state, "name", str(state)) != "Loaded":
            client.load_collection(name)
        self._loaded.add(name)

    def drop(self) -> None:
        """Delete this store's collections (every document, vector and manifest) to start over."""
        with self._lock:
            client = self._client()
            with self._calls("drop the collections"):
                for name in client.list_collections():
                    if name == self.meta_name or name.startswith(f"{self.collection}_chunks_"):
                        client.drop_collection(name)
            self._state = None
            self._loaded.clear()
            self._texts.clear()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._state = None, None
            self._loaded.clear()

    # ---- reading -------------------------------------------------------------------------

    def _read_state(self) -> _State | None:
        """The live state from the ``head`` row; reuses the cached one when the head has not moved."""
        if self._conn is None and self.local and not Path(self.uri).expanduser().exists():
            return None  # nothing built yet: do not create an empty database just to look
        client = self._client()
        with self._calls("read the index head"):
            if not client.has_collection(self.meta_name):
                return None
            self._ensure_loaded(self.meta_name)
            rows = client.get(self.meta_name, ids=["head"], output_fields=["value"], timeout=self.timeout)
        if not rows:
            return None
        try:
            head = json.loads(rows[0]["value"])
            gen, chunks, parts, digest = int(head["gen"]), str(head["chunks"]), int(head["parts"]), str(head["sha256"])
        except (ValueError, KeyError, TypeError) as err:
            raise IndexCorrupt(
                f"the index head in {self.describe()} is damaged ({err}); {self.rebuild_command()}"
            ) from err
        if head.get("format") != FORMAT_VERSION:
            raise IndexCorrupt(
                f"{self.describe()} holds index format {head.get('format')}, this version reads {FORMAT_VERSION}; "
                f"rebuild it with: {self.rebuild_command()}"
            )
        cached = self._state
        if cached is not None and cached.gen == gen and cached.chunks == chunks:
            return cached
        payload = self._read_parts("manifest", str(gen), parts)
        if payload is None or hashlib.sha256(payload.encode("utf-8")).hexdigest() != digest:
            raise IndexCorrupt(
                f"the manifest of generation {gen} in {self.describe()} is incomplete; {self.rebuild_command()}"
            )
        data = json.loads(payload)
        state = _State(
            gen=gen,
            chunks=chunks,
            manifest=Manifest.from_dict(data["manifest"]),
            doc_gens={name: int(g) for name, g in data["doc_gens"].items()},
            texts={name: (key, int(n)) for name, (key, n) in data["texts"].items()},
        )
        if state.manifest.format_version != FORMAT_VERSION:
            raise IndexCorrupt(
                f"{self.describe()} has manifest format {state.manifest.format_version}; {self.rebuild_command()}"
            )
        self._state = state
        return state

    def _read_parts(self, kind: str, key: str, parts: int) -> str | None:
        ids = [f"{kind}/{key}/{i}" for i in range(parts)]
        with self._calls(f"read the {kind} parts"):
            rows = self._get(self.meta_name, ids, ["key", "value"])
        by_key = {row["key"]: row["value"] for row in rows}
        if len(by_key) != parts:
            return None
        return "".join(by_key[i] for i in ids)

    def _get(self, name: str, ids: Sequence[str], fields: list[str]) -> list[dict]:
        client = self._client()
        out: list[dict] = []
        for start in range(0, len(ids), IDS_BATCH):
            batch = list(ids[start : start + IDS_BATCH])
            out.extend(client.get(name, ids=batch, output_fields=fields, timeout=self.timeout))
        return out

    def index_progress(self) -> tuple[int, int]:
        """(rows indexed, rows in the collection) of the live chunk collection.

        Milvus builds indexes in the background after inserts; rows not yet indexed
        are still found (by brute force), only slower. Operators can poll this.
        """
        state = self._require()
        with self._calls("describe the index"):
            info = self._client().describe_index(state.chunks, "vector") or {}
        return int(info.get("indexed_rows", 0)), int(info.get("total_rows", 0))

    def _current(self) -> _State | None:
        with self._lock:
            return self._state if self._state is not None else self._read_state()

    def _require(self) -> _State:
        state = self._current()
        if state is None:
            raise IndexMissing(f"there is no index in {self.describe()}; build it with: {self.rebuild_command()}")
        return state

    def reload(self) -> None:
        """Re-read the head on the next call, to pick up what another indexer committed."""
        with self._lock:
            self._state = None

    def read_manifest(self) -> Manifest | None:
        with self._lock:
            state = self._read_state()  # always asks Milvus: the bot checks this when it loads or refreshes
        return state.manifest if state else None

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        state = self._require()
        if k <= 0 or not state.doc_gens:
            return [[] for _ in range(len(queries))]
        client = self._client()
        want = k + TIE_SLACK
        limit, refreshed = min(want, SEARCH_LIMIT_MAX), False
        while True:
            with self._calls("search"):
                self._ensure_loaded(state.chunks)
                results = client.search(
                    state.chunks,
                    data=queries.tolist(),
                    limit=limit,
                    output_fields=_CHUNK_FIELDS,
                    search_params={"metric_type": "IP", "params": self._search_params(state, limit)},
                    consistency_level=SEARCH_CONSISTENCY,
                    timeout=self.timeout,
                )
            rows = [[(hit["entity"], float(hit["distance"])) for hit in result] for result in results]
            if not refreshed and any(state.doc_gens.get(e["doc"]) != e["gen"] for row in rows for e, _ in row):
                searched, refreshed = state.chunks, True
                state = self._refresh()  # another indexer may have committed since we last looked
                if state.chunks != searched:
                    continue  # it rebuilt everything into another collection: search that one
            live = [[(e, s) for e, s in row if state.doc_gens.get(e["doc"]) == e["gen"]] for row in rows]
            short = any(len(lv) < want and len(row) == limit for lv, row in zip(live, rows))
            if not short or limit >= SEARCH_LIMIT_MAX:
                break
            limit = min(SEARCH_LIMIT_MAX, limit * 4)  # stale rows crowded out live ones: look further
        return [rank_hits((Hit(self._chunk(e), s) for e, s in row), k) for row in live]

    def _refresh(self) -> _State:
        with self._lock:
            self._state = None
            return self._require()

    def _search_params(self, state: _State, limit: int) -> dict:
        kind = state.manifest.index_type
        if kind == "hnsw":
            return {"ef": max(HNSW_EF_SEARCH, limit)}
        if kind.startswith("ivf"):
            return {"nprobe": IVF_NPROBE}
        return {}

    def _chunk(self, row: dict) -> Chunk:
        start, end, text = int(row["start"]), int(row["end"]), row["text"]
        if not text and end > start:  # over-long chunk: its text was not stored twice
            text = self.document_text(row["doc"])[start:end]
        return Chunk(
            id=row["chunk_id"],
            doc=row["doc"],
            start=start,
            end=end,
            text=text,
            heading=row["heading"],
            block=int(row["block"]),
            sentences=tuple((int(a), int(b)) for a, b in json.loads(row["sentences"])),
        )

    def get_vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        state = self._require()
        pks = []
        for cid in chunk_ids:
            doc = cid.rsplit(":", 1)[0]
            if doc not in state.doc_gens:
                raise KeyError(cid)
            pks.append(_pk(cid, state.doc_gens[doc]))
        with self._calls("read vectors"):
            self._ensure_loaded(state.chunks)
            rows = self._get(state.chunks, pks, ["pk", "vector"])
        by_pk = {row["pk"]: row["vector"] for row in rows}
        missing = [cid for cid, pk in zip(chunk_ids, pks) if pk not in by_pk]
        if missing:
            raise KeyError(missing[0])
        dim = state.manifest.dimension
        if not pks:
            return np.zeros((0, dim), dtype=np.float32)
        return np.asarray([by_pk[pk] for pk in pks], dtype=np.float32).reshape(len(pks), dim)

    def all_chunks(self) -> list[Chunk]:
        state = self._current()
        if state is None or not state.doc_gens:
            return []
        client = self._client()
        chunks = []
        with self._calls("read the chunks"):
            self._ensure_loaded(state.chunks)
            iterator = client.query_iterator(
                state.chunks,
                batch_size=2_000,
                filter=f"gen <= {state.gen}",
                output_fields=_CHUNK_FIELDS,
                timeout=self.timeout,
            )
            try:
                while batch := iterator.next():
                    chunks.extend(self._chunk(r) for r in batch if state.doc_gens.get(r["doc"]) == r["gen"])
            finally:
                iterator.close()
        chunks.sort(key=lambda c: (c.doc, c.start, c.end))
        return chunks

    def document_text(self, name: str) -> str:
        state = self._require()
        if name not in state.texts:
            raise UnknownDocument(f"no document named {name!r} in the index")
        key, parts = state.texts[name]
        with self._lock:
            if key in self._texts:
                return self._texts[key]
        text = self._read_parts("text", key, parts)
        if text is None:
            raise IndexCorrupt(f"the stored text of {name} is missing from {self.describe()}; {self.rebuild_command()}")
        with self._lock:
            if len(self._texts) >= 64:
                self._texts.pop(next(iter(self._texts)))
            self._texts[key] = text
        return text

    def count(self) -> int:
        state = self._current()
        return sum(rec.n_chunks for rec in state.manifest.documents.values()) if state else 0

    # ---- writing -------------------------------------------------------------------------

    def apply(self, *, remove: Iterable[str], add: Sequence[NewDocument], manifest: Manifest) -> None:
        with self._lock:
            self._state = None
            old = self._read_state()
            old_gen = old.gen if old else 0
            gen = old_gen + 1
            dim = int(manifest.dimension)
            target = self.chunks_name(dim)
            drop = set(remove) | {doc.record.name for doc in add}
            kept = {n: g for n, g in (old.doc_gens if old else {}).items() if n not in drop}
            if old and kept and old.chunks != target:
                raise IndexProblem(
                    f"the index holds {old.manifest.dimension}-dimension vectors and these are {dim}; "
                    f"rebuild every document with: {self.rebuild_command()}"
                )
            for doc in add:
                _check_document(doc, dim)
            n_after = sum(old.manifest.documents[n].n_chunks for n in kept) + sum(len(d.chunks) for d in add)
            index_type = choose_milvus_index_type(n_after, self.index_type)
            if self.index_type == "auto" and old and old.chunks == target and index_type == "flat":
                # Shrinking keeps a graph index: swapping it back to FLAT would pause searches for nothing.
                index_type = old.manifest.index_type
            client = self._client()
            with self._calls("write the index"):
                self._ensure_meta()
                self._ensure_chunks(target, dim, index_type, n_after)
                client.delete(target, filter=f"gen > {old_gen}")  # leftovers of an interrupted apply
                texts = {n: t for n, t in (old.texts if old else {}).items() if n in kept}
                for doc in add:
                    texts[doc.record.name] = self._write_text(doc)
                for doc in add:
                    rows = [_row(chunk, vector, gen) for chunk, vector in zip(doc.chunks, doc.vectors)]
                    for start in range(0, len(rows), INSERT_BATCH):
                        client.insert(target, rows[start : start + INSERT_BATCH])
                doc_gens = kept | {doc.record.name: gen for doc in add}
                final = replace(manifest, dimension=dim, index_type=index_type, format_version=FORMAT_VERSION)
                payload = json.dumps(
                    {"manifest": final.to_dict(), "doc_gens": doc_gens, "texts": texts}, ensure_ascii=False
                )
                parts = _split(payload)
                self._upsert_meta([(f"manifest/{gen}/{i}", "manifest", gen, p) for i, p in enumerate(parts)])
                head = {
                    "format": FORMAT_VERSION,
                    "gen": gen,
                    "chunks": target,
                    "parts": len(parts),
                    "sha256": hashlib.sha256(payload.encode("utf-8")).hexdigest(),
                }
                self._upsert_meta([("head", "head", gen, json.dumps(head))])  # the commit point
                self._state = _State(gen, target, final, doc_gens, {n: (k, p) for n, (k, p) in texts.items()})
                self._collect_garbage(old, drop, target, gen)

    def _ensure_meta(self) -> None:
        from pymilvus import DataType, MilvusClient

        client = self._client()
        if client.has_collection(self.meta_name):
            self._ensure_loaded(self.meta_name)
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1024)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("gen", DataType.INT64)
        schema.add_field("value", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field; unused
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", index_name="vector", metric_type="IP")
        self._create(self.meta_name, schema, index)

    def _ensure_chunks(self, name: str, dim: int, index_type: str, n: int) -> None:
        """Create the chunk collection, or swap its index when the collection's size calls for another type."""
        from pymilvus import DataType, MilvusClient

        client = self._client()
        index = client.prepare_index_params()
        milvus_type, params = _milvus_index(index_type, n, dim)
        index.add_index("vector", index_type=milvus_type, index_name="vector", metric_type="IP", params=params)
        if not client.has_collection(name):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=2048)
            schema.add_field("chunk_id", DataType.VARCHAR, max_length=2048)
            schema.add_field("doc", DataType.VARCHAR, max_length=2048)
            schema.add_field("gen", DataType.INT64)
            schema.add_field("start", DataType.INT64)
            schema.add_field("end", DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
            schema.add_field("heading", DataType.VARCHAR, max_length=VARCHAR_MAX)
            schema.add_field("block", DataType.INT64)
            schema.add_field("sentences", DataType.VARCHAR, max_length=VARCHAR_MAX)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            self._create(name, schema, index)
            return
        current = client.describe_index(name, "vector") or {}
        if str(current.get("index_type", "")).upper() != milvus_type:
            client.release_collection(name)
            self._loaded.discard(name)
            client.drop_index(name, "vector")
            client.create_index(name, index)
        self._ensure_loaded(name)

    def _create(self, name: str, schema, index) -> None:
        """Create and load an empty collection; its empty index needs no build, so do not poll for one."""
        client = self._client()
        client.create_collection(name, schema=schema, consistency_level="Strong")
        client.create_index(name, index, sync=False)
        client.load_collection(name)
        self._loaded.add(name)

    def _write_text(self, doc: NewDocument) -> tuple[str, int]:
        """Store a document's text under a key derived from its content; unchanged texts are reused."""
        key = text_key(doc.record.sha256)
        parts = _split(doc.text)
        self._upsert_meta([(f"text/{key}/{i}", "text", 0, p) for i, p in enumerate(parts)])
        return key, len(parts)

    def _upsert_meta(self, rows: list[tuple[str, str, int, str]]) -> None:
        data = [{"key": k, "kind": kind, "gen": g, "value": v, "vector": [1.0, 0.0]} for k, kind, g, v in rows]
        for start in range(0, len(data), 32):  # 32 parts of <= 60 KB: a ~2 MB request
            self._client().upsert(self.meta_name, data[start : start + 32])

    def _collect_garbage(self, old: _State | None, drop: set[str], target: str, gen: int) -> None:
        """After the commit: delete what no reader of the new head needs."""
        client = self._client()
        if old is not None and old.chunks == target:
            names = sorted(drop)
            for start in range(0, len(names), 200):
                listed = ", ".join(_quote(n) for n in names[start : start + 200])
                client.delete(target, filter=f"doc in [{listed}] and gen <= {old.gen}")
        elif old is not None and client.has_collection(old.chunks):
            client.drop_collection(old.chunks)  # the dimension changed: every document was rebuilt
            self._loaded.discard(old.chunks)
        client.delete(self.meta_name, filter=f'kind == "manifest" and gen != {gen}')
        wanted = {key for key, _ in self._state.texts.values()}
        stale = [key for key in self._keys(self.meta_name, 'kind == "text"') if key.split("/")[1] not in wanted]
        for start in range(0, len(stale), IDS_BATCH):
            client.delete(self.meta_name, ids=stale[start : start + IDS_BATCH])
        client.flush(target)
        client.flush(self.meta_name)

    def _keys(self, name: str, condition: str) -> list[str]:
        iterator = self._client().query_iterator(name, batch_size=2_000, filter=condition, output_fields=["key"])
        keys: list[str] = []
        try:
            while batch := iterator.next():
                keys.extend(row["key"] for row in batch)
        finally:
            iterator.close()
        return keys


def _milvus_index(index_type: str, n: int, dim: int) -> tuple[str, dict]:
    """Milvus index type and build parameters for one of the store's index type names."""
    if index_type == "flat":
        return "FLAT", {}
    if index_type == "hnsw":
        return "HNSW", {"M": 32, "efConstruction": 80}
    nlist = max(1, min(int(4 * np.sqrt(max(n, 1))), max(n // 39, 1), 65_536))
    if index_type == "ivf-sq8":
        return "IVF_SQ8", {"nlist": nlist}
    if index_type == "ivf-pq":
        m = next(m for m in (48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
        return "IVF_PQ", {"nlist": nlist, "m": m, "nbits": 8}
    check_index_type(index_type)
    raise ValueError(f"index type {index_type!r} is chosen by size; pass flat, hnsw, ivf-sq8 or ivf-pq")


def _check_document(doc: NewDocument, dim: int) -> None:
    name = doc.record.name
    if len(name.encode("utf-8")) > DOC_NAME_MAX:
        raise ValueError(f"document name {name[:60]!r}... is longer than {DOC_NAME_MAX} bytes; rename the file")
    if len(doc.chunks) != len(doc.vectors):
        raise ValueError(f"{name}: {len(doc.chunks)} chunks but {len(doc.vectors)} vectors")
    if len(doc.chunks) and np.asarray(doc.vectors).shape[1] != dim:
        raise ValueError(f"{name}: vectors have dimension {np.asarray(doc.vectors).shape[1]}, the manifest says {dim}")


def _pk(chunk_id: str, gen: int) -> str:
    return f"{chunk_id}#{gen}"


def _row(chunk: Chunk, vector: np.ndarray, gen: int) -> dict:
    text = chunk.text if len(chunk.text.encode("utf-8")) <= VARCHAR_MAX else ""  # rebuilt from the document text
    return {
        "pk": _pk(chunk.id, gen),
        "chunk_id": chunk.id,
        "doc": chunk.doc,
        "gen": gen,
        "start": chunk.start,
        "end": chunk.end,
        "text": text,
        "heading": _truncate_bytes(chunk.heading, VARCHAR_MAX),
        "block": chunk.block,
        "sentences": json.dumps([list(s) for s in chunk.sentences]),
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
    }


def _split(text: str, limit: int = PART_BYTES) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    parts, start = [], 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte: back up
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


def _quote(value: str) -> str:
    """A Milvus filter string literal (double quotes, C-style escapes)."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _redact(uri: str) -> str:
    """The URI without a password, fit for messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return parts._replace(
        netloc=f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    ).geturl()
