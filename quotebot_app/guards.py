"""The server's guards: request size limits, logins and exposure checks.

Safe by default: logins come only from the environment (never a flag, which other users of
the machine can read), a page reachable from other machines without a login may not change
the documents, and no request body is read beyond what the page could need.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from starlette.middleware import Middleware

from indexer.settings import Settings

__all__ = [
    "AuthError",
    "BodyLimit",
    "LoginThrottle",
    "OriginGuard",
    "REQUEST_MAX_BYTES",
    "UPLOAD_ROUTE_FILES_FACTOR",
    "exposure_warning",
    "load_auth",
    "management_off_reason",
]

REQUEST_MAX_BYTES = 1024 * 1024  # any request but an upload: a question with its history is far smaller
# The upload route takes this many times the page's file limit, so that a choice a little over the
# limit still reaches the Documents panel, which explains the limit; more is refused at the door.
UPLOAD_ROUTE_FILES_FACTOR = 4
_PART_OVERHEAD = 16 * 1024  # headers of one multipart part, generously


class BodyLimit:
    """ASGI middleware: refuse (413) request bodies over our limits, before or while they are read.

    Gradio limits each uploaded file (``max_file_size``) but takes up to 1000 files
    in one upload request, and JSON bodies of any size. Here an upload request
    carries at most ``max_files`` files and ``max_upload_bytes`` bytes; any other
    request at most ``max_other_bytes``. A declared ``Content-Length`` over the
    limit is refused unread; a chunked body is counted as it arrives.
    """

    def __init__(self, app, *, max_files: int, max_upload_bytes: int, max_other_bytes: int = REQUEST_MAX_BYTES) -> None:
        self.app = app
        self.max_files = max_files
        self.max_upload_bytes = max_upload_bytes
        self.max_other_bytes = max_other_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Middleware:
        """At most what the biggest upload the page accepts can weigh, in files a few times the page's limit."""
        return Middleware(
            cls,
            max_files=UPLOAD_ROUTE_FILES_FACTOR * settings.max_upload_files,
            max_upload_bytes=settings.max_upload_files * (settings.max_upload_bytes + _PART_OVERHEAD),
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        upload = scope["path"].rstrip("/").endswith("/upload")
        limit = self.max_upload_bytes if upload else self.max_other_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _refuse(send, 413, f"Request too large: the limit is {limit:,} bytes.")
        delimiter = b"--" + _boundary(headers.get(b"content-type", b"")) if upload else b""
        seen = {"bytes": 0, "delimiters": 0, "tail": b""}

        async def counted_receive():
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            seen["bytes"] += len(chunk)
            if len(delimiter) > 2:  # n files are n + 1 delimiters; one may straddle two chunks
                data = seen["tail"] + chunk
                seen["delimiters"] += data.count(delimiter)
                seen["tail"] = data[-(len(delimiter) - 1) :]
            if upload and (seen["bytes"] > limit or seen["delimiters"] > self.max_files + 1):
                # Starlette's own exception: Gradio's upload parser deletes the partial files and answers 413.
                from starlette.formparsers import MultiPartException

                raise MultiPartException(
                    f"Upload refused: the maximum allowed size of one upload is {self.max_files} files "
                    f"and {limit:,} bytes."
                )
            if seen["bytes"] > limit:
                from starlette.exceptions import HTTPException

                raise HTTPException(413, f"Request too large: the limit is {limit:,} bytes.")
            return message

        await self.app(scope, counted_receive, send)


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


_LOOPBACK_NAMES = frozenset(["localhost", "127.0.0.1", "::1"])
_SAFE_METHODS = frozenset(["GET", "HEAD", "OPTIONS"])


def _host_name(netloc: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the host name, lower case, without brackets."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


class OriginGuard:
    """ASGI middleware against DNS rebinding and cross-site requests.

    A page on ``evil.example`` whose name a DNS server later points at 127.0.0.1 reaches this
    server from the visitor's browser with ``Host: evil.example``: without a login, every
    request whose Host is not a loopback name or the configured host is refused (403). With a
    login, Gradio's own check guards the routes. In both cases a request that changes anything
    (not GET, HEAD or OPTIONS, and every WebSocket) sent by a page of another origin (its
    ``Origin`` names another host and port than its ``Host``) is refused: no cross-origin
    question, upload or removal. Requests without ``Origin`` come from programs, not pages.
    """

    def __init__(self, app, *, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts  # None: any Host (a login guards the routes)

    @classmethod
    def from_settings(cls, settings: Settings, auth: object) -> Middleware:
        return Middleware(cls, allowed_hosts=allowed_hosts(settings.host, auth))

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get(b"host", "")
        if self.allowed_hosts is not None and not _allowed(_host_name(host), self.allowed_hosts):
            return await self._deny(scope, send, "this server answers only to its own address (Host not allowed)")
        origin = headers.get(b"origin")
        changes = scope["type"] == "websocket" or scope.get("method", "GET") not in _SAFE_METHODS
        if changes and origin is not None and urlsplit(origin).netloc.lower() != host.strip().lower():
            return await self._deny(scope, send, "requests from pages of other sites are refused (Origin not allowed)")
        return await self.app(scope, receive, send)

    @staticmethod
    async def _deny(scope, send, detail: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _refuse(send, 403, detail)


def allowed_hosts(host: str, auth: object) -> frozenset[str] | None:
    """The Host names a request may carry: with no login, loopback names and the configured host
    (any name when it listens on every address, where management is off without a login)."""
    if auth:
        return None
    try:
        if ipaddress.ip_address(host).is_unspecified:
            return None
    except ValueError:
        pass
    return _LOOPBACK_NAMES | {host.strip("[]").lower()}


def _allowed(name: str, allowed: frozenset[str]) -> bool:
    if name in allowed:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback  # 127.0.0.2 and the like
    except ValueError:
        return False


class LoginThrottle:
    """ASGI middleware: at most ``max_failures`` failed logins per client address in ``window_s``
    seconds; beyond that, ``/login`` answers 429 until the window has passed (no password guessing
    at the speed of the network)."""

    def __init__(self, app, *, max_failures: int = 5, window_s: float = 60.0) -> None:
        self.app = app
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        with self._lock:
            failures = self._failures.setdefault(client, deque())
            while failures and now - failures[0] > self.window_s:
                failures.popleft()
            if len(failures) >= self.max_failures:
                wait = int(self.window_s - (now - failures[0])) + 1
                return await _refuse(send, 429, f"Too many failed logins; try again in {wait} s.")

        async def noted_send(message):
            if message["type"] == "http.response.start" and message["status"] >= 400:
                with self._lock:
                    self._failures.setdefault(client, deque()).append(time.monotonic())
                    if len(self._failures) > 10_000:  # bounded: forget the oldest addresses
                        self._failures.pop(next(iter(self._failures)))
            await send(message)

        await self.app(scope, receive, noted_send)


def _boundary(content_type: bytes) -> bytes:
    for param in content_type.split(b";")[1:]:
        key, _, value = param.strip().partition(b"=")
        if key.lower() == b"boundary":
            return value.strip(b'"')
    return b""


class AuthError(ValueError):
    """The login configuration is malformed; the message says which line."""


def _parse_credential(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user.strip() or not password:
        raise AuthError(f"{where}: expected user:password with a non-empty user and password")
    return user.strip(), password


def load_auth(env: Mapping[str, str] | None = None) -> list[tuple[str, str]] | None:
    """Logins from ``QUOTEBOT_AUTH`` ("user:password") and/or ``QUOTEBOT_AUTH_FILE`` (one per line).

    Never from the command line, where other users of the machine can read it.
    """
    env = os.environ if env is None else env
    logins: list[tuple[str, str]] = []
    if env.get("QUOTEBOT_AUTH"):
        logins.append(_parse_credential(env["QUOTEBOT_AUTH"].strip(), "QUOTEBOT_AUTH"))
    if env.get("QUOTEBOT_AUTH_FILE"):
        path = Path(env["QUOTEBOT_AUTH_FILE"])
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise AuthError(
                f"QUOTEBOT_AUTH_FILE: cannot read {path} ({err.strerror}); fix the path or unset it"
            ) from err
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                logins.append(_parse_credential(line, f"{path} line {n}"))
        if not logins:
            raise AuthError(f"QUOTEBOT_AUTH_FILE: {path} holds no user:password line")
    return logins or None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, auth: object) -> str | None:
    """What to tell the owner when the page is reachable from other machines without a login."""
    if _is_loopback(host) or auth:
        return None
    return (
        f"listening on {host} without a login: anyone who can reach this machine can use the bot; "
        "set QUOTEBOT_AUTH=user:password or QUOTEBOT_AUTH_FILE=path to require one"
    )


def management_off_reason(settings: Settings, host: str, auth: object) -> str | None:
    """Why the page must not let its readers add or remove documents, or ``None`` when it may.

    Off when asked for (``--read-only``), and when the page is reachable from
    other machines without a login: then anyone could change the collection.
    """
    if settings.read_only:
        return "read-only (--read-only or QUOTEBOT_READ_ONLY=1)"
    if not _is_loopback(host) and not auth:
        return (
            f"listening on {host} without a login, so adding and removing documents on the page is off; "
            "set QUOTEBOT_AUTH or QUOTEBOT_AUTH_FILE to allow it"
        )
    return None
