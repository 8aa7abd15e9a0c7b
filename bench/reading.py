"""How cleanly documents are read: boilerplate share of chunks and extraction time, before and after.

    python -m bench.reading [--before REV] [--docs eval/docs] [--labels eval/reading_labels.jsonl] [--json]

For every development document (each folder ``eval/docs/<slug>/`` is one document, or
one corpus of pages), the files are read and chunked twice: by the loaders and chunker
as they are at git revision ``--before`` (default ``main``; exported with ``git show``
into a temporary package, so nothing is checked out) and as they are in the working
tree. *Answers kept*: the share of the answer spans of ``eval/<slug>.jsonl`` found in the
extracted text (white space collapsed), so pruning that loses content shows. A chunk is *boilerplate* when it holds something a person skips when reading
(see ``is_boilerplate``): a dot-leader run, a permalink sign, a word split by a hyphen at
a line end, a running header, or a line the labels file names for that document (site
navigation, generated tables of contents, index entries), found by reading the document
as the old loader gave it. Printed: the share of boilerplate chunks, the number of
chunks, and the median extraction time per page (a PDF page, an HTML or Word file).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
_MODULES = ("document", "decoding", "html", "markup", "pdf", "loaders", "chunking")
SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}

# Rules that hold for every document (docs/quality.md, "Reading real documents").
# A contents line's leader ends in a page number ("Patterns . . . . 9"); a price list's does not ("Laths,.... 1.25").
DOT_LEADER = re.compile(r"(?:\.\s?){5,}\s*(?:\d{1,4}|[ivxlc]{1,6})\s*$|(?:\.\s){4,}\.", re.MULTILINE)
PERMALINK = re.compile(r"[¶§]")
HYPHEN_SPLIT = re.compile(r"[A-Za-z]-\n[a-z]")


@dataclass(frozen=True)
class Labels:
    """What a person skips in one document, named by reading it as the old loader gave it."""

    slug: str
    lines: tuple[re.Pattern, ...] = ()  # a chunk containing a match is boilerplate
    note: str = ""


@dataclass
class Reading:
    texts: list[str] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    headings: set[str] = field(default_factory=set)
    seconds_per_page: list[float] = field(default_factory=list)
    pages: int = 0
    errors: list[str] = field(default_factory=list)


def load_labels(path: Path) -> dict[str, Labels]:
    labels = {}
    if not path.exists():
        return labels
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            patterns = tuple(re.compile(p, re.MULTILINE) for p in data.get("boilerplate", ()))
        except (json.JSONDecodeError, re.error) as err:
            raise SystemExit(
                f"{path}:{number}: {err}; fix the line (JSON with 'slug' and 'boilerplate' regexes)"
            ) from err
        labels[data["slug"]] = Labels(data["slug"], patterns, data.get("note", ""))
    return labels


INDEX_LINE = re.compile(r"^[^|→=(){};:]{1,60}?,\s*\d{1,4}(?:\s*[,–-]\s*\d{1,4})*$")  # "yylex, 12, 40"
_ITEM = re.compile(r"^(?:[•·]\s*)?(?:\d+(?:\.\d+)*\.?\s+)?(.+?)\s*$")


def is_index(text: str) -> bool:
    """Three or more lines, most of them short entries ending in page numbers."""
    lines = [line for line in text.split("\n") if line.strip()]
    return len(lines) >= 3 and sum(bool(INDEX_LINE.match(line)) for line in lines) >= 0.6 * len(lines)


def is_contents(text: str, headings: set[str]) -> bool:
    """A list of the document's own headings (a generated table of contents)."""
    items = [_ITEM.match(line).group(1) for line in re.split(r"\n|(?<=\S)\s+(?=[•·]\s)", text) if line.strip()]
    return len(items) >= 3 and sum(item in headings for item in items) >= 0.6 * len(items)


def is_boilerplate(text: str, labels: Labels | None, headings: set[str] = frozenset()) -> bool:
    """The generic rules (dot leaders, permalink signs, hyphen splits, index entries, lists of the
    document's headings), then the document's own labels."""
    if DOT_LEADER.search(text) or PERMALINK.search(text) or HYPHEN_SPLIT.search(text):
        return True
    if is_index(text) or is_contents(text, headings):
        return True
    return labels is not None and any(p.search(text) for p in labels.lines)


