"""All configuration in one place: defaults, then environment variables, then flags.

The three command lines (``python -m indexer``, ``python -m bot``, ``python app.py``, and
``quotebot``) take every setting as a flag through one ``add_settings_flags``, build one
``Settings`` with ``settings_from_args`` and pass it down; nothing deeper reads the environment.
Relative folders are relative to the working directory, as for any command.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .embedding import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL
from .stores import INDEX_TYPES, STORES

if TYPE_CHECKING:
    from .limits import DocumentLimits

__all__ = [
    "PROJECT_ROOT",
    "SETTING_FLAGS",
    "Settings",
    "SettingFlag",
    "add_settings_flags",
    "quiet_cli_environment",
    "settings_from_args",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Environment variable for each setting that may come from the environment.
_ENV = {
    "corpus_dir": "QUOTEBOT_CORPUS",
    "index_dir": "QUOTEBOT_INDEX",
    "model": "QUOTEBOT_MODEL",
    "device": "QUOTEBOT_DEVICE",
    "backend": "QUOTEBOT_BACKEND",
    "store": "QUOTEBOT_STORE",
    "uri": "QUOTEBOT_MILVUS_URI",
    "index_type": "QUOTEBOT_INDEX_TYPE",
    "k": "QUOTEBOT_K",
    "min_score": "QUOTEBOT_MIN_SCORE",
    "passage_chars": "QUOTEBOT_QUOTE_CHARS",
    "host": "QUOTEBOT_HOST",
    "port": "QUOTEBOT_PORT",
    "max_question_chars": "QUOTEBOT_MAX_QUESTION_CHARS",
    "max_upload_mb": "QUOTEBOT_MAX_UPLOAD_MB",
    "max_upload_files": "QUOTEBOT_MAX_UPLOAD_FILES",
    "read_only": "QUOTEBOT_READ_ONLY",
    "feedback_path": "QUOTEBOT_FEEDBACK",
    "max_document_chars": "QUOTEBOT_MAX_DOCUMENT_CHARS",
    "max_document_passages": "QUOTEBOT_MAX_DOCUMENT_PASSAGES",
    "max_parse_seconds": "QUOTEBOT_MAX_PARSE_SECONDS",
}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL
    device: str | None = None  # None: CUDA when present, else CPU
    backend: str = (
        DEFAULT_BACKEND  # how the model runs: onnx-int8 (CPU, the fast default), onnx, or torch (needed for CUDA)
    )
    store: str = "faiss"  # or "milvus"
    uri: str | None = None  # Milvus: a local file (Milvus Lite) or http://host:19530
    index_type: str = "auto"  # one of indexer.stores.INDEX_TYPES
    k: int = 3  # passages shown per answer
    passage_chars: int = 400  # a quote grows around the matched sentences up to this length
    # The cosine a passage must reach to be shown; under it for all, the bot abstains. A property of
    # the model (all-MiniLM-L6-v2), chosen leave-one-document-out on the development documents
    # (docs/quality.md: python -m bench.quality prints the value fitted for a --model).
    min_score: float = 0.331
    host: str = "127.0.0.1"
    port: int = 7860
    max_question_chars: int = 1000
    max_upload_mb: int = 20
    max_upload_files: int = 20  # files in one upload, on the page and at the upload route
    read_only: bool = False  # the page lists documents but offers no upload or removal
    feedback_path: Path = Path("feedback") / "feedback.jsonl"
    # The most work one document may make (indexer.limits): text, passages, seconds to read it.
    max_document_chars: int = 4_000_000
    max_document_passages: int = 25_000
    max_parse_seconds: float = 60.0

    @property
    def max_upload_bytes(self) -> int:
        """The largest document file accepted, by upload, ``add`` or ``build``."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def document_limits(self) -> DocumentLimits:
        from .limits import DocumentLimits

        return DocumentLimits(self.max_document_chars, self.max_document_passages, self.max_parse_seconds)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, overridden by ``QUOTEBOT_*`` variables, overridden by non-None ``overrides``."""
        env = os.environ if env is None else env
        values = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in _ENV.items():
            if env.get(var):
                values[name] = _convert(types[name], env[var], var)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("corpus_dir", "index_dir", "feedback_path"):
            if name in values:
                values[name] = Path(values[name])
        return replace(cls(), **values)


_TRUE = frozenset(["1", "true", "yes", "on"])
_FALSE = frozenset(["0", "false", "no", "off"])


def _convert(type_name: str, raw: str, var: str):
    if type_name == "bool":
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError(f"{var}={raw!r} is not a yes/no value; use 1 or 0")
        return word in _TRUE
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError as err:
        raise ValueError(f"{var}={raw!r} is not a valid {type_name}") from err
    return raw


@dataclass(frozen=True)
class SettingFlag:
    """The command-line flag of one ``Settings`` field."""

    field: str
    flag: str
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    type: Callable[[str], Any] | None = None  # default: the field's own type
    default_text: str | None = None  # how the help shows the default, where the value alone says too little


# One row per setting: every command takes them all, so help texts and the README cannot drift.
SETTING_FLAGS: tuple[SettingFlag, ...] = (
    SettingFlag("corpus_dir", "--corpus", "folder of documents", "DIR"),
    SettingFlag("index_dir", "--index", "index folder (FAISS store)", "DIR"),
    SettingFlag("model", "--model", "sentence-transformers model name or local path; must match the index", "M"),
    SettingFlag(
        "device",
        "--device",
        "where the model (and exact FAISS search) runs",
        choices=("cpu", "cuda"),
        default_text="CUDA with fp16 when a GPU is present, else CPU",
    ),
    SettingFlag(
        "backend",
        "--backend",
        "how the model runs: onnx-int8 (ONNX Runtime on the CPU, about 6x faster per question than torch, "
        "no torch once exported), onnx (fp32), or torch (the reference; needed for a CUDA GPU)",
        choices=BACKENDS,
    ),
    SettingFlag("store", "--store", "vector store", choices=STORES),
    SettingFlag("uri", "--uri", "Milvus URI: a local .db file (Milvus Lite) or http://host:19530", "URI"),
    SettingFlag(
        "index_type",
        "--index-type",
        "index type; auto: exact below 50,000 passages (FAISS) or 100,000 (Milvus), approximate above",
        choices=INDEX_TYPES,
    ),
    SettingFlag("k", "--k", "passages per answer", "N"),
    SettingFlag("passage_chars", "--quote-chars", "a quote grows around its matched sentences up to this length", "N"),
    SettingFlag(
        "min_score",
        "--min-score",
        "the cosine a passage must reach to be shown; under it for all, the bot abstains",
        "X",
    ),
    SettingFlag("host", "--host", "address the page listens on (127.0.0.1: this machine only)", "H"),
    SettingFlag("port", "--port", "port the page listens on", "P"),
    SettingFlag("max_question_chars", "--max-question-chars", "longest question answered", "N"),
    SettingFlag(
        "max_upload_mb",
        "--max-file-mb",
        "refuse document files larger than this many MB (uploads, add, build)",
        "MB",
        type=float,
    ),
    SettingFlag("max_upload_files", "--max-upload-files", "files in one upload on the page", "N"),
    SettingFlag("read_only", "--read-only", "the page lists the documents but offers no upload or removal"),
    SettingFlag(
        "feedback_path", "--feedback", "JSON Lines file of the page's votes and refusals, one line per answer", "FILE"
    ),
    SettingFlag(
        "max_document_chars", "--max-document-chars", "refuse a document whose text is longer (characters)", "N"
    ),
    SettingFlag("max_document_passages", "--max-document-passages", "refuse a document that makes more passages", "N"),
    SettingFlag("max_parse_seconds", "--max-parse-seconds", "stop reading a document after this many seconds", "S"),
)

_TYPES = {"int": int, "float": float}


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """Add a flag for every setting to ``parser``, each help text naming its default and variable.

    Flags default to ``None`` (not given), so that ``settings_from_args`` can tell a flag from
    the environment: flags over ``QUOTEBOT_*`` variables over defaults.
    """
    group = parser.add_argument_group("settings (each overrides its QUOTEBOT_* environment variable)")
    defaults = Settings()
    types = {f.name: f.type for f in fields(Settings)}
    for row in SETTING_FLAGS:
        default = getattr(defaults, row.field)
        shown = row.default_text or ("off" if default is False else ("none" if default is None else default))
        help_text = (
            f"{row.help} (default: {shown}; ${_ENV[row.field]})"
            if row.field in _ENV
            else f"{row.help} (default: {shown})"
        )
        if types[row.field] == "bool":
            group.add_argument(row.flag, dest=row.field, action="store_true", default=None, help=help_text)
            continue
        group.add_argument(
            row.flag,
            dest=row.field,
            default=None,
            metavar=row.metavar,
            choices=row.choices,
            type=row.type or _TYPES.get(types[row.field], str),
            help=help_text,
        )


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """The ``Settings`` of a command line parsed with ``add_settings_flags``."""
    given = {row.field: getattr(args, row.field, None) for row in SETTING_FLAGS}
    return Settings.from_env(None if env is None else dict(env), **given)


def quiet_cli_environment() -> None:
    """What every command sets before it loads anything: offline (the model comes from a package,
    nothing is downloaded), no usage reporting, and no "Loading weights" progress bar on each call
    (the build's own progress bar stays). Variables already set are left as they are."""
    for name, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("GRADIO_ANALYTICS_ENABLED", "False"),
    ):
        os.environ.setdefault(name, value)
