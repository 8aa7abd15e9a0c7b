"""App-level measurements: hooks for the web app's benchmark (not written yet).

These need ``app.py`` (being written on another branch). When it lands, fill in
``measure_app`` and ``python -m bench --only app`` will report, side by side
with the in-process figures of the ``query`` section:

- cold start: seconds from launching the app process to its first answered request;
- HTTP latency of one question through ``gradio_client`` (median, p95);
- throughput and latency with 1, 4 and 16 concurrent clients.
"""

from __future__ import annotations

from .report import Section

__all__ = ["APP_MEASURES", "measure_app", "app_section"]

APP_MEASURES = (
    "cold start of the app process (s, to first answer)",
    "HTTP latency via gradio_client, 1 client (median / p95 ms)",
    "4 concurrent clients (median / p95 ms, answers / s)",
    "16 concurrent clients (median / p95 ms, answers / s)",
)


def measure_app(**options) -> dict[str, str]:
    """TODO(app): start ``app.py`` in a subprocess, time the cold start, then drive it with gradio_client."""
    raise NotImplementedError("app-level benchmarks wait for app.py")


def app_section(**options) -> Section:
    section = Section("app", "Through the web app (TODO: needs app.py)", ["measure", "value"])
    try:
        values = measure_app(**options)
    except NotImplementedError as err:
        values = {}
        section.notes.append(f"TODO: {err}; bench/serving.py has the hook")
    for measure in APP_MEASURES:
        section.add(measure, values.get(measure, "TODO"))
    return section
