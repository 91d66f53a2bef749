"""The per-key token bucket, on a fake clock."""

from vectron.services.gateway.limits import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    lim = TokenBucketLimiter(clock=clock)
    assert [lim.acquire("k", 5) for _ in range(5)] == [0.0] * 5
    wait = lim.acquire("k", 5)
    assert abs(wait - 0.2) < 1e-9
    clock.now += 0.2
    assert lim.acquire("k", 5) == 0.0
    assert lim.acquire("k", 5) > 0
    clock.now += 10  # never more than a one-second burst
    assert [lim.acquire("k", 5) for _ in range(6)].count(0.0) == 5


def test_keys_are_independent_and_zero_is_unlimited() -> None:
    lim = TokenBucketLimiter(clock=Clock())
    assert lim.acquire("a", 1) == 0.0 and lim.acquire("a", 1) > 0
    assert lim.acquire("b", 1) == 0.0
    assert all(lim.acquire("c", 0) == 0.0 for _ in range(1000))
    assert len(lim) == 2
