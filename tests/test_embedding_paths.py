"""The embedding paths other than the plain CPU one: length-sorted pipelined encoding (used on
CUDA) and the ONNX Runtime backends. The GPU itself is not needed: the pipeline is
checked on the CPU, where it must give the same vectors, in input order, as plain encoding.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from indexer.embedding import Embedder, encode_pipelined, length_sorted_batches, make_tokenize

torch = pytest.importorskip("torch", reason="torch is a core dependency; this environment lacks it")

TEXTS = [
    "What is a muscle spasm?",
    "x",
    "A leg cramp is a sudden painful tightening of the calf muscle that usually passes within minutes.",
    "",
    "Stretching helps.",
    "The Congress shall have Power To lay and collect Taxes, Duties, Imposts and Excises " * 6,
    "Why do cramps happen at night?",
]


def test_length_sorted_batches_cover_every_index_once_longest_first() -> None:
    batches = length_sorted_batches(TEXTS, 3)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(TEXTS)))
    assert [len(b) for b in batches] == [3, 3, 1]
    lengths = [len(TEXTS[i]) for i in flat]
    assert lengths == sorted(lengths, reverse=True)
    with pytest.raises(ValueError):
        length_sorted_batches(TEXTS, 0)


def _fake_tokenize(batch: list[str]) -> dict:
    """Encodes each text as its length and its first character, padded like a real tokenizer would be."""
    return {
        "length": torch.tensor([[len(t)] for t in batch], dtype=torch.float32),
        "first": torch.tensor([[ord(t[0]) if t else 0] for t in batch], dtype=torch.float32),
    }


def _fake_forward(features: dict):
    return torch.cat([features["length"] + 1.0, features["first"] + 1.0], dim=1)


def test_pipelined_encoding_returns_vectors_in_input_order() -> None:
    vectors = encode_pipelined(TEXTS, _fake_tokenize, _fake_forward, batch_size=2, workers=3, prefetch=2)
    expected = np.array([[len(t) + 1.0, (ord(t[0]) if t else 0) + 1.0] for t in TEXTS], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_pipelined_encoding_tokenizes_off_the_calling_thread() -> None:
    seen = set()

    def tokenize(batch):
        seen.add(threading.current_thread().name)
        return _fake_tokenize(batch)

    encode_pipelined(TEXTS, tokenize, _fake_forward, batch_size=1, workers=2)
    assert seen and all(name.startswith("tokenize") for name in seen)


def test_pipelined_encoding_of_nothing_is_empty() -> None:
    assert encode_pipelined([], _fake_tokenize, _fake_forward, batch_size=4).shape[0] == 0


def test_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="torch, onnx, onnx-int8"):
        Embedder(backend="tensorrt")


def test_gpu_batches_are_large_and_cpu_batches_small_unless_set() -> None:
    assert Embedder(device="cuda").batch_size >= 256
    assert Embedder(device="cpu").batch_size == 64
    assert Embedder(device="cuda", batch_size=8).batch_size == 8


@pytest.mark.model
def test_pipelined_encoding_equals_plain_encoding_with_the_real_model() -> None:
    embedder = Embedder(device="cpu")
    plain = embedder.encode(TEXTS)
    model = embedder._model
    piped = encode_pipelined(
        TEXTS,
        make_tokenize(model.tokenizer, model.max_seq_length),
        lambda f: model(f)["sentence_embedding"],
        batch_size=3,
    )
    np.testing.assert_allclose(piped, plain, atol=1e-5)


@pytest.mark.model
@pytest.mark.parametrize("backend, min_cosine", [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_backends_give_nearly_the_same_unit_vectors(backend: str, min_cosine: float, tmp_path) -> None:
    pytest.importorskip(
        "onnxruntime", reason="the onnx backends need the optional onnxruntime package (pip install -e .[onnx])"
    )
    reference = Embedder(device="cpu").encode(TEXTS)
    embedder = Embedder(backend=backend, cache_dir=tmp_path)
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float((vectors * reference).sum(axis=1).min()) >= min_cosine
    assert embedder.dimension == reference.shape[1]
    # the export is cached: a second embedder loads the same file without exporting again
    files = sorted(
        p.name for p in tmp_path.rglob("*.onnx")
    )  # int8 is quantised from the fp32 export, kept for documents
    assert files == (["model-int8.onnx", "model.onnx"] if backend == "onnx-int8" else ["model.onnx"])


def test_backend_is_configured_by_flag_or_environment_and_reaches_the_embedder(tmp_path, small_corpus) -> None:
    from bot.__main__ import build_parser as bot_parser
    from bot.bot import Bot
    from indexer.__main__ import build_parser as indexer_parser
    from indexer.build import build_corpus
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore
    from tests.fakes import FakeEmbedder

    assert bot_parser().parse_args(["ask", "why?", "--backend", "onnx-int8"]).backend == "onnx-int8"
    assert indexer_parser().parse_args(["build", "--backend", "onnx"]).backend == "onnx"
    with pytest.raises(SystemExit):
        bot_parser().parse_args(["ask", "why?", "--backend", "tensorrt"])
    assert Settings.from_env(env={"QUOTEBOT_BACKEND": "onnx"}).backend == "onnx"
    assert Settings.from_env(env={}).backend == "onnx-int8"  # the fast path is the default
    # an index made under the default model's name, so that Bot.load accepts it without loading any model
    build_corpus(small_corpus, FaissStore(tmp_path / "index"), FakeEmbedder(name="all-MiniLM-L6-v2"))
    bot = Bot.load(Settings.from_env(env={}, index_dir=tmp_path / "index", backend="onnx-int8"))
    assert bot.embedder.backend == "onnx-int8" and bot.embedder._model is None
