"""The app imports Gradio without its type-stub writer (half of Gradio's import time, most of the
app's cold start), and Gradio still builds pages with it off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys
import app
import gradio.component_meta as meta
from quotebot_app import gradio_import
print(meta.create_or_modify_pyi is gradio_import._no_stub)
print(any(isinstance(f, gradio_import._SkipStubWriter) for f in sys.meta_path))
with app.gr.Blocks() as page:
    box = app.gr.Textbox(label="question")
    box.submit(lambda text: text, [box], [box])
print(type(box).__name__, callable(type(box).submit))
"""


def _run(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split("\n")


def test_the_app_imports_gradio_with_the_stub_writer_off_and_the_finder_removed() -> None:
    writer_off, finder_left, component = _run(PROBE)[:3]
    assert writer_off == "True"
    assert finder_left == "False"  # the import hook is gone once Gradio is in
    assert component == "Textbox True"  # components and their events are complete without the stubs


def test_a_gradio_imported_before_is_kept_as_it_is() -> None:
    code = (
        "import gradio, gradio.component_meta as meta\n"
        "from quotebot_app.gradio_import import gr, _no_stub\n"
        "print(gr is gradio, meta.create_or_modify_pyi is _no_stub)\n"
    )
    assert _run(code)[0] == "True False"
