"""What the pages compute from a finished run, kept per run: a run folder never changes once
written (:mod:`keyfolio.runs`), so the dashboard's figures of run R are the same for every
caller until a new run is the latest. Bounded (the most recent ``size`` entries) and safe
across the server's worker threads; a key includes every run it was computed from."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class RunCache:
    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value for ``key``, made once by ``make`` (concurrent callers of one key wait
        for the first instead of each computing it)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = make()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._making.pop(key, None)
            return value
