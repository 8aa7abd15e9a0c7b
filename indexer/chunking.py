"""Text -> sentences -> chunks, every one carrying exact character offsets.

Pure functions, no state: the offsets are the return value, so that
``text[chunk.start:chunk.end] == chunk.text`` holds by construction and the bot
can prove every quote is verbatim.

The splitting follows the document's own structure, coarsest first:

1. blocks separated by blank lines (paragraphs); a Markdown ``#`` line, an HTML
   ``<hN>`` element, or a short single line that does not read as a sentence (no
   closing punctuation, no lower-case start, no web address) is a *heading*; a fenced code
   block (```` ``` ```` ... ```` ``` ````) is one block whatever it holds (blank lines,
   ``# comment`` lines), its fence lines never quoted; a block whose every line is a
   ``cell | cell`` table row is a *table*; a list of links to ``#anchors`` of the same
   document is its table of contents and gives no sentences;
2. sentences inside a block (a code block: itself when short, else runs of its lines;
   a table: one row each), at ``.``/``!``/``?`` followed by space, plus list
   items introduced by a ``·`` bullet; pieces too short to stand alone (``SECTION. 1.``,
   ``Heat Therapy.``) are glued to their neighbour, and very long sentences are cut at
   ``;`` / ``:`` clause boundaries so that a quote stays a quote, not a page;
3. *segments*: runs of sentences that belong together. A sentence that ends
   in a function word ("leading to.", "one or more.") was truncated by whoever
   collected the text, and one that starts in lower case is the tail of a cut
   sentence; both mark a snippet boundary, and no chunk crosses one;
4. chunks: every window of 1..``max_sentences`` consecutive sentences of a
   segment, capped at ``max_chars``. Overlapping windows let retrieval score the
   same text at sentence and at passage granularity.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

__all__ = [
    "ChunkingSettings",
    "Sentence",
    "Chunk",
    "split_blocks",
    "split_sentences",
    "chunk_text",
]


@dataclass(frozen=True)
class ChunkingSettings:
    """Knobs of the chunker; stored in the index manifest, so a change triggers a rebuild."""

    # Bump when chunk boundaries or the text given to the model change: indexes are rebuilt.
    version: int = 10
    max_sentences: int = 3
    max_chars: int = 420
    min_sentence_chars: int = 25
    long_sentence_chars: int = 320

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChunkingSettings:
        return cls(**{k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ParagraphSpan:
    """Where one paragraph (or heading line, code block, table) of the text lies; ``Sentence.block`` counts these."""

    start: int
    end: int
    is_heading: bool
    kind: str = "text"  # "text", "code" (inside a fence), "table" (rows of " | " cells) or "links" (a TOC)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    block: int  # 0-based index of the paragraph (block) it lies in
    heading: str  # text of the nearest heading above it, "" if none
    truncated_end: bool  # the source cut this sentence short
    truncated_start: bool  # the source starts this sentence mid-way


@dataclass(frozen=True)
class Chunk:
    """A quotable span of one document.

    ``id`` is derived from the document and offsets only, so it is stable
    across rebuilds and stores (FAISS rows, Milvus primary keys).
    """

    id: str
    doc: str
    start: int
    end: int
    text: str
    heading: str
    block: int
    sentences: tuple[tuple[int, int], ...]

    @property
    def embed_text(self) -> str:
        """What the model sees: the heading for context, and no question sentences.

        A question in the text ("What Is a Muscle Cramp?") is a header for what
        follows; embedded with it, every window containing one looks like an
        answer to every question on the topic. Measured in docs/quality.md.
        """
        parts = [self.text[s - self.start : e - self.start] for s, e in self.sentences]
        statements = [p for p in parts if not p.rstrip("\"'”’) ").endswith("?")]
        body = " ".join(statements) if statements and len(statements) < len(parts) else self.text
        return f"{self.heading}: {body}" if self.heading else body

    def to_dict(self) -> dict:
        data = asdict(self)
        data["sentences"] = [list(s) for s in self.sentences]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(
            id=data["id"],
            doc=data["doc"],
            start=int(data["start"]),
            end=int(data["end"]),
            text=data["text"],
            heading=data.get("heading", ""),
            block=int(data.get("block", 0)),
            sentences=tuple((int(a), int(b)) for a, b in data["sentences"]),
        )


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# A sentence ends at terminal punctuation (plus closing quotes/brackets) followed by space or end.
# A missing space ("Persons.The actual") still ends a sentence: a lower-case word, a full stop,
# then a capitalised word. Abbreviations ("U.S.", "e.g.") do not match: no two lower-case letters
# before the stop, or no lower-case letter after the capital.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|(?<=[a-z]{2})\.(?=[A-Z][a-z])")
# "·" introduces a list item; the bullet belongs to the item that follows it.
_BULLET = re.compile(r"\s+(?=[·•▪‣]\s)")
_CLAUSE_END = re.compile(r"[;:](?=\s)")
_MD_HEADING = re.compile(r"#{1,6}\s+\S")  # no "^": .match(text, pos) anchors at pos, "^" would not
_WORD = re.compile(r"[A-Za-z']+")

# Words a complete English sentence rarely ends on: a sentence that ends on one was cut off.
_DANGLING = frozenset(
    """a an the and or but nor of to in on at by for with from as than that which who whom whose
    is are was were be been being can could may might must shall should will would do does did
    has have had if when while because so into onto about after before over under between
    through during without within your our their his her its my this these those more such
    also not very most""".split()
)


# A fenced code block: an opening ``` or ~~~ line, the code, and the same fence closing it.
_FENCE = re.compile(r"^(?P<fence>```|~~~)[^\n`]*\n(?P<code>.*?)\n?^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
_TABLE_CELL = " | "
# A Markdown list item that is only a link to a place in the same document: a table of contents.
_LINK_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+\[[^\]\n]+\]\(#[^)\s]*\)\s*$")


def split_blocks(text: str) -> list[ParagraphSpan]:
    """Paragraph-level blocks (trimmed of surrounding whitespace), marking headings, code and tables."""
    blocks: list[ParagraphSpan] = []
    pos = 0
    for fence in [*_FENCE.finditer(text), None]:
        end = fence.start() if fence else len(text)
        _split_paragraphs(text, pos, end, blocks)
        if fence:
            start, stop = _trim_blank_lines(text, fence.start("code"), fence.end("code"))
            if start < stop:
                blocks.append(ParagraphSpan(start, stop, False, "code"))
            pos = fence.end()
    return blocks


def _split_paragraphs(text: str, pos: int, stop: int, blocks: list[ParagraphSpan]) -> None:
    for match in [*_BLANK_LINE.finditer(text, pos, stop), None]:
        end = match.start() if match else stop
        _add_block(text, pos, end, blocks)
        if match:
            pos = match.end()


def _trim_blank_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Code keeps its indentation: trim whole blank lines only, and trailing spaces."""
    while start < end:
        newline = text.find("\n", start, end)
        if newline == -1 or text[start:newline].strip():
            break
        start = newline + 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _add_block(text: str, start: int, end: int, blocks: list[ParagraphSpan]) -> None:
    start, end = _trim(text, start, end)
    if start >= end:
        return
    # A Markdown heading line at the top of a block is a block of its own.
    first_nl = text.find("\n", start, end)
    if _MD_HEADING.match(text, start) and first_nl != -1:
        blocks.append(ParagraphSpan(start, first_nl, True))
        _add_block(text, first_nl + 1, end, blocks)
        return
    block = text[start:end]
    lines = block.split("\n")
    if len(lines) >= 2 and all(_LINK_ITEM.match(line) for line in lines):
        blocks.append(ParagraphSpan(start, end, False, "links"))
        return
    if _TABLE_CELL in block and all(_TABLE_CELL in line for line in lines):
        blocks.append(ParagraphSpan(start, end, False, "table"))
        return
    blocks.append(ParagraphSpan(start, end, _looks_like_heading(block)))


