"""The page's look and behaviour: its CSS and JavaScript, kept as files in ``static/`` (package
data, so an installed wheel has them), and the theme.

The JavaScript files are the bodies Gradio's ``gr.HTML(js_on_load=...)`` runs (``chat.js``,
``source.js``, ``documents.js``: ``element``, ``trigger`` and ``watch`` are Gradio's) or
functions it calls (``theme_toggle.js`` on a click, ``theme_load.js`` once per page load).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

__all__ = ["static_text", "page_style"]


@functools.cache
def static_text(name: str) -> str:
    """The text of ``static/<name>``, read once."""
    return resources.files(__package__).joinpath("static").joinpath(name).read_text(encoding="utf-8")


def page_style() -> dict[str, Any]:
    """Theme, CSS and JS for ``Blocks.launch`` (Gradio 6 takes them there, not in ``Blocks``)."""
    from .gradio_import import gr

    # Regular and Bold only: the SemiBold file Gradio ships is a subset that lacks some letters.
    font = (gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif")
    theme = gr.themes.Soft(primary_hue="teal", neutral_hue="slate", font=font)
    return {"theme": theme, "css": static_text("page.css"), "js": static_text("theme_load.js")}
