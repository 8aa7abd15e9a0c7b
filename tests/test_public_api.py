"""The package roots are the front door: ``from bot import Bot`` and ``from indexer import ...``
work, list their names in ``__all__``, and importing them loads no model or vector library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import bot
import indexer

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sentence_transformers", "faiss", "gradio", "pymilvus", "onnxruntime", "transformers")


def _imported_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(__import__('json').dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", [bot, indexer], ids=["bot", "indexer"])
def test_every_public_name_is_importable_from_the_package_root(package):
    assert package.__all__, "the package root lists its public names"
    for name in package.__all__:
        value = getattr(package, name)
        assert value is not None
        assert name in dir(package)


def test_the_names_the_readme_uses_come_from_the_package_roots():
    from bot import Answer, Bot, Passage
    from bot.answer import Answer as AnswerClass
    from indexer import Chunk, Document, Embedder, Settings, VectorStore, open_store
    from indexer.stores.factory import open_store as factory_open_store

    assert Answer is AnswerClass and open_store is factory_open_store
    assert {Bot.__name__, Passage.__name__, Chunk.__name__, Document.__name__} == {
        "Bot",
        "Passage",
        "Chunk",
        "Document",
    }
    assert Embedder.from_settings(Settings()).name == Settings().model
    assert issubclass(type(open_store("faiss", index_dir=ROOT / "no-such-index")), VectorStore)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Bott'"):
        bot.Bott  # noqa: B018


def test_importing_the_package_roots_and_their_classes_loads_nothing_heavy():
    assert _imported_after("import bot, indexer") == []
    assert (
        _imported_after(
            "from bot import Bot, Answer, Passage\n"
            "from indexer import Settings, Embedder, open_store, build_corpus, add_files, Chunk, Document"
        )
        == []
    )
