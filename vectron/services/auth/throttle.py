"""Throttling of logins and registrations (sliding windows, per auth node, in memory).

:class:`LoginThrottle` is one sliding window of failures per key: after
``max_failures`` within ``window`` seconds, further attempts are refused
without checking the password until the oldest failure leaves the window.

:class:`AccessGuard` is what the auth service uses; it keys windows so that an
attacker cannot lock the real owner out:

* failed logins per (email, client address): guessing one account's password
  from one address stops after a few tries, while the owner, from another
  address, still logs in;
* failed logins per client address: spraying many emails from one address stops;
* registrations per client address;
* a node-wide cap on concurrent bcrypt computations (logins and registrations):
  when every slot stays busy, the call is refused at once instead of queueing.

A call that names no client address (an internal caller, not through a gateway)
is throttled per email only. Every refusal is :class:`~vectron.errors.RateLimited` with the seconds until a
retry can succeed (the edges send ``Retry-After``). The state is per auth node
and not replicated: an attacker spreading attempts over N nodes gets N times
the budget, which is still a bounded number of bcrypt checks.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from vectron.errors import RateLimited

__all__ = ["LoginThrottle", "AccessGuard", "GuardLimits"]


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

    def retry_after(self, email: str) -> float:
        """Seconds until ``email`` may try again (0 when it may now)."""
        now = self._clock()
        with self._lock:
            times = self._prune(email, now)
            if times is None or len(times) < self.max_failures:
                return 0.0
            return max(0.0, times[len(times) - self.max_failures] + self.window - now)

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


@dataclass(frozen=True)
class GuardLimits:
    """The budgets of an :class:`AccessGuard` (failures or attempts per window, in seconds)."""

    login_failures_per_account_address: int = 5
    login_failures_per_address: int = 30
    login_window: float = 60.0
    registrations_per_address: int = 10
    registration_window: float = 600.0
    #: bcrypt computations at once on this node; a call waits at most ``bcrypt_wait`` for a slot
    bcrypt_slots: int = 4
    bcrypt_wait: float = 2.0

    def scaled(self, factor: float) -> GuardLimits:
        """These limits with every login and registration budget ``factor`` times larger
        (``vectrond --auth-throttle-factor``: a trusted load generator behind one address)."""
        if factor == 1:
            return self
        return replace(
            self,
            login_failures_per_account_address=max(1, round(self.login_failures_per_account_address * factor)),
            login_failures_per_address=max(1, round(self.login_failures_per_address * factor)),
            registrations_per_address=max(1, round(self.registrations_per_address * factor)),
        )


class AccessGuard:
    """The login and registration throttles and the bcrypt cap of one auth node (see the module docstring)."""

    def __init__(self, limits: GuardLimits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = lim = limits or GuardLimits()
        self.by_account = LoginThrottle(max_failures=lim.login_failures_per_account_address, window=lim.login_window, clock=clock)
        self.by_address = LoginThrottle(max_failures=lim.login_failures_per_address, window=lim.login_window, clock=clock)
        self.registrations = LoginThrottle(max_failures=lim.registrations_per_address, window=lim.registration_window, clock=clock)
        self._bcrypt = threading.BoundedSemaphore(lim.bcrypt_slots)

    @staticmethod
    def _pair(email: str, address: str) -> str:
        return f"{email}\x00{address}"

    def begin_login(self, email: str, address: str) -> None:
        """Reserve one login attempt; RateLimited if this (email, address) or this address
        has used up its failures. The attempt counts as failed until :meth:`login_succeeded`."""
        pair = self._pair(email, address)
        if not self.by_account.try_attempt(pair):
            raise RateLimited(
                "too many failed logins for this account from your address; try again later",
                retry_after=self.by_account.retry_after(pair),
            )
        if address and not self.by_address.try_attempt(address):
            self.by_account.cancel_attempt(pair)
            raise RateLimited("too many failed logins from your address; try again later", retry_after=self.by_address.retry_after(address))

    def login_succeeded(self, email: str, address: str) -> None:
        self.by_account.record_success(self._pair(email, address))
        if address:
            self.by_address.cancel_attempt(address)

    def cancel_login(self, email: str, address: str) -> None:
        """Give back an attempt that checked nothing (the group was unavailable)."""
        self.by_account.cancel_attempt(self._pair(email, address))
        if address:
            self.by_address.cancel_attempt(address)

    def begin_registration(self, address: str) -> None:
        """Count one registration from ``address``; RateLimited past its budget."""
        if address and not self.registrations.try_attempt(address):
            raise RateLimited("too many registrations from your address; try again later", retry_after=self.registrations.retry_after(address))

    def cancel_registration(self, address: str) -> None:
        if address:
            self.registrations.cancel_attempt(address)

    @contextlib.contextmanager
    def bcrypt_slot(self) -> Iterator[None]:
        """Hold one of the node's bcrypt slots; RateLimited when none frees up in time."""
        if not self._bcrypt.acquire(timeout=self.limits.bcrypt_wait):
            raise RateLimited("the server is busy checking passwords; try again shortly", retry_after=1.0)
        try:
            yield
        finally:
            self._bcrypt.release()
