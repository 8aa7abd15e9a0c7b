"""One generation per answer: answers run side by side on the index they started on, and what the
bot derived from the index (manifest, titles, calibration, texts, lexical index) is swapped for a
newer generation only between answers.

The store pins a generation for the thread that answers (``VectorStore.pinned``); the gate lets
every answer on the generation the bot's derived state belongs to in at once. An answer pinned
to another one (a newer commit, or an index rebuilt from scratch) waits until the answers in
flight finish, has the derived state dropped, and goes on; answers that arrive meanwhile wait
for that swap, so no answer ever reads derived state of one generation and the store's of
another.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Hashable, Iterator

__all__ = ["GenerationGate"]


class GenerationGate:
    """Admits answers on one generation at a time; ``on_switch`` drops what belonged to the last."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._token: Hashable | None = None
        self._active = 0
        self._switching = False
        self._stale = False  # dropped from outside (Bot.changed): set up afresh whatever the token

    @contextlib.contextmanager
    def enter(self, token: Hashable | None, on_switch: Callable[[], None]) -> Iterator[None]:
        """Hold a place for one answer on generation ``token`` (``None``: the store cannot tell, so
        the derived state is swapped only after ``invalidate``)."""
        with self._cond:
            while self._switching:
                self._cond.wait()
            if self._stale or (token is not None and token != self._token):
                self._switching = True
                try:
                    while self._active:
                        self._cond.wait()
                    on_switch()
                    self._token, self._stale = token, False
                finally:
                    self._switching = False
                    self._cond.notify_all()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def invalidate(self) -> None:
        """Have the derived state dropped before the next answer (this process changed the store, or
        an answer met a generation that went away), once the answers in flight finish."""
        with self._cond:
            self._stale = True
