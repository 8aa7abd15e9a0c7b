"""The default embedding path: ONNX Runtime and the model's own tokenizer, exported once, no torch to answer.

The unit tests here read only the tokenizer files of the installed model package or
replace the export with a stand-in; the ``model`` tests export and run the real model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer import onnx_backend, onnx_export
from indexer.embedding import DEFAULT_MODEL, Embedder, resolve_model
from indexer.onnx_backend import OnnxBackendError, exported_model, load_tokenizer, onnx_cache_key

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sentence_transformers", "transformers", "sklearn")
TEXTS = [
    "What is a muscle spasm?",
    "x",
    "",
    "Naïve café-goers ask: why do CRAMPS happen at night?!",
    "The Congress shall have Power To lay and collect Taxes, Duties, Imposts and Excises " * 20,
]


@pytest.fixture
def model_dir() -> Path:
    return Path(resolve_model(DEFAULT_MODEL))


def test_tokenizer_gives_the_ids_sentence_transformers_feeds_the_model(model_dir: Path) -> None:
    """Same ids, mask and padding as the transformers tokenizer called the way sentence-transformers calls it."""
    transformers = pytest.importorskip(
        "transformers", reason="the reference tokenizer comes with sentence-transformers"
    )
    reference = transformers.AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    expected = reference(TEXTS, padding=True, truncation=True, max_length=256)
    encodings = load_tokenizer(model_dir, 256).encode_batch_fast(TEXTS)
    assert [e.ids for e in encodings] == expected["input_ids"]
    assert [e.attention_mask for e in encodings] == expected["attention_mask"]
    assert max(len(e.ids) for e in encodings) == 256  # the long text is cut at the model's limit, not the file's 128


def test_a_model_without_tokenizer_json_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(OnnxBackendError, match="tokenizer.json.*--backend torch"):
        load_tokenizer(tmp_path, 256)


def _fake_export(calls: list[str], fail: bool = False):
    def export(model_dir: Path, dest: Path) -> None:
        calls.append("export")
        dest.write_bytes(b"fp32 graph")
        if fail:
            raise RuntimeError("export broke half way")

    def quantize(src: Path, dest: Path) -> None:
        calls.append("quantize")
        dest.write_bytes(src.read_bytes() + b" in int8")

    return export, quantize


def test_export_is_made_once_and_moved_into_the_cache_whole(tmp_path: Path, model_dir: Path, monkeypatch) -> None:
    calls: list[str] = []
    export, quantize = _fake_export(calls)
    monkeypatch.setattr(onnx_export, "export_onnx", export)
    monkeypatch.setattr(onnx_export, "quantize_int8", quantize)
    path = exported_model(model_dir, tmp_path, quantized=True)
    assert path == tmp_path / onnx_cache_key(model_dir, True) / "model-int8.onnx"
    assert path.read_bytes() == b"fp32 graph in int8"
    assert calls == ["export", "quantize"]
    assert [p.name for p in path.parent.iterdir()] == ["model-int8.onnx"]  # no temporary folder left
    fp32 = exported_model(model_dir, tmp_path, quantized=False)  # kept, for documents: not exported again
    assert fp32.read_bytes() == b"fp32 graph" and fp32.parent != path.parent
    assert exported_model(model_dir, tmp_path, quantized=True) == path and calls == ["export", "quantize"]


def test_a_failed_export_leaves_nothing_in_the_cache(tmp_path: Path, model_dir: Path, monkeypatch) -> None:
    export, quantize = _fake_export([], fail=True)
    monkeypatch.setattr(onnx_export, "export_onnx", export)
    monkeypatch.setattr(onnx_export, "quantize_int8", quantize)
    with pytest.raises(RuntimeError, match="half way"):
        exported_model(model_dir, tmp_path, quantized=False)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _matmul_graph(path: Path, weight: np.ndarray) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/layer.0/output/dense/MatMul")],
        "one-matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", weight.shape[1]])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_int8_quantisation_scales_weights_and_activations_per_block_of_32(tmp_path: Path) -> None:
    """The shipped question model: MatMulNBits, 8 bits, blocks of 32, int8 products; near fp32, not equal."""
    import onnx
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(384, 256)).astype(np.float32)
    weight[0, 0] = 40.0  # one outlier: per-tensor scales would coarsen every other weight
    _matmul_graph(tmp_path / "fp32.onnx", weight)
    onnx_export.quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    nodes = onnx.load(str(tmp_path / "int8.onnx")).graph.node
    assert [n.op_type for n in nodes] == ["MatMulNBits"]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in nodes[0].attribute}
    assert (attributes["bits"], attributes["block_size"], attributes["accuracy_level"]) == (8, 32, 4)
    x = rng.normal(size=(5, 384)).astype(np.float32)
    run = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"]).run
    got, want = run(None, {"x": x})[0], x @ weight
    cosine = (got * want).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() > 0.999 and not np.allclose(got, want, atol=1e-4)


def test_a_change_of_quantisation_makes_a_new_int8_file_but_keeps_the_fp32_export(model_dir: Path, monkeypatch) -> None:
    fp32, int8 = onnx_cache_key(model_dir, False), onnx_cache_key(model_dir, True)
    monkeypatch.setattr(onnx_backend, "INT8_VERSION", "another quantisation")
    assert onnx_cache_key(model_dir, False) == fp32
    assert onnx_cache_key(model_dir, True) != int8


def test_an_unwritable_cache_says_what_to_do(tmp_path: Path, model_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OnnxBackendError, match="make it writable or use --backend torch"):
        exported_model(model_dir, blocker / "cache", quantized=True)


def test_the_default_backend_is_the_onnx_int8_one() -> None:
    from indexer.settings import Settings

    assert onnx_backend.DEFAULT_BACKEND == "onnx-int8"
    assert Settings().backend == "onnx-int8"


@pytest.mark.model
def test_onnx_int8_embeds_documents_in_fp32_and_questions_in_int8(tmp_path: Path) -> None:
    embedder = Embedder(backend="onnx-int8", cache_dir=tmp_path)
    fp32 = Embedder(backend="onnx", cache_dir=tmp_path)
    np.testing.assert_allclose(embedder.encode_documents(TEXTS), fp32.encode(TEXTS), atol=1e-5)
    questions = embedder.encode(TEXTS)
    assert not np.allclose(questions, fp32.encode(TEXTS), atol=1e-3)  # the int8 graph, not the fp32 one
    assert float((questions * fp32.encode(TEXTS)).sum(axis=1).min()) >= 0.95
    assert sorted(p.name for p in tmp_path.rglob("*.onnx")) == ["model-int8.onnx", "model.onnx"]


@pytest.mark.model
def test_bulk_encoding_on_several_workers_keeps_the_input_order(tmp_path: Path) -> None:
    embedder = Embedder(backend="onnx-int8", threads=3, batch_size=2)
    together = embedder.encode(TEXTS * 3)
    alone = np.concatenate([embedder.encode([t]) for t in TEXTS])
    # each row is its own text's vector (int8 activations are quantised per batch, so the company
    # a text keeps moves its vector a little, most for the shortest texts)
    assert np.argmax(together @ alone.T, axis=1).tolist() == list(range(len(TEXTS))) * 3
    assert float((together * np.tile(alone, (3, 1))).sum(axis=1).min()) >= 0.95


def _imported_modules(importtime_stderr: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", importtime_stderr, re.M)}


@pytest.mark.model
def test_answering_with_the_default_backend_imports_neither_torch_nor_sentence_transformers(
    tmp_path, small_corpus
) -> None:
    """``python -m bot ask`` on a built index, in a fresh process: ONNX Runtime and tokenizers only."""
    from indexer.build import build_corpus
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore

    settings = Settings(index_dir=tmp_path / "index", corpus_dir=small_corpus)
    embedder = Embedder(settings.model, backend=settings.backend)  # the default; exports here if this machine never did
    build_corpus(small_corpus, FaissStore(settings.index_dir), embedder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "bot",
            "ask",
            "what helps a leg cramp?",
            "--index",
            str(settings.index_dir),
            "--corpus",
            str(small_corpus),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Stretching the calf gently" in proc.stdout
    modules = _imported_modules(proc.stderr)
    assert {"onnxruntime", "tokenizers", "bot.bot"} <= modules  # the parse saw the question path
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []


def test_a_missing_quantiser_dependency_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def without_onnx_ir(name, *args, **kwargs):
        if name.startswith("onnxruntime.quantization.matmul_nbits_quantizer"):
            raise ModuleNotFoundError("No module named 'onnx_ir'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnx_ir)
    with pytest.raises(OnnxBackendError, match="onnx-ir.*pip install -e .*--backend onnx"):
        onnx_export.quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
