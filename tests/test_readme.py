"""The README is true: every command it shows answers --help and has every flag the README gives
it, every setting of the configuration table is a flag of every command, and its tree names the
project's modules."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

SUBCOMMANDS = {
    "indexer": ("build", "add", "remove", "list"),
    "bot": ("ask", "eval"),
    "quotebot": ("serve", "ask", "eval", "build", "add", "remove", "list"),
}
_INVOCATION = re.compile(
    r"(?:python (?:-m (?P<module>[\w.]+)|(?P<app>app\.py))|(?P<quotebot>quotebot)(?= ))(?P<rest>[^`\n]*)"
)
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _main(module: str):
    """The ``main(argv)`` of a documented command, imported when first asked for."""
    if module == "app.py":
        import app

        return app.main
    if module == "quotebot":
        from quotebot_app.console import main

        return main
    import importlib

    name = {"indexer": "indexer.__main__", "bot": "bot.__main__", "bench": "bench.__main__"}.get(module, module)
    return importlib.import_module(name).main


def documented_invocations() -> list[tuple[str, str, tuple[str, ...]]]:
    """(command, subcommand or "", flags written after it) for every command line in the README."""
    found = []
    for match in _INVOCATION.finditer(README):
        module = match["module"] or match["app"] or match["quotebot"]
        words = match["rest"].split()
        sub = words[0] if module in SUBCOMMANDS and words and words[0] in SUBCOMMANDS[module] else ""
        if module in SUBCOMMANDS and not sub:
            continue  # prose such as "python -m indexer …" names the tool, not a command line
        found.append((module, sub, tuple(_FLAG.findall(match["rest"].split("#")[0]))))
    return found


@cache
def help_text(module: str, sub: str) -> str:
    """What ``<command> [sub] --help`` prints, run through the command's own ``main``."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        _main(module)([sub, "--help"] if sub else ["--help"])
    assert done.value.code == 0, f"{module} {sub} --help exited with {done.value.code}"
    return out.getvalue()


def _has_flag(help_output: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_output) is not None


def test_the_readme_shows_the_commands_people_run():
    commands = {(module, sub) for module, sub, _ in documented_invocations()}
    assert {("indexer", "build"), ("bot", "ask"), ("app.py", ""), ("quotebot", "serve"), ("bench", "")} <= commands


@pytest.mark.parametrize(
    "module,sub", sorted({(module, sub) for module, sub, _ in documented_invocations()}), ids=lambda v: v or "-"
)
def test_every_documented_command_answers_help_with_every_flag_the_readme_gives_it(module, sub):
    output = help_text(module, sub)
    assert output.startswith("usage:")
    documented = {flag for m, s, flags in documented_invocations() if (m, s) == (module, sub) for flag in flags}
    missing = sorted(flag for flag in documented if not _has_flag(output, flag))
    assert not missing, f"the README gives {module} {sub} flags it does not have: {missing}"


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def test_every_flag_of_the_configuration_tables_is_a_flag_of_every_command():
    rows = [
        line
        for title in ("Configuration", "Your own documents", "Beyond one machine: Milvus")
        for line in _section(title).splitlines()
        if line.startswith("|")
    ]
    flags = {flag for row in rows for flag in _FLAG.findall(row)}
    assert {"--corpus", "--index", "--k", "--backend", "--max-file-mb", "--read-only", "--store", "--uri"} <= flags
    for module, sub in [("indexer", "build"), ("indexer", "add"), ("bot", "ask"), ("bot", "eval"), ("app.py", "")]:
        missing = sorted(flag for flag in flags if not _has_flag(help_text(module, sub), flag))
        assert not missing, f"{module} {sub} lacks {missing}"


def _tree_paths() -> set[str]:
    """The files and folders the README's tree names, as paths from the project root."""
    block = _section("How it works").split("```")[1]
    paths, parents = set(), {}
    for line in block.strip("\n").splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.split(r"\s{2,}", line.strip())[0]
        for name in names.split(", "):
            path = parents.get(indent - 2, "") + name
            paths.add(path.rstrip("/"))
            if name.endswith("/"):
                parents[indent] = path
    return paths


def test_the_readme_tree_names_every_module_and_only_files_that_exist():
    named = _tree_paths()
    modules = {
        p.relative_to(ROOT).as_posix()
        for folder in ("indexer", "bot", "quotebot_app")
        for p in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in p.parts and p.name != "__init__.py"  # a package's front door may go unnamed
    }
    assert not sorted(modules - named), f"modules missing from the README's tree: {sorted(modules - named)}"
    assert not [p for p in named if not (ROOT / p).exists()], "the README's tree names files that do not exist"
