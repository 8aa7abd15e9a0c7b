"""The ``quotebot`` command: one entry point for every command, beside ``python -m``.

    quotebot serve [flags]              python app.py [flags]
    quotebot ask|eval ...               python -m bot ask|eval ...
    quotebot build|add|remove|list ...  python -m indexer build|add|remove|list ...
    quotebot feedback [flags]           python -m quotebot_app.feedback [flags]

Each command is imported only when it runs, so ``quotebot ask`` never imports Gradio.
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence

__all__ = ["COMMANDS", "main"]


def _serve(argv: list[str]) -> int:
    import app

    return app.main(argv, prog="quotebot serve")


def _bot(command: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        from bot.__main__ import main as bot_main

        return bot_main([command, *argv], prog="quotebot")

    return run


def _feedback(argv: list[str]) -> int:
    from quotebot_app.feedback import main as feedback_main

    return feedback_main(argv, prog="quotebot feedback")


def _indexer(command: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        from indexer.__main__ import main as indexer_main

        return indexer_main([command, *argv], prog="quotebot")

    return run


COMMANDS: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "serve": ("serve the chat page (python app.py)", _serve),
    "ask": ("answer a question, or one per line from standard input (python -m bot ask)", _bot("ask")),
    "eval": ("measure answer quality on a JSON Lines question set (python -m bot eval)", _bot("eval")),
    "build": (
        "index every document of the corpus folder, only what changed (python -m indexer build)",
        _indexer("build"),
    ),
    "add": ("copy documents into the corpus folder and index them (python -m indexer add)", _indexer("add")),
    "remove": ("take documents out of the index and the corpus folder (python -m indexer remove)", _indexer("remove")),
    "list": ("list the indexed documents (python -m indexer list)", _indexer("list")),
    "feedback": ("the questions marked unhelpful and those refused, most frequent first", _feedback),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {about}" for name, (about, _) in COMMANDS.items())
    return (
        f"usage: quotebot {{{','.join(COMMANDS)}}} [flags]\n\n"
        f"A chatbot that answers questions by quoting its sources.\n\ncommands:\n{rows}\n\n"
        "quotebot COMMAND --help lists a command's flags."
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"quotebot: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return command[1](args[1:])


if __name__ == "__main__":
    sys.exit(main())
