"""The quantisation benchmark's variants: which nodes each leaves in fp32, and that ``current`` is
exactly the int8 file the ``onnx-int8`` backend runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.quantization import VARIANTS, make_variant, variant_options

NODES = [
    "/encoder/embeddings/word_embeddings/Gather",
    *(
        f"/encoder/encoder/layer.{i}/{part}/MatMul"
        for i in range(6)
        for part in ("attention/self/query", "output/dense")
    ),
    "/encoder/encoder/layer.5/intermediate/dense/MatMul",
]


def test_the_ffn_output_variant_keeps_exactly_the_six_ffn_outputs_in_fp32():
    excluded = variant_options("fp32-ffn-out", NODES)["nodes_to_exclude"]
    assert excluded == [f"/encoder/encoder/layer.{i}/output/dense/MatMul" for i in range(6)]
    assert variant_options("fp32-ffn-out-0", NODES)["nodes_to_exclude"] == [
        "/encoder/encoder/layer.0/output/dense/MatMul"
    ]


def test_the_last_layer_variant_keeps_only_layer_5_in_fp32():
    excluded = variant_options("fp32-last-layer", NODES)["nodes_to_exclude"]
    assert excluded and all("layer.5/" in n for n in excluded)
    assert "/encoder/encoder/layer.5/intermediate/dense/MatMul" in excluded


def test_current_is_the_shipped_quantisation_and_unknown_names_fail():
    assert variant_options("current", NODES) == {}
    with pytest.raises(ValueError, match="no quantisation variant 'int4'"):
        variant_options("int4", NODES)
    assert set(VARIANTS) >= {"current", "dynamic", "per-tensor", "reduce-range", "matmul-only", "fp32-ffn-out"}


def test_the_dynamic_variants_go_through_the_old_quantiser_and_the_block_ones_through_the_shipped_one():
    for name in ("dynamic", "per-tensor", "reduce-range", "matmul-only", "fp32-last-layer", "fp32-ffn-out"):
        assert variant_options(name, NODES)["dynamic"] is True, name
    for size in (64, 128, 256):
        assert variant_options(f"blockwise-{size}", NODES) == {"block_size": size}


@pytest.mark.model
def test_the_current_variant_file_is_the_onnx_int8_backends_file(tmp_path: Path):
    from indexer.embedding import ONNX_CACHE, resolve_model
    from indexer.onnx_backend import exported_model

    model_dir = Path(resolve_model("all-MiniLM-L6-v2"))
    shipped = exported_model(model_dir, ONNX_CACHE, quantized=True)
    fp32 = exported_model(model_dir, ONNX_CACHE, quantized=False)
    made = make_variant(fp32, "current", tmp_path)
    assert made.read_bytes() == shipped.read_bytes()
