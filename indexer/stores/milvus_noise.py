"""Keep the Milvus client's internal chatter out of the bot's output.

Two kinds of lines reach a user of ``bot ask --store milvus`` that say nothing they
can act on:

* ``failed to get mvccTs from milvus server, use client-side ts instead``: pymilvus
  3.x asks the server for a timestamp to pin each query iterator (``all_chunks``
  uses one) to a snapshot. Milvus Lite and Milvus 2.3 servers do not have that call
  (Lite's embedded gRPC server also logs the unimplemented method), so pymilvus
  pins the iterator to a client-side timestamp instead, which is correct here
  because the store filters rows by the generation its manifest names. A logging
  filter drops exactly these records; every other warning still shows.
* gRPC core's own log lines (``Received a GOAWAY with error code ENHANCE_YOUR_CALM
  and debug data equal to "too_many_pings"``): the server asking the client to
  ping less often; the client slows down by itself and the call in flight is
  retried. gRPC core writes these straight to stderr, below Python's logging, so
  the only switch is ``GRPC_VERBOSITY``, read once when gRPC starts: it is set to
  ``NONE`` before pymilvus is first imported, unless the user set it (set
  ``GRPC_VERBOSITY=ERROR`` to see them again). Failures still reach the user as
  ``MilvusStoreError`` messages.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

__all__ = ["quiet_milvus_client"]

_LOGGERS = ("pymilvus.client.iterator.query_iterator", "grpc._server")


def quiet_milvus_client() -> None:
    """Call before importing pymilvus (the gRPC switch) and again after (the filters are idempotent)."""
    if "grpc" not in sys.modules:
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    for name in _LOGGERS:
        log = logging.getLogger(name)
        if not any(isinstance(f, _TimestampNoise) for f in log.filters):
            log.addFilter(_TimestampNoise())


class _TimestampNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "failed to get mvccTs" in message:
            return False
        if message.startswith("Exception calling application: Method not implemented") and record.exc_info:
            return "AllocTimestamp" not in "".join(traceback.format_exception(*record.exc_info))
        return True
