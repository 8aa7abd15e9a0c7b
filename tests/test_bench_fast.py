"""The benchmark sections of the fast path (peer, contention, start-up): their pure parts, on hand-made inputs.

Nothing is timed here; the sections themselves run with ``python -m bench --only peer,contention,startup``.
"""

from __future__ import annotations

import time

from bench.contention import DEFAULT_VARIANT, ContentionResult, contention_section, start_burners
from bench.peer import OURS, PeerResult, peer_section
from bench.startup import StartupResult, import_breakdown, imported_modules, startup_section
from bench.timing import Timing

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       500 |        500 |   numpy._core
import time:      1500 |       2000 | numpy
import time:      3000 |       3000 |     torch._C
import time:      1000 |       4000 |   torch.nn
import time:       200 |       4200 | torch
some other output line
import time:        40 |         40 | bot.bot
"""


def _t(median: float) -> Timing:
    return Timing(10, median, median * 2, median)


def test_import_breakdown_sums_self_time_by_top_level_package_largest_first() -> None:
    assert import_breakdown(IMPORTTIME) == {"torch": 4.2, "numpy": 2.0, "bot": 0.04}
    assert imported_modules(IMPORTTIME) == {"numpy._core", "numpy", "torch._C", "torch.nn", "torch", "bot.bot"}
    assert import_breakdown("no imports here") == {}


def test_startup_tables_give_medians_the_target_and_one_column_per_process() -> None:
    result = StartupResult(
        wall_s={"bot ask (onnx-int8)": [0.6, 0.8, 0.7], "app (onnx-int8)": [3.5, 2.5, 2.9], "app (torch)": [7.0, 6.0]},
        breakdown_ms={
            "app (onnx-int8)": {"gradio": 2000.0, "numpy": 60.0},
            "app (torch)": {"gradio": 2100.0, "torch": 900.0},
        },
        heavy={"app (onnx-int8)": [], "app (torch)": ["sentence_transformers", "torch"]},
    )
    wall, imports = startup_section(result)
    rows = {row[0]: row for row in wall.rows}
    assert rows["bot ask (onnx-int8)"][1] == 0.7 and rows["bot ask (onnx-int8)"][3] == "-"
    assert rows["app (onnx-int8)"][1:5] == [2.9, "3.50 2.50 2.90", "<= 3 s", "yes"]
    assert rows["app (onnx-int8)"][5] == "none" and rows["app (torch)"][5] == "sentence_transformers, torch"
    assert imports.columns == ["package", "bot ask (onnx-int8)", "app (onnx-int8)", "app (torch)"]
    by_package = {row[0]: row[1:] for row in imports.rows}
    assert by_package["torch"] == [None, None, 900.0]
    assert by_package["all imports"] == [None, 2060.0, 3000.0]


def test_peer_table_reports_how_many_times_slower_each_contender_is_and_the_target() -> None:
    timings = {
        OURS: _t(2.0),
        "quotebot Bot.ask (torch)": _t(9.0),
        "txtai dense": _t(5.0),
        "txtai hybrid (dense + BM25)": _t(3.0),
    }
    section = peer_section(PeerResult(timings, 100, 10, 2, {}, "9.14.0"))
    rows = {row[0]: row for row in section.rows}
    assert rows[OURS][3] == "1.00x"
    assert rows["txtai dense"][3:] == ["2.50x", ">= 2x", "yes"]
    assert rows["txtai hybrid (dense + BM25)"][3:] == ["1.50x", "-", "-"]
    slower = PeerResult({OURS: _t(4.0), "txtai dense": _t(5.0)}, 100, 10, 2, {}, "9.14.0")
    assert {row[0]: row for row in peer_section(slower).rows}["txtai dense"][5] == "no"


def test_contention_table_judges_the_default_by_its_busy_over_quiet_median() -> None:
    quiet = {DEFAULT_VARIANT: _t(2.0), "torch, default threads (2)": _t(8.0)}
    busy = {DEFAULT_VARIANT: _t(3.0), "torch, default threads (2)": _t(300.0)}
    section = contention_section(ContentionResult(quiet, busy, 1, 40, 2))
    rows = {row[0]: row for row in section.rows}
    assert rows[DEFAULT_VARIANT][4:] == ["1.50x", "<= 2x", "yes"]
    assert rows["torch, default threads (2)"][4:] == ["37.50x", "-", "-"]
    busy[DEFAULT_VARIANT] = _t(5.0)
    assert contention_section(ContentionResult(quiet, busy, 1, 40, 2)).rows[0][6] == "no"


def test_a_cpu_burning_neighbour_stops_by_itself_when_its_time_is_up() -> None:
    started = time.monotonic()
    (burner,) = start_burners(1, 0.3)
    try:
        assert burner.wait(timeout=20) == 0
    finally:
        if burner.poll() is None:
            burner.kill()
    assert time.monotonic() - started < 20
