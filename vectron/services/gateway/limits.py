"""Per-key request rate limiting: a token bucket per API key.

Each key gets a bucket holding at most ``rate`` tokens (its plan's requests per
second: a one-second burst), refilled continuously at ``rate`` tokens per
second. A request takes one token; with none left it is refused with the time
until the next token, which the edges send as ``Retry-After``. A rate of 0
means unlimited. Buckets idle long enough to be full again are dropped, so
memory stays bounded by the keys active in the last few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TokenBucketLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def acquire(self, key: str, rate: float) -> float:
        """Take a token from ``key``'s bucket. Returns 0.0 if granted, else the seconds to
        wait before a token is available (nothing is taken)."""
        if rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._evict(now, rate)
                bucket = self._buckets[key] = _Bucket(tokens=float(rate), updated=now)
            else:
                bucket.tokens = min(float(rate), bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def _evict(self, now: float, rate: float) -> None:
        # drop buckets that would be full again (idle for more than a second at any rate >= 1)
        for k in [k for k, b in self._buckets.items() if now - b.updated > 1.0]:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)
