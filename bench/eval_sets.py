"""Check a development question set against its document: every gold span must be in the text.

    python -m bench.eval_sets eval/<slug>.jsonl eval/docs/<slug> [more pairs ...]

Gold spans are compared after collapsing whitespace (``normalize_space``), so a span copied
from a hard-wrapped file still matches the text once a loader joins its lines. Prints, per
set, the answerable / near / far counts and every span not found, and exits 1 when any is
missing or a set is smaller than the benchmark's minimum.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.evaluation import normalize_space
from indexer.loaders import iter_corpus_files, load_document

MIN_ANSWERABLE = 30
MIN_UNANSWERABLE = 15


def corpus_texts(corpus: Path) -> dict[str, str]:
    """Name -> extracted text of each document in a corpus folder, as the indexer reads it."""
    return {p.name: load_document(p, p.name).text for p in iter_corpus_files(corpus)}


def check_set(questions: Path, corpus: Path) -> list[str]:
    """Problems of one question set: spans found in no document, too few questions."""
    texts = [normalize_space(t) for t in corpus_texts(corpus).values()]
    problems, counts = [], {"answerable": 0, "near": 0, "far": 0}
    for number, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        gold = item.get("gold") or []
        counts["answerable" if gold else item.get("kind", "far")] += 1
        for span in gold:
            if not any(normalize_space(span) in text for text in texts):
                problems.append(f"{questions}:{number}: gold span not in the text: {span!r}")
    print(f"{questions}: {counts['answerable']} answerable, {counts['near']} near, {counts['far']} far")
    if counts["answerable"] < MIN_ANSWERABLE or counts["near"] + counts["far"] < MIN_UNANSWERABLE:
        problems.append(
            f"{questions}: needs >= {MIN_ANSWERABLE} answerable and >= {MIN_UNANSWERABLE} unanswerable questions"
        )
    return problems


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    problems = []
    for questions, corpus in zip(argv[::2], argv[1::2]):
        problems += check_set(Path(questions), Path(corpus))
    print("\n".join(problems) or "all gold spans found")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
