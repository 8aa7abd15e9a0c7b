"""Gradio, imported without rewriting its type stubs: about half of its import time.

Every component class Gradio defines goes through ``gradio.component_meta.ComponentMeta``,
which, on every import, reads the class's own source file, parses the whole module with
``ast``, renders a Jinja template and compares it with (and, where it can, rewrites) a
``.pyi`` stub beside it in site-packages (``create_or_modify_pyi``). The stubs are type hints
for editors; nothing reads them at run time, and the class is complete before the call. That
work was 1.0 s of the 2.25 s ``import gradio`` took here (2 cores, load 3), most of the app's
cold start to its first answer (docs/performance.md, "Cold start").

``gr`` is Gradio imported with that one function replaced by a no-op while its module loads.
A Gradio without the function (another version) is imported as it is; a process that
imported Gradio before keeps the one it has.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

__all__ = ["gr", "import_gradio"]

_STUB_WRITER = "create_or_modify_pyi"


class _SkipStubWriter(importlib.abc.MetaPathFinder):
    """Finds ``gradio.component_meta`` as usual and, once it has run, turns its stub writer off."""

    def find_spec(self, name, path, target=None):
        if name != "gradio.component_meta":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            if callable(getattr(module, _STUB_WRITER, None)):
                setattr(module, _STUB_WRITER, _no_stub)

        spec.loader.exec_module = exec_module  # this spec's own loader object, used for this one load
        return spec


def _no_stub(*args, **kwargs) -> None:
    return None


def import_gradio() -> ModuleType:
    """``import gradio``, without the stub rewriting when this is the process's first import of it."""
    if "gradio" in sys.modules:
        return sys.modules["gradio"]
    finder = _SkipStubWriter()
    sys.meta_path.insert(0, finder)
    try:
        import gradio
    finally:
        sys.meta_path.remove(finder)
    return gradio


gr = import_gradio()
