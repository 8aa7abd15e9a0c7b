"""The server's guards: request size limits, logins and exposure checks.

Safe by default: logins come only from the environment (never a flag, which other users of
the machine can read), a page reachable from other machines without a login may not change
the documents, and no request body is read beyond what the page could need.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Mapping

from starlette.middleware import Middleware

from indexer.settings import Settings

__all__ = [
    "AuthError",
    "BodyLimit",
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
            body = json.dumps({"detail": f"Request too large: the limit is {limit:,} bytes."}).encode()
            await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
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
            raise AuthError(f"QUOTEBOT_AUTH_FILE: cannot read {path} ({err.strerror}); fix the path or unset it") from err
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
