"""Per-email throttling of failed logins (a sliding window, per node, in memory).

After ``max_failures`` failed logins for one email within ``window`` seconds,
further attempts are refused with "too many attempts" without checking the
password, until the oldest failure leaves the window. The state is per auth
node and not replicated: an attacker spreading attempts over N nodes gets N
times the budget, which is still a bounded number of bcrypt checks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 60.0,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._max_tracked = max_tracked
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _prune(self, email: str, now: float) -> deque[float] | None:
        times = self._failures.get(email)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[email]
            return None
        return times

    def blocked(self, email: str) -> bool:
        """True if ``email`` has used up its failures in the current window."""
        with self._lock:
            times = self._prune(email, self._clock())
            return times is not None and len(times) >= self.max_failures

    def try_attempt(self, email: str) -> bool:
        """Reserve one attempt for ``email``: False if its failures are used up. The
        attempt counts as a failure until :meth:`record_success` (so concurrent
        attempts cannot overrun the limit)."""
        now = self._clock()
        with self._lock:
            times = self._prune(email, now)
            if times is not None and len(times) >= self.max_failures:
                return False
            if times is None:
                if len(self._failures) >= self._max_tracked:
                    self._evict(now)
                times = self._failures.setdefault(email, deque())
            times.append(now)
            return True

    def cancel_attempt(self, email: str) -> None:
        """Give back an attempt reserved by :meth:`try_attempt` that checked nothing
        (e.g. the auth group was unavailable)."""
        with self._lock:
            times = self._failures.get(email)
            if times:
                times.pop()
                if not times:
                    del self._failures[email]

    def record_failure(self, email: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._prune(email, now)
            if times is None:
                if len(self._failures) >= self._max_tracked:
                    self._evict(now)
                times = self._failures.setdefault(email, deque())
            times.append(now)

    def record_success(self, email: str) -> None:
        with self._lock:
            self._failures.pop(email, None)

    def _evict(self, now: float) -> None:
        for email in list(self._failures):
            self._prune(email, now)
        while len(self._failures) >= self._max_tracked:
            self._failures.pop(next(iter(self._failures)))
