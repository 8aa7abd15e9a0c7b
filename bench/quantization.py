"""Int8 variants of the question model, against fp32 and torch: fidelity, speed, answers per document.

    python -m bench.quantization [--variants current,fp32-ffn-out,...] [--sets muscle,faq,...] [--no-answers]

Under ``onnx-int8`` documents are embedded with the fp32 export (the same vectors as torch)
and questions with an int8 file quantised from it. Each variant here is another int8 file
made from the same fp32 export: ``onnx_export.quantize_int8`` (the shipped one: a scale per
block of weights and of activations) with other block sizes, or ``quantize_dynamic_int8`` (the
default until the fifth session: one scale per activation tensor) with its options: scales per
channel or per tensor, 7-bit ranges, some MatMuls left in fp32. For every development set
(``bench.devsets``) an fp32 document index is built once and cached, then:

- fidelity: each question embedded one at a time (as the bot does) by the fp32 export and
  each variant, alternating question by question; the cosine to the fp32 vector, whether the
  nearest chunk and the top-3 set are the same, and the median encode time on one thread;
- answers: the bot (default refusal bar) asked every question with its question vectors from
  torch (the reference), the fp32 export and each variant; hit@1, hit@3 and correct refusals
  as a change in questions against torch, per document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bot.bot import Bot
from bot.evaluation import evaluate, load_eval_set
from indexer.embedding import ONNX_CACHE, Embedder, resolve_model
from indexer.onnx_backend import INT8_VERSION, OnnxEncoder, exported_model
from indexer.settings import PROJECT_ROOT, Settings

from .devsets import CachingEmbedder, DevSet, build_index, discover_sets

__all__ = ["VARIANTS", "make_variant", "variant_options"]

CACHE = PROJECT_ROOT / ".cache" / "quantization"
_FFN_OUT = r"layer\.\d+/output/dense/MatMul$"
_DYNAMIC = {"dynamic": True}  # onnx_export.quantize_dynamic_int8 rather than the shipped quantize_int8
# name -> (what it is, options for quantize_int8 given the fp32 graph's node names)
VARIANTS: dict[str, tuple[str, Callable[[list[str]], dict]]] = {
    "current": ("int8 now: one scale per 32 weights and per 32 activations", lambda nodes: {}),
    "blockwise-64": ("int8, one scale per 64 values", lambda nodes: {"block_size": 64}),
    "blockwise-128": ("int8, one scale per 128 values", lambda nodes: {"block_size": 128}),
    "blockwise-256": ("int8, one scale per 256 values", lambda nodes: {"block_size": 256}),
    "dynamic": ("dynamic int8, per channel, symmetric weights (the default until session 5)", lambda nodes: _DYNAMIC),
    "per-tensor": ("dynamic, one scale per weight tensor", lambda nodes: _DYNAMIC | {"per_channel": False}),
    "reduce-range": ("dynamic, per channel, 7-bit weights", lambda nodes: _DYNAMIC | {"reduce_range": True}),
    "matmul-only": (
        "dynamic, MatMul only (the embeddings' Gather in fp32)",
        lambda nodes: _DYNAMIC | {"op_types": ["MatMul"]},
    ),
    "fp32-last-layer": (
        "dynamic, last layer in fp32",
        lambda nodes: _DYNAMIC | {"nodes_to_exclude": [n for n in nodes if "layer.5/" in n]},
    ),
    "fp32-ffn-out": (
        "dynamic, the FFN output MatMuls in fp32",
        lambda nodes: _DYNAMIC | {"nodes_to_exclude": [n for n in nodes if re.search(_FFN_OUT, n)]},
    ),
    "fp32-ffn-out-0": (
        "dynamic, layer 0's FFN output MatMul in fp32",
        lambda nodes: (
            _DYNAMIC | {"nodes_to_exclude": [n for n in nodes if re.search(r"layer\.0/output/dense/MatMul$", n)]}
        ),
    ),
}


def variant_options(name: str, node_names: Sequence[str]) -> dict:
    """``quantize_int8`` keyword arguments of the variant ``name`` for a graph with these node names."""
    if name not in VARIANTS:
        raise ValueError(f"no quantisation variant {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[name][1](list(node_names))


def make_variant(fp32: Path, name: str, folder: Path) -> Path:
    """The variant's ONNX file in ``folder`` (made from ``fp32`` when missing)."""
    import onnx

    from indexer.onnx_export import quantize_dynamic_int8, quantize_int8

    nodes = [n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node]
    options = dict(variant_options(name, nodes))
    # named by what it is, so a variant whose meaning changes (``current``) is made again
    tag = hashlib.sha256(json.dumps([INT8_VERSION, options], sort_keys=True).encode()).hexdigest()[:8]
    dest = folder / f"{fp32.parent.name}-{name}-{tag}.onnx"
    if not dest.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp.onnx")
        if options.pop("dynamic", False):
            quantize_dynamic_int8(fp32, tmp, **options)
        else:
            quantize_int8(fp32, tmp, **options)
        tmp.replace(dest)
    return dest


