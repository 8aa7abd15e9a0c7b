"""Configuration: one flag table shared by every command, flags over environment over
defaults, and defaults relative to the working directory."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from bot.__main__ import build_parser as bot_parser
from indexer.__main__ import build_parser as indexer_parser
from indexer.settings import SETTING_FLAGS, Settings, quiet_cli_environment, settings_from_args
from quotebot_app import console
from quotebot_app.cli import build_parser as app_parser

# A value for every setting that differs from its default: (flag arguments, expected value).
GIVEN = {
    "corpus_dir": (["--corpus", "docs"], Path("docs")),
    "index_dir": (["--index", "idx"], Path("idx")),
    "model": (["--model", "other-model"], "other-model"),
    "device": (["--device", "cpu"], "cpu"),
    "backend": (["--backend", "onnx-int8"], "onnx-int8"),
    "store": (["--store", "milvus"], "milvus"),
    "uri": (["--uri", "x.db"], "x.db"),
    "index_type": (["--index-type", "hnsw"], "hnsw"),
    "k": (["--k", "5"], 5),
    "passage_chars": (["--quote-chars", "300"], 300),
    "min_score": (["--min-score", "0.4"], 0.4),
    "host": (["--host", "0.0.0.0"], "0.0.0.0"),
    "port": (["--port", "8000"], 8000),
    "max_question_chars": (["--max-question-chars", "50"], 50),
    "max_upload_mb": (["--max-file-mb", "0.5"], 0.5),
    "max_upload_files": (["--max-upload-files", "3"], 3),
    "read_only": (["--read-only"], True),
    "feedback_path": (["--feedback", "votes.jsonl"], Path("votes.jsonl")),
    "max_document_chars": (["--max-document-chars", "1000"], 1000),
    "max_document_passages": (["--max-document-passages", "10"], 10),
    "max_parse_seconds": (["--max-parse-seconds", "2.5"], 2.5),
}

COMMANDS = {
    "indexer build": (indexer_parser, ["build"]),
    "indexer add": (indexer_parser, ["add", "a.txt"]),
    "indexer remove": (indexer_parser, ["remove", "a.txt"]),
    "indexer list": (indexer_parser, ["list"]),
    "bot ask": (bot_parser, ["ask", "why?"]),
    "bot eval": (bot_parser, ["eval", "set.jsonl"]),
    "app": (app_parser, []),
}


def test_the_table_covers_every_setting():
    assert {row.field for row in SETTING_FLAGS} == set(GIVEN) == set(Settings.__dataclass_fields__)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_every_setting_as_a_flag(command):
    make, words = COMMANDS[command]
    argv = words + [arg for args, _ in GIVEN.values() for arg in args]
    settings = settings_from_args(make().parse_args(argv), env={})
    for field, (_, expected) in GIVEN.items():
        assert getattr(settings, field) == expected, field


def test_a_flag_overrides_the_environment_which_overrides_the_default():
    env = {"QUOTEBOT_K": "4", "QUOTEBOT_INDEX": "from-env"}
    assert settings_from_args(bot_parser().parse_args(["ask", "q", "--k", "2"]), env=env).k == 2
    from_env = settings_from_args(bot_parser().parse_args(["ask", "q"]), env=env)
    assert (from_env.k, from_env.index_dir) == (4, Path("from-env"))
    assert settings_from_args(argparse.Namespace(), env={}) == Settings()


def test_limits_and_read_only_come_from_the_environment():
    settings = Settings.from_env({"QUOTEBOT_MAX_UPLOAD_FILES": "5", "QUOTEBOT_READ_ONLY": "1"})
    assert settings.max_upload_files == 5 and settings.read_only is True
    assert Settings.from_env({"QUOTEBOT_READ_ONLY": "no"}).read_only is False
    assert Settings.from_env({}).max_upload_files == 20
    with pytest.raises(ValueError, match="QUOTEBOT_READ_ONLY"):
        Settings.from_env({"QUOTEBOT_READ_ONLY": "maybe"})


def test_read_only_comes_from_the_flag_or_the_environment():
    parse_args = app_parser().parse_args
    assert settings_from_args(parse_args(["--read-only"]), {}).read_only is True
    assert settings_from_args(parse_args([]), {"QUOTEBOT_READ_ONLY": "1"}).read_only is True
    assert settings_from_args(parse_args([]), {}).read_only is False


def test_default_folders_are_relative_to_the_working_directory():
    defaults = Settings()
    assert (defaults.corpus_dir, defaults.index_dir) == (Path("corpus"), Path("index"))
    assert defaults.feedback_path == Path("feedback/feedback.jsonl")


def test_every_help_text_names_the_default_and_the_variable():
    text = " ".join(app_parser().format_help().split())
    assert "--k N passages per answer (default: 3; $QUOTEBOT_K)" in text
    assert "--max-file-mb MB" in text and "$QUOTEBOT_MAX_UPLOAD_MB" in text
    assert "about 6x faster" in text


def test_commands_run_offline_and_without_a_weights_progress_bar(monkeypatch):
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a variable already set is the user's choice
    quiet_cli_environment()
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and os.environ["HF_HUB_OFFLINE"] == "0"


def test_the_quotebot_command_runs_each_command(tmp_path, capsys):
    assert console.main(["list", "--index", str(tmp_path / "index")]) == 0
    assert "the index holds no documents" in capsys.readouterr().out
    assert console.main(["ask", "--index", str(tmp_path / "index"), "why?"]) == 2
    assert "there is no index" in capsys.readouterr().err
    assert console.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        console.main(["serve", "--help"])
    assert done.value.code == 0 and "usage: quotebot serve" in capsys.readouterr().out
    assert console.main(["--help"]) == 0 and set(console.COMMANDS) <= set(capsys.readouterr().out.split())
