"""Rate limiting by cost: a token bucket per account (all its API keys together).

Each account gets a bucket holding at most ``rate`` tokens (its plan's units per
second: a one-second burst), refilled continuously at ``rate`` tokens per
second. A request is charged its cost (:func:`vectron.limits.request_cost`: one
unit, or one per query, or one per 100 points). It is let through when the
bucket holds at least one token (or its whole cost, if smaller than the rate)
and may then take the bucket below zero: a big batch is served at once and the
account waits it off afterwards. Refused, nothing is taken and the answer says
how long until it would be let through, which the edges send as ``Retry-After``.
A rate of 0 means unlimited. The buckets live in one gateway's memory: across N
gateways an account gets N times its rate. Buckets idle long enough to be full
again are dropped, so memory stays bounded by the accounts active lately.
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
    rate: float

    def full_at(self) -> float:
        """When this bucket is full again (idle from then on, it can be forgotten)."""
        return self.updated + (self.rate - self.tokens) / self.rate


class TokenBucketLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def acquire(self, key: str, rate: float, cost: float = 1.0) -> float:
        """Charge ``cost`` tokens to ``key``'s bucket. Returns 0.0 if granted, else the
        seconds to wait before it would be (nothing is taken)."""
        if rate <= 0:
            return 0.0
        need = min(float(cost), float(rate))
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._evict(now)
                bucket = self._buckets[key] = _Bucket(tokens=float(rate), updated=now, rate=float(rate))
            else:
                bucket.tokens = min(float(rate), bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
                bucket.rate = float(rate)
            if bucket.tokens >= need:
                bucket.tokens -= cost
                return 0.0
            return (need - bucket.tokens) / rate

    def _evict(self, now: float) -> None:
        # drop buckets that are full again (forgetting them forgives nothing)
        for k in [k for k, b in self._buckets.items() if b.full_at() <= now]:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)