class _Wrapped:
    """An embedder over one ONNX file: questions one text per call, as the bot asks them (``alone``;
    dynamic int8 results depended on the batch), or documents batched as the indexer batches them."""

    def __init__(self, encoder: OnnxEncoder, name: str, *, alone: bool) -> None:
        self.encoder, self.name, self.dimension, self.alone = encoder, name, encoder.dimension, alone

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not self.alone or not texts:
            return self.encoder.encode(texts)
        return np.concatenate([self.encoder.encode([t]) for t in texts])


def _indexes(sets: Sequence[DevSet], model: str, cache: Path, log, documents=None, tag: str = "onnx") -> dict:
    """A document index per set, cached: by default fp32 (the vectors ``onnx-int8`` gives documents)."""
    embedder = CachingEmbedder(documents or Embedder(model, backend="onnx"), memo_dir=cache, backend=tag)
    stores = {}
    for s in sets:
        started = time.perf_counter()
        stores[s.slug] = build_index(s.slug, s.documents(), embedder, cache, tag)
        log(f"{s.slug} ({tag}): {stores[s.slug].count()} chunks ({time.perf_counter() - started:.1f} s)")
    return stores


def fidelity(encoders: dict[str, OnnxEncoder], questions: dict[str, list[str]], stores: dict) -> list[dict]:
    """Per encoder: median ms a question, cosine to fp32 (mean, min), same nearest chunk, same top-3 set."""
    vectors: dict[str, dict[str, np.ndarray]] = {name: {} for name in encoders}
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    for q in [q for qs in questions.values() for q in qs]:
        for name, encoder in encoders.items():  # alternating: a busy spell falls on every variant alike
            started = time.perf_counter()
            vectors[name][q] = encoder.encode([q])[0]
            seconds[name].append(time.perf_counter() - started)
    chunks = {slug: store.get_vectors([c.id for c in store.all_chunks()]) for slug, store in stores.items()}
    rows = []
    for name in encoders:
        cosines, top1, top3 = [], [], []
        for slug, qs in questions.items():
            for q in qs:
                ref, got = vectors["fp32"][q], vectors[name][q]
                cosines.append(float(ref @ got))
                a, b = chunks[slug] @ ref, chunks[slug] @ got
                top1.append(int(np.argmax(a)) == int(np.argmax(b)))
                top3.append(set(np.argsort(-a)[:3].tolist()) == set(np.argsort(-b)[:3].tolist()))
        rows.append(
            {
                "variant": name,
                "encode_ms": statistics.median(seconds[name]) * 1000.0,
                "cosine_mean": statistics.fmean(cosines),
                "cosine_min": min(cosines),
                "same_top1": statistics.fmean(top1),
                "same_top3": statistics.fmean(top3),
            }
        )
    return rows


def answers(
    embedders: dict[str, object], sets: Sequence[DevSet], stores: dict, own: dict[str, dict] | None = None
) -> dict[str, dict[str, dict]]:
    """Per set and question embedder: answerable, hit@1, hit@3 (counts), unanswerable, correctly refused.

    ``own``: per embedder name, other stores to answer from (its documents embedded by the same variant).
    """
    out: dict[str, dict[str, dict]] = {}
    for s in sets:
        items = load_eval_set(s.questions)
        out[s.slug] = {}
        for name, embedder in embedders.items():
            store = (own or {}).get(name, stores)[s.slug]
            bot = Bot(store, embedder, settings=Settings(corpus_dir=s.corpus, index_dir=Path(store.index_dir)))
            _, results = evaluate(lambda q, h, bot=bot: bot.ask(q, h, k=3), items, k=3)
            answerable = [r for r in results if r.item.answerable]
            out[s.slug][name] = {
                "answerable": len(answerable),
                "hit1": sum(r.rank == 1 for r in answerable),
                "hit3": sum(r.rank is not None and r.rank <= 3 for r in answerable),
                "unanswerable": len(results) - len(answerable),
                "refused_ok": sum(r.abstained for r in results if not r.item.answerable),
            }
    return out


