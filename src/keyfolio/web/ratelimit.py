"""Failed sign-ins counted per account and per address, in a sliding window.

Kept in the app's memory (one per app, made by the factory): a server restart forgets it,
and several server processes count separately.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class LoginLimiter:
    def __init__(
        self,
        attempts: int,
        address_attempts: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": attempts, "address": address_attempts}
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        """Whether any of ``keys`` (``account:...``, ``address:...``) had too many failures."""
        with self._lock:
            return any(len(self._recent(key)) >= self.limits[key.partition(":")[0]] for key in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            now = self._clock()
            for key in keys:
                self._recent(key).append(now)

    def succeeded(self, account_key: str) -> None:
        with self._lock:
            self._failures.pop(account_key, None)

    def _recent(self, key: str) -> deque[float]:
        times = self._failures[key]
        cutoff = self._clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times
