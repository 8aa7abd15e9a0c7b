"""Bytes of a plain-text file -> its characters, whatever encoding the writer used.

Quotes are slices of the decoded text, so decoding must be right rather than
merely not fail: a Windows-1252 file read as Windows-1250 turns "très" into
"trčs" and the bot would quote words the author never wrote. Hence the order:

1. a byte-order mark says the encoding outright (UTF-8, UTF-16, UTF-32);
2. NUL bytes without a mark: UTF-16/32 without BOM if ``charset-normalizer`` is
   sure, otherwise it is a binary file and is refused, as is one with many other
   control bytes;
3. UTF-8, the common case, which almost never decodes by accident;
4. Windows-1252 when the result reads as mostly-ASCII Western text;
5. otherwise whatever ``charset-normalizer`` finds (Cyrillic, Greek, ...);
6. anything left is refused with a message asking for UTF-8.
"""

from __future__ import annotations

import codecs
import unicodedata

from .document import DocumentError

__all__ = ["decode_text"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_HINT = "this looks like a binary file, not text; convert it to plain text (UTF-8) or use a supported format"
# Above this share of control characters a "text" is really binary data.
_MAX_CONTROL_SHARE = 0.01
# Western text decoded as Windows-1252 has mostly ASCII letters; Cyrillic read as 1252 has almost none.
_MIN_ASCII_LETTER_SHARE = 0.7


def decode_text(data: bytes) -> str:
    """The characters of ``data``; raises ``DocumentError`` for empty, binary or undecodable bytes."""
    if not data.strip():
        raise DocumentError("the file is empty; add text to it or remove it")
    text = _decode(data)
    if not text.strip():
        raise DocumentError("the file holds only white space; add text to it or remove it")
    if _control_share(text) > _MAX_CONTROL_SHARE:
        raise DocumentError(_BINARY_HINT)
    return text


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as err:
                raise DocumentError(
                    f"the file starts with a {encoding} byte-order mark but is not valid {encoding} "
                    f"({err.reason}); save it as UTF-8"
                ) from err
    if b"\x00" in data:
        guess = _detect(data)
        if guess is not None and guess[0].startswith(("utf_16", "utf_32")):
            return guess[1]
        raise DocumentError(_BINARY_HINT)
    if _control_byte_share(data) > _MAX_CONTROL_SHARE:  # no text encoding left uses these bytes
        raise DocumentError(_BINARY_HINT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and _ascii_letter_share(western) >= _MIN_ASCII_LETTER_SHARE:
        return western
    guess = _detect(data)
    if guess is not None:
        return guess[1]
    if western is not None:
        return western
    raise DocumentError("the text is not UTF-8 and its encoding could not be recognised; save it as UTF-8")


def _detect(data: bytes) -> tuple[str, str] | None:
    """``(encoding, text)`` as ``charset-normalizer`` best reads ``data``, or ``None``."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return None
    return best.encoding, str(best)


def _ascii_letter_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum(c.isascii() for c in letters) / len(letters)


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1a")


def _control_byte_share(data: bytes) -> float:
    sample = data[:100_000]
    return (len(sample) - len(sample.translate(None, _CONTROL_BYTES))) / max(len(sample), 1)


def _control_share(text: str) -> float:
    sample = text[:100_000]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    return controls / max(len(sample), 1)
