"""Command line: ``python -m bot ask`` and ``python -m bot eval``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from indexer.embedding import ModelNotFound
from indexer.onnx_backend import OnnxBackendError
from indexer.settings import add_settings_flags, quiet_cli_environment, settings_from_args
from indexer.stores import IndexProblem

from .answer import Answer
from .bot import Bot
from .evaluation import evaluate, load_eval_set


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_settings_flags(parser)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m bot", description="Answer questions by quoting the documents."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a question (or one per line from standard input)")
    ask.add_argument("question", nargs="?", help="the question; omit to read questions from standard input")
    _common(ask)
    ev = sub.add_parser("eval", help="measure answer quality on a JSON Lines question set")
    ev.add_argument("file", type=Path, help='JSON Lines: {"q": ..., "gold": ["exact span", ...]} or {"q": ...}')
    _common(ev)
    return parser


def format_answer(answer: Answer) -> str:
    if answer.abstained:
        lines = [answer.message]
        if answer.suggestions:
            lines.append("Questions it can answer: " + " | ".join(answer.suggestions))
    else:
        lines = []
        for n, p in enumerate(answer.passages, 1):
            lines.append(f"[{n}] {p.title} ({p.source}, {p.location}; relevance {p.relevance})")
            lines.append("    “" + " ".join(p.text.split()) + "”")
    if answer.notice:
        lines.append(answer.notice)
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    quiet_cli_environment()
    args = build_parser(prog).parse_args(argv)
    try:
        settings = settings_from_args(args)
        bot = Bot.load(settings)
        if args.command == "eval":
            report, _ = evaluate(lambda q, h: bot.ask(q, h), load_eval_set(args.file), k=settings.k)
            print(json.dumps(report.to_dict(), indent=1) if args.json else report.table())
            return 0
        questions = [args.question] if args.question is not None else (line.rstrip("\n") for line in sys.stdin)
        for question in questions:
            if args.question is None and not question.strip():
                continue
            answer = bot.ask(question)
            if args.json:
                print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(format_answer(answer) + "\n", flush=True)
    except (IndexProblem, ModelNotFound, OnnxBackendError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