def _answers_table(table: dict[str, dict[str, dict]], names: Sequence[str]) -> str:
    head = "| document | questions | torch: hit@1 / hit@3 / refused ok | " + " | ".join(names) + " |"
    rows = [head, "|" + "---|" * (3 + len(names))]
    lost = {n: 0 for n in names}
    for slug, by in table.items():
        t = by["torch"]
        cells = []
        for n in names:
            d = [by[n][f] - t[f] for f in ("hit1", "hit3", "refused_ok")]
            worst = min(d[0], d[1]) / t["answerable"] * 100 if t["answerable"] else 0.0
            lost[n] += worst < -1.0
            cells.append(" / ".join(f"{x:+d}" for x in d) + (" **(lost)**" if worst < -1.0 else ""))
        rows.append(
            f"| {slug} | {t['answerable']} + {t['unanswerable']} | {t['hit1']} / {t['hit3']} / {t['refused_ok']} | "
            + " | ".join(cells)
            + " |"
        )
    rows.append("| documents more than one point below torch | | | " + " | ".join(str(lost[n]) for n in names) + " |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quantization", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants (default: all)")
    parser.add_argument("--sets", help="comma-separated development sets (default: all)")
    parser.add_argument("--no-answers", action="store_true", help="fidelity and speed only (no bot per variant)")
    parser.add_argument(
        "--documents",
        metavar="VARIANT",
        help="also embed the documents with this variant: its answers come from those indexes (torch's and fp32's "
        "from the fp32 ones)",
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"indexes and variant files (default {CACHE})")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for name in names + ([args.documents] if args.documents else []):
        variant_options(name, [])  # an unknown name fails before any work

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    model = Settings().model
    model_dir = Path(resolve_model(model))
    fp32 = exported_model(model_dir, ONNX_CACHE, quantized=False)  # the file onnx-int8 embeds documents with
    sets = discover_sets(only=[s.strip() for s in args.sets.split(",")] if args.sets else ())
    stores = _indexes(sets, model, args.cache, log)
    encoders = {"fp32": OnnxEncoder(model_dir, args.cache, quantized=False, workers=1, path=fp32)}
    for name in names:
        path = make_variant(fp32, name, args.cache / "variants")
        encoders[name] = OnnxEncoder(model_dir, args.cache, quantized=True, workers=1, path=path)
    questions = {s.slug: [item.question for item in load_eval_set(s.questions)] for s in sets}
    log(f"fidelity: {sum(map(len, questions.values()))} questions, {len(encoders)} question models")
    rows = fidelity(encoders, questions, stores)
    print("| question model | encode (ms) | cosine to fp32: mean / min | same top-1 | same top-3 set |")
    print("|---|---|---|---|---|")
    for r in rows:
        label = "fp32 export" if r["variant"] == "fp32" else f"{r['variant']}: {VARIANTS[r['variant']][0]}"
        print(
            f"| {label} | {r['encode_ms']:.2f} | {r['cosine_mean']:.4f} / {r['cosine_min']:.3f} | "
            f"{r['same_top1']:.3f} | {r['same_top3']:.3f} |"
        )
    result = {"fidelity": rows}
    if not args.no_answers:
        embedders = {"torch": Embedder(model, backend="torch", threads=1)}
        embedders |= {name: _Wrapped(encoder, model, alone=True) for name, encoder in encoders.items()}
        log("answers: the bot per development set and question model")
        own = None
        if args.documents:
            path = make_variant(fp32, args.documents, args.cache / "variants")
            bulk = OnnxEncoder(model_dir, args.cache, quantized=True, path=path)
            variant_stores = _indexes(
                sets, model, args.cache, log, _Wrapped(bulk, model, alone=False), f"onnx-{args.documents}"
            )
            own = {args.documents: variant_stores}
        result["answers"] = answers(embedders, sets, stores, own)
        print()
        print(_answers_table(result["answers"], ["fp32", *names]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
