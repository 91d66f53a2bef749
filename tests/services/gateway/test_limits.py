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


def test_a_request_is_charged_its_cost_and_the_account_waits_it_off() -> None:
    clock = Clock()
    lim = TokenBucketLimiter(clock=clock)
    assert lim.acquire("acct", 10, cost=100) == 0.0  # a big batch goes through at once...
    wait = lim.acquire("acct", 10)  # ...and leaves the bucket 90 tokens in debt
    assert abs(wait - 9.1) < 1e-9
    clock.now += 9.0
    assert lim.acquire("acct", 10) > 0
    clock.now += 0.2
    assert lim.acquire("acct", 10) == 0.0


def test_an_indebted_bucket_is_not_forgotten_by_eviction() -> None:
    clock = Clock()
    lim = TokenBucketLimiter(clock=clock, max_keys=2)
    lim.acquire("a", 10, cost=1000)
    lim.acquire("b", 10)
    clock.now += 2.0
    lim.acquire("c", 10)  # evicts "b" (full again), keeps "a" (in debt for 100 s)
    assert lim.acquire("a", 10) > 0
