"""The auth node's AccessGuard: login failures per (email, address) and per address,
registrations per address, and the node-wide bcrypt cap each fire, with a Retry-After."""

from __future__ import annotations

import threading

import pytest

from vectron.errors import RateLimited
from vectron.services.auth.throttle import AccessGuard, GuardLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failures_per_account_and_address_do_not_lock_out_other_addresses() -> None:
    clock = Clock()
    guard = AccessGuard(GuardLimits(login_failures_per_account_address=2, login_failures_per_address=100), clock=clock)
    for _ in range(2):
        guard.begin_login("a@x.io", "10.0.0.1")  # both fail (never marked succeeded)
    with pytest.raises(RateLimited) as err:
        guard.begin_login("a@x.io", "10.0.0.1")
    assert 0 < err.value.retry_after <= 60
    guard.begin_login("a@x.io", "10.0.0.2")  # the owner elsewhere
    guard.login_succeeded("a@x.io", "10.0.0.2")
    clock.now += 61
    guard.begin_login("a@x.io", "10.0.0.1")


def test_failures_per_address_stop_spraying() -> None:
    guard = AccessGuard(GuardLimits(login_failures_per_account_address=100, login_failures_per_address=3), clock=Clock())
    for i in range(3):
        guard.begin_login(f"u{i}@x.io", "10.0.0.9")
    with pytest.raises(RateLimited, match="from your address"):
        guard.begin_login("u99@x.io", "10.0.0.9")
    guard.begin_login("u99@x.io", "10.0.0.8")


def test_registrations_per_address() -> None:
    guard = AccessGuard(GuardLimits(registrations_per_address=2), clock=Clock())
    guard.begin_registration("10.0.0.1")
    guard.begin_registration("10.0.0.1")
    with pytest.raises(RateLimited) as err:
        guard.begin_registration("10.0.0.1")
    assert err.value.retry_after > 0
    guard.begin_registration("10.0.0.2")
    guard.begin_registration("")  # an internal caller names no address: not throttled per address


def test_the_bcrypt_cap_refuses_when_every_slot_stays_busy() -> None:
    guard = AccessGuard(GuardLimits(bcrypt_slots=1, bcrypt_wait=0.05))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with guard.bcrypt_slot():
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    with pytest.raises(RateLimited, match="busy"):
        with guard.bcrypt_slot():
            pass
    release.set()
    t.join()
    with guard.bcrypt_slot():
        pass


def test_throttle_factor_scales_the_per_address_budgets_and_they_still_fire() -> None:
    base = GuardLimits()
    assert base.scaled(1) == base
    scaled = base.scaled(3)
    assert (scaled.registrations_per_address, scaled.login_failures_per_address, scaled.login_failures_per_account_address) == (
        3 * base.registrations_per_address, 3 * base.login_failures_per_address, 3 * base.login_failures_per_account_address)
    guard = AccessGuard(scaled)
    for _ in range(scaled.registrations_per_address):
        assert guard.registrations.try_attempt("10.0.0.9")
    assert not guard.registrations.try_attempt("10.0.0.9")  # the larger budget still runs out