def package_at(revision: str, workdir: Path) -> tuple[ModuleType, ModuleType]:
    """``(loaders, chunking)`` as they are at ``revision``, imported from an exported copy."""
    package = workdir / f"indexer_{re.sub(r'[^A-Za-z0-9]', '_', revision)}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in _MODULES:
        shown = subprocess.run(
            ["git", "show", f"{revision}:indexer/{name}.py"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if shown.returncode == 0:
            (package / f"{name}.py").write_text(shown.stdout, encoding="utf-8")
    sys.path.insert(0, str(workdir))
    try:
        return importlib.import_module(f"{package.name}.loaders"), importlib.import_module(f"{package.name}.chunking")
    finally:
        sys.path.remove(str(workdir))


def read_documents(folder: Path, variants: list[tuple[ModuleType, ModuleType]], repeat: int = 3) -> list[Reading]:
    """Every file of one development document read by each ``(loaders, chunking)`` variant and
    chunked. The variants take turns, ``repeat`` rounds per file, so a busy machine slows them
    alike; the median time per variant is kept."""
    readings = [Reading() for _ in variants]
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
        times: list[list[float]] = [[] for _ in variants]
        docs: list[object] = [None] * len(variants)
        for round_ in range(repeat + 1):  # round 0 warms up (imports, caches) and is not timed
            for n, (loaders, _chunking) in enumerate(variants):
                if isinstance(docs[n], Exception):
                    continue
                started = time.perf_counter()
                try:
                    docs[n] = loaders.load_document(path, path.name)
                except Exception as err:  # a benchmark reports every failure and goes on
                    docs[n] = err
                if round_:
                    times[n].append(time.perf_counter() - started)
        for n, (_loaders, chunking) in enumerate(variants):
            reading, doc = readings[n], docs[n]
            if isinstance(doc, Exception):
                reading.errors.append(f"{path.name}: {doc}")
                continue
            pages = max(len(doc.pages), 1)
            reading.pages += pages
            reading.seconds_per_page.append(statistics.median(times[n] or [0.0]) / pages)
            reading.texts.append(" ".join(doc.text.split()))
            for chunk in chunking.chunk_text(doc.text, doc.name):
                reading.chunks.append(chunk.text)
                reading.headings.update(part.strip() for part in chunk.heading.split(" · ") if part.strip())
    return readings


def gold_spans(path: Path) -> list[str]:
    """Every answer span of a development question set (``eval/<slug>.jsonl``)."""
    if not path.exists():
        return []
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            spans.extend(" ".join(g.split()) for g in json.loads(line).get("gold", ()))
    return spans


def kept(reading: Reading, spans: list[str]) -> float | None:
    """Share of the answer spans still in the text: what pruning must not lose."""
    if not spans:
        return None
    return sum(any(span in text for text in reading.texts) for span in spans) / len(spans)


def share(reading: Reading, labels: Labels | None, headings: set[str]) -> float:
    if not reading.chunks:
        return 0.0
    return sum(is_boilerplate(c, labels, headings) for c in reading.chunks) / len(reading.chunks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="git revision whose loaders are 'before' (default: main)")
    parser.add_argument("--docs", type=Path, default=ROOT / "eval" / "docs")
    parser.add_argument("--labels", type=Path, default=ROOT / "eval" / "reading_labels.jsonl")
    parser.add_argument("--only", nargs="*", default=None, help="slugs to read (default: all)")
    parser.add_argument("--dump", type=Path, default=None, help="write each document's boilerplate chunks here")
    parser.add_argument("--repeat", type=int, default=3, help="reads of each file; the median time is kept")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    labels = load_labels(args.labels)
    after_loaders = importlib.import_module("indexer.loaders")
    after_chunking = importlib.import_module("indexer.chunking")
    folders = sorted(p for p in args.docs.iterdir() if p.is_dir() and (args.only is None or p.name in args.only))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        before_loaders, before_chunking = package_at(args.before, Path(tmp))
        for folder in folders:
            before, after = read_documents(
                folder, [(before_loaders, before_chunking), (after_loaders, after_chunking)], args.repeat
            )
            label = labels.get(folder.name)
            headings = before.headings | after.headings
            spans = gold_spans(args.docs.parent / f"{folder.name}.jsonl")
            rows.append(
                {
                    "document": folder.name,
                    "pages": after.pages,
                    "chunks_before": len(before.chunks),
                    "boilerplate_before": round(share(before, label, headings), 4),
                    "chunks_after": len(after.chunks),
                    "boilerplate_after": round(share(after, label, headings), 4),
                    "ms_per_page_before": round(1000 * statistics.median(before.seconds_per_page or [0]), 2),
                    "ms_per_page_after": round(1000 * statistics.median(after.seconds_per_page or [0]), 2),
                    "answers_kept_before": kept(before, spans),
                    "answers_kept_after": kept(after, spans),
                    "labelled": label is not None,
                    "errors": before.errors + after.errors,
                }
            )
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                for name, reading in (("before", before), ("after", after)):
                    flagged = [c for c in reading.chunks if is_boilerplate(c, label, headings)]
                    (args.dump / f"{folder.name}.{name}.txt").write_text("\n---\n".join(flagged), encoding="utf-8")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"before = loaders at {args.before}; after = working tree; boilerplate = share of chunks")
    print(
        "| document | pages | chunks before | boilerplate before | chunks after | boilerplate after "
        "| answers kept before | answers kept after | ms/page before | ms/page after |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        mark = "" if r["labelled"] else " (generic rules only)"
        answers = [f"{v:.1%}" if v is not None else "–" for v in (r["answers_kept_before"], r["answers_kept_after"])]
        print(
            f"| {r['document']}{mark} | {r['pages']} | {r['chunks_before']} | {r['boilerplate_before']:.1%} | "
            f"{r['chunks_after']} | {r['boilerplate_after']:.1%} | {answers[0]} | {answers[1]} | "
            f"{r['ms_per_page_before']:.1f} | {r['ms_per_page_after']:.1f} |"
        )
        for error in r["errors"]:
            print(f"  error: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
