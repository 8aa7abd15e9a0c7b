"""Tables: every benchmark section is a title, column names and rows of plain values.

One shape for everything lets ``python -m bench`` print text tables, write the
same data as JSON, and print Markdown for ``docs/performance.md``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

__all__ = ["Section", "machine_info", "format_text", "format_markdown", "write_json"]


@dataclass
class Section:
    name: str  # short key: "query", "indexing", "scale", "backends", "app"
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)  # raw figures for the JSON file

    def add(self, *values) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"{self.name}: {len(values)} values for {len(self.columns)} columns")
        self.rows.append(list(values))

    def to_dict(self) -> dict:
        return asdict(self)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def format_text(section: Section) -> str:
    cells = [section.columns] + [[_cell(v) for v in row] for row in section.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(section.columns))]
    lines = [section.title, "=" * len(section.title)]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.extend(f"note: {note}" for note in section.notes)
    return "\n".join(lines)


def format_markdown(section: Section) -> str:
    lines = [f"### {section.title}", "", "| " + " | ".join(section.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in section.columns) + "|")
    for row in section.rows:
        lines.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |")
    if section.notes:
        lines.append("")
        lines.extend(f"- {note}" for note in section.notes)
    return "\n".join(lines)


def machine_info() -> dict:
    """Where the figures came from: CPU, cores, memory, library versions, load at the time."""
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    for module in ("numpy", "faiss", "torch", "sentence_transformers", "onnxruntime", "openvino"):
        try:
            info[module] = __import__(module).__version__
        except Exception:
            continue
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        pass
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def write_json(path: Path, sections: Sequence[Section], *, command: str, machine: dict, seconds: float) -> None:
    """Write the run's results atomically (a temporary file, then a rename)."""
    from indexer.fsutil import write_atomic

    data = {
        "command": command,
        "machine": machine,
        "seconds": round(seconds, 1),
        "sections": [s.to_dict() for s in sections],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
