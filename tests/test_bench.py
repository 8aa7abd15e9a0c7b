"""The benchmark runs on tiny sizes, and its pure helpers compute what they claim.

Benchmarks are not timed here: these tests only check that ``python -m bench``
works end to end (with the fake embedder) and that recall, the synthetic data
and the stage profiler are right on small hand-made inputs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from bench.__main__ import main
from bench.backends import BackendResult, backends_section
from bench.profile import StageTimer
from bench.report import Section, format_markdown, format_text
from bench.scale import ScaleRow, recall_at, suggest_exact_below
from bench.serving import APP_MEASURES, measure_app, run_load
from bench.synthetic import SyntheticSpec, clustered_unit_vectors, queries_near
from bench.timing import percentile, summarize_seconds

pytestmark = pytest.mark.slow  # benchmarks and Milvus Lite: run with -m slow, left out of the fast tier


def test_quick_run_of_every_offline_section_writes_tables_and_json(tmp_path: Path, fake_embedder, capsys) -> None:
    out = tmp_path / "results.json"
    # the app section starts the real app with the real model: see the e2e test below
    argv = [
        "--quick",
        "--only",
        "query,indexing,scale",
        "--sizes",
        "600",
        "--index-types",
        "flat,hnsw,ivf-sq8,torch-exact",
        "--out",
        str(out),
    ]
    assert main(argv, embedder=fake_embedder) == 0
    printed = capsys.readouterr().out
    assert "Query latency: Bot.ask vs the model plus one exact search" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    names = [s["name"] for s in data["sections"]]
    assert names == ["query", "query-stages", "indexing", "indexing-stages", "scale"]
    assert data["command"].startswith("python -m bench --quick")
    assert data["machine"]["cpus"] >= 1
    query = data["sections"][0]["data"]
    assert query["ask"]["median_ms"] > 0 and query["bare"]["median_ms"] > 0
    indexing = data["sections"][2]["data"]
    assert indexing["chunks"] > 100 and indexing["build_chunks_per_s"] > 0
    rows = data["sections"][4]["data"]["rows"]
    import torch

    torch_row = f"torch-exact ({'cuda' if torch.cuda.is_available() else 'cpu'})"
    assert {r["index_type"] for r in rows} == {"flat", "hnsw", "ivf-sq8", torch_row}
    flat = [r for r in rows if r["index_type"] in ("flat", torch_row)]
    assert flat and all(r["recall_at_10"] == 1.0 for r in flat)
    assert all(0.0 <= r["recall_at_10"] <= 1.0 and r["index_bytes_per_passage"] > 0 for r in rows)


def test_unknown_section_is_refused_with_the_choices(capsys) -> None:
    assert main(["--only", "nonsense"]) == 2
    assert "choose from query, indexing, scale, backends, app, peer, contention, startup" in capsys.readouterr().err


def test_recall_counts_shared_ids_of_the_top_k() -> None:
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 9, 9], [5, 6, 7, 8]])
    assert recall_at(found, truth, k=4) == pytest.approx((2 / 4 + 4 / 4) / 2)
    assert recall_at(found, truth, k=2) == pytest.approx((0 / 2 + 2 / 2) / 2)


def test_synthetic_vectors_are_unit_deterministic_and_clustered() -> None:
    spec = SyntheticSpec(dim=32, points_per_topic=50, subtopics_per_topic=5)
    a = clustered_unit_vectors(400, spec, seed=3)
    b = clustered_unit_vectors(400, spec, seed=3)
    assert a.shape == (400, 32) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, b)
    sims = a @ a.T
    np.fill_diagonal(sims, -1)
    # clustered: a point's nearest neighbour is far closer than a typical point
    assert np.median(sims.max(axis=1)) > np.median(sims) + 0.3
    queries = queries_near(a, 20, spec)
    assert queries.shape == (20, 32)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)


def test_queries_need_a_collection() -> None:
    with pytest.raises(ValueError, match="empty collection"):
        queries_near(np.zeros((0, 8), dtype=np.float32), 3)


def _flat_row(size: int, ms: float) -> ScaleRow:
    return ScaleRow(size, "flat", "", 0.0, 1536.0, ms, ms, 1.0, "", True)


def test_exact_threshold_is_interpolated_between_the_sizes_that_straddle_the_budget() -> None:
    rows = [_flat_row(10_000, 0.5), _flat_row(100_000, 5.0), _flat_row(1_000_000, 50.0)]
    assert suggest_exact_below(rows, 5.0) == 100_000
    assert suggest_exact_below(rows, 2.75) == 55_000
    assert suggest_exact_below(rows, 0.25) == 5_000  # below the smallest size: from zero
    assert suggest_exact_below(rows, 100.0) is None  # every size is within the budget


def test_stage_timer_counts_exclusive_time_and_restores_methods() -> None:
    class Worker:
        def outer(self) -> None:
            time.sleep(0.02)
            self.inner()

        def inner(self) -> None:
            time.sleep(0.03)

    worker = Worker()
    timer = StageTimer()
    timer.wrap(worker, "outer", "outer")
    timer.wrap(worker, "inner", "inner")
    started = time.perf_counter()
    worker.outer()
    total = time.perf_counter() - started
    timer.restore()
    assert timer.calls == {"outer": 1, "inner": 1}
    assert timer.exclusive["inner"] >= 0.029 and timer.exclusive["outer"] >= 0.019
    # exclusive: the two add up to the whole call, so inner's 30 ms are not counted in outer too
    assert timer.exclusive["outer"] + timer.exclusive["inner"] <= total + 1e-6
    assert "outer" not in worker.__dict__ and "inner" not in worker.__dict__


def test_percentiles_and_summaries() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    timing = summarize_seconds([0.001, 0.002, 0.003])
    assert timing.median_ms == pytest.approx(2.0) and timing.n == 3
    with pytest.raises(ValueError):
        summarize_seconds([])


def test_section_rejects_rows_of_the_wrong_width_and_formats_both_ways() -> None:
    section = Section("x", "Title", ["a", "b"])
    section.add("name", 1234.5)
    with pytest.raises(ValueError, match="2 columns"):
        section.add("only one")
    assert "1,234" in format_text(section) or "1,235" in format_text(section)
    markdown = format_markdown(section)
    assert markdown.startswith("### Title") and "| a | b |" in markdown


def test_backends_table_reports_speedup_against_the_first_backend_and_failures() -> None:
    quality = {
        label: {"hit_at_1": 0.6, "hit_at_3": 0.8, "mrr": 0.7, "correctly_abstained": 0.3, "wrongly_abstained": 0.0}
        for label in ("muscle", "constitution")
    }
    results = [
        BackendResult("torch", 1.0, [10.0, 10.0, 10.0], [100.0], quality),
        BackendResult("onnx-int8", 1.0, [4.0, 5.0, 5.0], [250.0], quality),
        BackendResult("st:openvino", error="No module named 'optimum'"),
    ]
    section = backends_section(results)
    assert section.rows[0][3] == "1.00x"
    assert section.rows[1][3] == "2.00x"
    assert "failed: No module named 'optimum'" in section.rows[2][-1]


def test_load_runs_one_caller_per_client_counts_errors_and_closes_callers() -> None:
    made: list[dict] = []

    def make_caller():
        state = {"asked": [], "closed": False}
        made.append(state)

        class Caller:
            def __call__(self, question: str) -> str:
                time.sleep(0.005)
                state["asked"].append(question)
                if question == "bad":
                    raise RuntimeError("refused")
                return question

            def close(self) -> None:
                state["closed"] = True

        return Caller()

    level = run_load(make_caller, ["a", "b", "bad", "c"], clients=3, seconds=0.3)
    assert len(made) == 3 and all(m["closed"] for m in made)
    asked = sum(len(m["asked"]) for m in made)
    assert asked == level.answers + level.errors
    assert level.errors >= 1 and "refused" in level.first_error
    assert level.answers > level.errors and level.median_ms >= 5.0 and level.p95_ms >= level.median_ms
    assert level.per_second == pytest.approx(level.answers / level.seconds)
    assert level.seconds >= 0.3
    with pytest.raises(ValueError):
        run_load(make_caller, [], clients=1, seconds=0.1)


@pytest.mark.e2e
@pytest.mark.model
def test_app_section_starts_the_app_twice_and_drives_it_over_http() -> None:
    """Tiny budget (3 questions, 1 s per level); still two app starts with the real model (about 30 s)."""
    questions = ["What is a muscle spasm?", "What causes cramps?", "How are spasms treated?"]
    values, data, notes = measure_app(quick=True, questions=questions, seconds_per_level=1.0, log=lambda _: None)
    assert set(values) == set(APP_MEASURES)
    assert "1 added" in data["cold_start_empty_index"]["index"]
    assert "up to date" in data["cold_start_built_index"]["index"]
    for key in ("cold_start_empty_index", "cold_start_built_index"):
        start = data[key]
        assert 0 < start["index_line_s"] < start["serving_line_s"] < start["total_s"]
    assert data["http_sequential"]["n"] == 3 and data["bot_ask_in_process"]["n"] == 3
    assert [level["clients"] for level in data["levels"]] == [1, 4, 16]
    assert all(level["answers"] > 0 and level["errors"] == 0 for level in data["levels"])
    assert any("index built" in note for note in notes)
