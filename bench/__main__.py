"""``python -m bench``: measure speed and scale side by side, print tables, write JSON.

python -m bench                        every section, full sizes (10k, 100k, 1M; about 30 minutes)
python -m bench --quick                a tiny run of every section (a minute or two)
python -m bench --only scale --sizes 10000,100000
python -m bench --only backends --backends torch,onnx,onnx-int8
python -m bench --only peer            quotebot against txtai (pip install -e '.[peer]')
python -m bench --only contention      Bot.ask quiet and with a CPU-burning neighbour
python -m bench --only startup         launch to first answer, bot ask and the app, per-import breakdown
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from indexer.onnx_backend import DEFAULT_BACKEND

from .report import Section, format_markdown, format_text, machine_info, write_json

SECTIONS = ("query", "indexing", "scale", "backends", "app", "peer", "contention", "startup")
DEFAULT_OUT = Path("artifacts") / "bench" / "results.json"
ROOT = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmark the quoting bot: speed and scale.")
    parser.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: checks that everything runs")
    parser.add_argument("--sizes", help="collection sizes for the scale section (default 10000,100000,1000000)")
    parser.add_argument(
        "--index-types",
        help="index types for the scale section: flat,hnsw,ivf-sq8,ivf-pq (FAISS) and torch-exact "
        "(default: the four FAISS types, plus torch-exact when a CUDA GPU is present)",
    )
    parser.add_argument("--queries", type=int, help="queries per size in the scale section (default 200)")
    parser.add_argument("--rounds", type=int, help="rounds over the eval questions in the query section (default 3)")
    parser.add_argument("--copies", type=int, help="copies of the corpora for the indexing section (default 8)")
    parser.add_argument(
        "--backends", default="torch,onnx,onnx-int8", help="embedding backends to compare (st:onnx etc. need optimum)"
    )
    parser.add_argument("--device", help="device for the model in the query and indexing sections (default: auto)")
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        help=f"embedding backend for the query and indexing sections (default {DEFAULT_BACKEND})",
    )
    parser.add_argument(
        "--questions",
        type=int,
        help="questions of eval/muscle_spasms.jsonl in the peer and contention sections (default: all / 40)",
    )
    parser.add_argument(
        "--burners", type=int, default=1, help="CPU-burning neighbour processes in the contention section (default 1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads for the model and exact search (default: the libraries' own, every core)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/performance.md)")
    return parser


def _eval_questions(path: Path) -> list[str]:
    return [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_query(args, embedder, log) -> list[Section]:
    from bot.bot import Bot
    from indexer.build import build_corpus
    from indexer.loaders import load_corpus_info
    from indexer.settings import Settings
    from indexer.stores.faiss import FaissStore

    from .query import measure_query, query_section

    corpus = ROOT / "corpus"
    questions = _eval_questions(ROOT / "eval" / "muscle_spasms.jsonl")
    rounds = args.rounds or (1 if args.quick else 3)
    if args.quick:
        questions = questions[:12]
    with tempfile.TemporaryDirectory(prefix="quotebot-bench-query-") as tmp:
        store = FaissStore(Path(tmp) / "index")
        build_corpus(corpus, store, embedder)
        settings = Settings.from_env(index_dir=Path(tmp) / "index", corpus_dir=corpus)
        bot = Bot(store, embedder, settings=settings, info=load_corpus_info(corpus))
        bot.check_index()
        result = measure_query(bot, questions, rounds=rounds, log=log)
    return list(query_section(result))


def run_indexing(args, embedder, log) -> list[Section]:
    from .indexing import indexing_section, measure_indexing, replicate_corpus

    copies = args.copies or (1 if args.quick else 8)
    sources = [ROOT / "corpus" / "muscle_spasms.txt", ROOT / "eval" / "constitution" / "us_constitution.txt"]
    with tempfile.TemporaryDirectory(prefix="quotebot-bench-corpus-") as tmp:
        corpus = replicate_corpus(sources, Path(tmp) / "corpus", copies)
        result = measure_indexing(embedder, corpus, rounds=1 if args.quick else 2, log=log)
    return list(indexing_section(result))


def _default_index_types() -> str:
    import torch

    return "flat,hnsw,ivf-sq8,ivf-pq" + (",torch-exact" if torch.cuda.is_available() else "")


def run_scale(args, log) -> list[Section]:
    from .scale import DEFAULT_SWEEP, measure_scale, suggest_exact_below

    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = [2_000] if args.quick else [10_000, 100_000, 1_000_000]
    types = [t.strip() for t in (args.index_types or _default_index_types()).split(",") if t.strip()]
    queries = args.queries or (20 if args.quick else 200)
    sweep = {t: v[:2] for t, v in DEFAULT_SWEEP.items()} if args.quick else None
    rows = measure_scale(sizes, types, queries=queries, sweep=sweep, check_mmap=not args.quick, log=log)
    section = Section(
        "scale",
        "Scale: FAISS index types on synthetic collections (generated vectors, 384 dims)",
        [
            "passages",
            "type",
            "search knob",
            "build (s)",
            "index bytes / passage",
            "median (ms)",
            "p95 (ms)",
            "recall@10",
            "default",
            "loads as",
        ],
    )
    for r in rows:
        section.add(
            r.size,
            r.index_type,
            r.knob or "exact",
            r.build_s,
            r.index_bytes_per_passage,
            r.median_ms,
            r.p95_ms,
            r.recall_at_10,
            "*" if r.default else "",
            r.mmap,
        )
    section.notes.append(
        "vectors are generated (clustered random unit vectors, bench/synthetic.py), not embedded; "
        "queries are data points moved off by noise; one query per search call, k=10"
    )
    for budget in (1.0, 5.0):
        size = suggest_exact_below(rows, budget)
        if size is not None:
            section.notes.append(
                f"exact search stays under {budget:g} ms median up to about {size:,} passages (interpolated)"
            )
    section.data = {"rows": [r.to_dict() for r in rows]}
    return [section]


def run_backends(args, log) -> list[Section]:
    from .backends import backends_section, measure_backends

    specs = [s.strip() for s in args.backends.split(",") if s.strip()]
    results = measure_backends(
        specs,
        repeats=1 if args.quick else 2,
        rounds=1 if args.quick else 2,
        limit=10 if args.quick else None,
        threads=args.threads,
        log=log,
    )
    return [backends_section(results, baseline=specs[0])]


def run_peer(args, log) -> list[Section]:
    import importlib.util

    if importlib.util.find_spec("txtai") is None:
        section = Section("peer", "The peer: quotebot against txtai", ["contender", "result"])
        section.add("txtai", "not measured: txtai is not installed (pip install -e '.[peer]')")
        return [section]
    from .peer import measure_peer, peer_section

    questions = _eval_questions(ROOT / "eval" / "muscle_spasms.jsonl")
    questions = questions[: 12 if args.quick else args.questions]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # process-wide: quotebot's torch reference and txtai alike
    return [peer_section(measure_peer(questions, rounds=args.rounds or (1 if args.quick else 2), log=log))]


def run_contention(args, log) -> list[Section]:
    from .contention import contention_section, measure_contention

    questions = _eval_questions(ROOT / "eval" / "muscle_spasms.jsonl")[: 10 if args.quick else (args.questions or 40)]
    result = measure_contention(questions, burners=args.burners, blocks=1 if args.quick else 2, log=log)
    return [contention_section(result)]


def run_startup(args, log) -> list[Section]:
    from .startup import measure_startup, startup_section

    return startup_section(measure_startup(rounds=1 if args.quick else 2, log=log))


def main(argv: list[str] | None = None, *, embedder=None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    wanted = [s.strip() for s in (args.only or ",".join(SECTIONS)).split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    machine = machine_info()
    machine["threads_requested"] = args.threads
    started = time.perf_counter()
    if embedder is None and ("query" in wanted or "indexing" in wanted):
        from indexer.embedding import Embedder

        embedder = Embedder(device=args.device, backend=args.backend, threads=args.threads)
    sections: list[Section] = []
    for name in wanted:
        if name == "query":
            sections += run_query(args, embedder, log)
        elif name == "indexing":
            sections += run_indexing(args, embedder, log)
        elif name == "scale":
            sections += run_scale(args, log)
        elif name == "backends":
            sections += run_backends(args, log)
        elif name == "app":
            from .serving import app_section

            sections.append(app_section(quick=args.quick, log=log))
        elif name == "peer":
            sections += run_peer(args, log)
        elif name == "contention":
            sections += run_contention(args, log)
        elif name == "startup":
            sections += run_startup(args, log)
        write_json(args.out, sections, command=_command(argv), machine=machine, seconds=time.perf_counter() - started)
    machine["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    elapsed = time.perf_counter() - started
    write_json(args.out, sections, command=_command(argv), machine=machine, seconds=elapsed)
    formatter = format_markdown if args.markdown else format_text
    print("\n\n".join(formatter(s) for s in sections))
    print(
        f"\nmachine: {machine.get('cpu')}, {machine.get('cpus')} CPUs, {machine.get('memory_gib')} GiB; "
        f"load average {machine.get('load_average')} -> {machine.get('load_average_end')}; {elapsed:.0f} s"
    )
    print(f"results: {args.out}")
    return 0


def _command(argv: list[str] | None) -> str:
    parts = sys.argv[1:] if argv is None else argv
    return "python -m bench " + " ".join(shlex.quote(p) for p in parts)


if __name__ == "__main__":
    sys.exit(main())
