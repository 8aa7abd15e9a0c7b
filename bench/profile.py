"""Where the time of a call goes: wrap a few methods on live objects and add up their own time.

Each wrapped method's *exclusive* time (minus the wrapped methods it calls) is
summed, so nested stages (``suggest`` calls ``encode``) are not counted twice.
Wrapping instances, not classes, leaves every other object untouched, and
``restore`` puts the original methods back.
"""

from __future__ import annotations

import time
from collections import defaultdict
from functools import wraps

__all__ = ["StageTimer"]


class StageTimer:
    def __init__(self) -> None:
        self.exclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []
        self._wrapped: list[tuple[object, str, object, bool]] = []

    def wrap(self, obj: object, attr: str, label: str) -> None:
        original = getattr(obj, attr)
        had_own = attr in getattr(obj, "__dict__", {})

        @wraps(original)
        def timed(*args, **kwargs):
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                children = self._stack.pop()
                self.exclusive[label] += elapsed - children
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1] += elapsed

        setattr(obj, attr, timed)
        self._wrapped.append((obj, attr, original, had_own))

    def restore(self) -> None:
        for obj, attr, original, had_own in reversed(self._wrapped):
            if had_own:
                setattr(obj, attr, original)
            else:
                delattr(obj, attr)
        self._wrapped.clear()

    def reset(self) -> None:
        self.exclusive.clear()
        self.calls.clear()
