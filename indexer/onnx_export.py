"""Export the bundled sentence-transformers model to ONNX, once, and quantise it to int8.

This is the only part of the ONNX path that needs PyTorch and sentence-transformers:
it runs the first time a machine uses an ``onnx`` backend (about 5 s), and the file
it writes is then loaded by ``onnx_backend.OnnxEncoder`` with ONNX Runtime alone.
Nothing is downloaded: the export traces the installed model.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

from .onnx_backend import ONNX_INPUTS, OnnxBackendError

__all__ = ["export_onnx", "quantize_dynamic_int8", "quantize_int8"]

OPSET = 17


def _check_architecture(model) -> None:
    """Refuse models whose pooling our exported graph would not reproduce."""
    names = [type(module).__name__ for module in model]
    if not names or names[0] != "Transformer" or any(n not in {"Transformer", "Pooling", "Normalize"} for n in names):
        raise OnnxBackendError(
            f"the onnx backends support Transformer + Pooling models only, this one is {names}; use --backend torch"
        )
    pooling = [m for m in model if type(m).__name__ == "Pooling"]
    if pooling and getattr(pooling[0], "pooling_mode_mean_tokens", True) is not True:
        raise OnnxBackendError("the onnx backends support mean pooling only; use --backend torch")


def export_onnx(model_dir: Path, dest: Path) -> None:
    """Export the sentence-transformers model at ``model_dir`` (Transformer + mean pooling) to ``dest``.

    The graph includes pooling and normalisation, so it maps token ids straight to
    unit vectors. ``dest`` should be in a private folder: the caller moves the
    finished file into the shared cache in one rename.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    _check_architecture(model)
    bert = model[0].auto_model.eval()

    class _Pooled(torch.nn.Module):
        def __init__(self, encoder) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    sample = model.tokenizer(["an example", "a somewhat longer example sentence"], padding=True, return_tensors="pt")
    if "token_type_ids" not in sample:
        raise OnnxBackendError(
            "the onnx backends need a tokenizer with token type ids (BERT-style); use --backend torch"
        )
    axes = {name: {0: "batch", 1: "tokens"} for name in ONNX_INPUTS} | {"sentence_embedding": {0: "batch"}}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about constant shapes; the tests compare outputs
        torch.onnx.export(
            _Pooled(bert),
            tuple(sample[name] for name in ONNX_INPUTS),
            str(dest),
            input_names=list(ONNX_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def quantize_dynamic_int8(
    src: Path,
    dest: Path,
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    nodes_to_exclude: Sequence[str] = (),
    op_types: Sequence[str] | None = None,
) -> None:
    """Dynamic int8 quantisation (weights per channel, symmetric), as sentence-transformers' ``avx512_vnni``.

    The ``onnx-int8`` backend's question model until the fifth session, kept for the benchmark
    (``python -m bench.quantization``), whose variants are its keyword arguments (nodes left in
    fp32, per-tensor scales, 7-bit ranges). Each activation tensor gets one scale at run time,
    which moved one or two answers on 6 of the 13 development documents.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # "consider pre-processing" advice, logged on the root logger
    try:
        quantize_dynamic(
            str(src),
            str(dest),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
            nodes_to_exclude=list(nodes_to_exclude),
            op_types_to_quantize=list(op_types) if op_types else None,
            extra_options={
                "WeightSymmetric": True,
                "ActivationSymmetric": False,
                "DefaultTensorType": onnx.TensorProto.FLOAT,
            },
        )
    finally:
        root.setLevel(level)


def quantize_int8(src: Path, dest: Path, *, block_size: int = 32, accuracy_level: int = 4) -> None:
    """The ``onnx-int8`` question model: int8 weights with one scale per ``block_size`` weights
    (ONNX Runtime's ``MatMulNBits``), the embeddings' lookup table left in fp32.

    Why blocks: dynamic quantisation (``quantize_dynamic_int8``) gives each activation tensor one
    scale, so one large value coarsens the whole tensor. Here the activations are quantised per
    block of ``block_size`` values along the inner dimension (``accuracy_level`` 4: int8
    products, as fast as VNNI allows; 0 would keep fp32 products, about five times slower).
    Over the 979 development questions the cosine to the fp32 vector is 0.9997 on average
    against 0.9943, at about 1.5 times the dynamic model's time and 0.75 times fp32's
    (``python -m bench.quantization``, docs/performance.md).
    """
    import logging

    import onnx

    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
    except ImportError as err:  # onnx-ir (a dependency of quotebot) missing, or an older ONNX Runtime
        raise OnnxBackendError(
            f"making the int8 question model needs ONNX Runtime >= 1.32 and onnx-ir ({err}); reinstall with "
            "pip install -e . (or pip install -U onnxruntime onnx-ir), or use --backend onnx"
        ) from err

    logger = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))  # one INFO line per node it leaves alone
    try:
        config = DefaultWeightOnlyQuantConfig(
            block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level, bits=8
        )
        quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(dest), use_external_data_format=False)
    finally:
        logger.setLevel(level)