def _looks_like_heading(block: str) -> bool:
    """A block that titles what follows: a Markdown ``#`` line, an HTML heading element, or one short
    line that does not read as a sentence.

    A short line is not a heading when it starts in lower case or holds a web address ("you should
    do this", "For more details, see https://..."): that is a sentence the source broke around a code
    block. Nor when it ends in punctuation, dashes included ("Or, as Raleigh rhymes it in his
    sonorous way,—"): a verse or a list is introduced there. Either mistake gave every later chunk
    of the section a false context (one line of an FAQ headed 218 of its chunks).
    """
    if _MD_HEADING.match(block):
        return "\n" not in block
    if _HTML_HEADING.fullmatch(block):
        return True
    if "\n" in block or len(block) > 80:
        return False
    letter = next((ch for ch in block if ch.isalpha()), "")
    if letter.islower() or "://" in block:
        return False
    return block[-1] not in '.!?;:,…"”’)—–-' and len(block.split()) <= 12


# An HTML heading element kept as text in Markdown (``<h3 name="x">How do I ...?</h3>``).
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>\s*(?P<title>[^<]+?)\s*</h\1>", re.IGNORECASE)


def heading_text(block: str) -> str:
    """A heading block as a reader says it: no ``#`` marks, no markup tags, one line."""
    match = _HTML_HEADING.fullmatch(block)
    return " ".join((match.group("title") if match else block.lstrip("#")).split())


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _raw_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut [start, end) at sentence ends and before bullets; no piece is empty."""
    cuts = {start, end}
    for m in _SENTENCE_END.finditer(text, start, end):
        cuts.add(m.end())
    for m in _BULLET.finditer(text, start, end):
        cuts.add(m.end())
    ordered = sorted(cuts)
    pieces = []
    for a, b in zip(ordered, ordered[1:]):
        a, b = _trim(text, a, b)
        if a < b:
            pieces.append((a, b))
    return pieces


def _split_long(text: str, start: int, end: int, settings: ChunkingSettings) -> list[tuple[int, int]]:
    """Cut an over-long sentence at clause boundaries, keeping pieces of a useful size."""
    if end - start <= settings.long_sentence_chars:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    piece_start = start
    for m in _CLAUSE_END.finditer(text, start, end):
        cut = m.end()
        if cut - piece_start >= settings.long_sentence_chars // 3 and end - cut >= settings.min_sentence_chars:
            pieces.append(_trim(text, piece_start, cut))
            piece_start = cut
    pieces.append(_trim(text, piece_start, end))
    return [p for p in pieces if p[0] < p[1]]


def _is_head(piece: str) -> bool:
    """A short piece that introduces what follows (a bullet, a title, ``SECTION. 1.``)."""
    if piece[:1] in "·•▪‣" or piece[-1:] not in '.!?…"”’)':
        return True
    words = _WORD.findall(piece)
    return all(w[:1].isupper() for w in words)


def _is_question(piece: str) -> bool:
    return piece.rstrip("\"'”’) ").endswith("?")


def _merge_short(text: str, pieces: list[tuple[int, int]], min_chars: int) -> list[tuple[int, int, bool]]:
    """Glue pieces shorter than ``min_chars`` to a neighbour: heads forward, tails backward.

    Returns ``(start, end, cut)`` where ``cut`` says a fragment tail was glued on,
    i.e. the source snipped the text right after this sentence.
    """
    merged: list[tuple[int, int, bool]] = []
    pending: int | None = None
    for a, b in pieces:
        piece = text[a:b]
        if pending is not None:
            a, pending = pending, None
        short = b - a < min_chars and not _is_question(piece)
        introduces = piece[:1] not in "·•▪‣" and piece[-1:] not in '.!?…"”’)'  # a list header
        after_question = merged and _is_question(text[merged[-1][0] : merged[-1][1]])
        if short and merged and not after_question and not _is_head(text[a:b]):
            merged[-1] = (merged[-1][0], b, True)
        elif short or introduces:
            pending = a
        else:
            merged.append((a, b, False))
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], pieces[-1][1], merged[-1][2])
        else:
            merged.append((pending, pieces[-1][1], False))
    return merged


def _ends_truncated(sentence: str) -> bool:
    stripped = sentence.rstrip('.…"”’) ')
    words = _WORD.findall(stripped[-40:])
    return sentence.endswith((".", "…")) and bool(words) and words[-1].lower() in _DANGLING


def _starts_truncated(sentence: str) -> bool:
    first = sentence.lstrip("\"'“‘(")[:1]
    return first.isalpha() and first.islower()


_STEM_WORDS = 8


def split_sentences(text: str, settings: ChunkingSettings | None = None) -> list[Sentence]:
    """Sentences of every non-heading block, in order, with their heading and snippet marks."""
    settings = settings or ChunkingSettings()
    sentences: list[Sentence] = []
    heading = ""
    context = ""  # heading plus the opening words of a list whose items are paragraphs of their own
    stem = ""
    for index, block in enumerate(split_blocks(text)):
        if block.is_heading:
            heading = context = heading_text(text[block.start : block.end])
            stem = ""
            continue
        if block.kind == "links":  # a table of contents points at the answers; it is not one
            continue
        if block.kind != "text":
            sentences.extend(_code_or_table_sentences(text, block, index, heading, settings))
            stem = ""
            continue
        block_text = text[block.start : block.end]
        if stem:  # an item of a list opened by an earlier paragraph ("Congress shall have Power To ...;")
            context = f"{heading} · {stem}" if heading else stem
        else:
            context = heading
        if block_text.rstrip()[-1:] in ";:":
            stem = stem or " ".join(block_text.split()[:_STEM_WORDS]) + " …"
        else:
            stem = ""
        pieces = _raw_pieces(text, block.start, block.end)
        for a, b, cut in _merge_short(text, pieces, settings.min_sentence_chars):
            parts = _split_long(text, a, b, settings)
            for n, (pa, pb) in enumerate(parts):
                # A clause we cut off a long sentence starts in lower case ("and the Judges ..."):
                # that is our cut, not the source's, so it does not end the snippet.
                s = text[pa:pb]
                last = n == len(parts) - 1
                ends_cut = last and (_ends_truncated(s) or cut)
                starts_cut = n == 0 and _starts_truncated(s)
                sentences.append(Sentence(pa, pb, index, context, ends_cut, starts_cut))
    return sentences


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    while pos <= end:
        newline = text.find("\n", pos, end)
        stop = end if newline == -1 else newline
        a, b = _trim(text, pos, stop)
        if a < b:
            spans.append((a, b))
        if newline == -1:
            break
        pos = newline + 1
    return spans


def _code_or_table_sentences(
    text: str, block: ParagraphSpan, index: int, heading: str, settings: ChunkingSettings
) -> list[Sentence]:
    """A table: one sentence per row, so a question about one row finds it (a whole table read
    as one sentence matched nothing). Code: the block whole when it fits in a chunk, else runs
    of whole lines (split at blank lines first) that do."""
    lines = _line_spans(text, block.start, block.end)
    if block.kind == "table":
        return [Sentence(a, b, index, heading, False, False) for a, b in lines]
    if block.end - block.start <= settings.max_chars:
        start, end = _trim(text, block.start, block.end)  # a quote starts at the code, not its indentation
        return [Sentence(start, end, index, heading, False, False)]
    pieces: list[tuple[int, int]] = []
    for a, b in lines:
        gap = pieces and text.count("\n", pieces[-1][1], a) > 1
        if pieces and not gap and b - pieces[-1][0] <= settings.max_chars // 2:
            pieces[-1] = (pieces[-1][0], b)
        else:
            pieces.append((a, b))
    return [Sentence(a, b, index, heading, False, False) for a, b in pieces]


def _segments(sentences: list[Sentence]) -> list[list[Sentence]]:
    """Runs of sentences that may share a chunk: same block, no snippet boundary between."""
    segments: list[list[Sentence]] = []
    for s in sentences:
        prev = segments[-1][-1] if segments else None
        joined = prev is not None and prev.block == s.block and not prev.truncated_end and not s.truncated_start
        if joined:
            segments[-1].append(s)
        else:
            segments.append([s])
    return segments


def _makes_a_passage(text: str, members: list[Sentence], is_segment: bool) -> bool:
    """Whether a window says something on its own.

    A question is asked to be answered: a window ending on one leaves the reader
    hanging (and matches questions for the wrong reason). A short fragment cut off
    by the source is noise on its own. Both still appear inside longer windows,
    and a segment that consists of nothing else is kept whole.
    """
    if is_segment:
        return True
    last = members[-1]
    if text[last.start : last.end].rstrip("\"'”’) ").endswith("?"):
        return False
    if len(members) == 1 and last.truncated_end and last.end - last.start < 80:
        return False
    return True


def chunk_text(text: str, doc: str, settings: ChunkingSettings | None = None) -> list[Chunk]:
    """All chunks of one document, ordered by (start, end).

    Every window of 1..max_sentences consecutive sentences inside one segment
    becomes a chunk, as long as it fits in ``max_chars`` (a single sentence always does).
    """
    settings = settings or ChunkingSettings()
    chunks: list[Chunk] = []
    for segment in _segments(split_sentences(text, settings)):
        for i, first in enumerate(segment):
            for size in range(1, settings.max_sentences + 1):
                if i + size > len(segment):
                    break
                last = segment[i + size - 1]
                if size > 1 and last.end - first.start > settings.max_chars:
                    break
                members = segment[i : i + size]
                if not _makes_a_passage(text, members, is_segment=size == len(segment)):
                    continue
                chunks.append(
                    Chunk(
                        id=f"{doc}:{first.start}-{last.end}",
                        doc=doc,
                        start=first.start,
                        end=last.end,
                        text=text[first.start : last.end],
                        heading=first.heading,
                        block=first.block,
                        sentences=tuple((s.start, s.end) for s in members),
                    )
                )
    chunks.sort(key=lambda c: (c.start, c.end))
    return chunks
