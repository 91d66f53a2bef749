"""Key format and the callers' short-lived validation cache."""

from __future__ import annotations

import pytest

from vectron.errors import Unavailable
from vectron.services.auth import ApiKeyCache, AuthService, KeyValidation
from vectron.services.auth.api_keys import hash_secret, new_key, parse_key, secret_matches

from .conftest import FakeClock


def test_new_keys_parse_and_are_unique() -> None:
    keys = {new_key()[0] for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        parsed = parse_key(key)
        assert parsed is not None and key == f"vk_{parsed.key_id}_{parsed.secret}"
        assert secret_matches(parsed.secret, hash_secret(parsed.secret))
        assert not secret_matches(parsed.secret[:-1] + "x", hash_secret(parsed.secret)) or parsed.secret.endswith("x")


def test_cache_answers_within_ttl_and_revocation_shows_after_it(service: AuthService) -> None:
    service.register_user("alice@example.com", "correct horse battery")
    session = service.authenticate(service.login("alice@example.com", "correct horse battery").token)
    created = service.create_api_key(session, "k")
    calls: list[str] = []
    clock = FakeClock(0)

    def validate(key: str) -> KeyValidation:
        calls.append(key)
        return service.validate_api_key(key)

    cache = ApiKeyCache(validate, ttl=5.0, clock=clock)
    assert cache.get(created.key).valid
    service.revoke_api_key(session, created.info.key_id)
    clock.advance(4.9)
    assert cache.get(created.key).valid  # still cached
    assert len(calls) == 1
    clock.advance(0.2)
    assert not cache.get(created.key).valid  # the revocation is seen after the ttl
    assert len(calls) == 2


def test_cache_does_not_cache_errors_and_is_bounded() -> None:
    clock = FakeClock(0)
    failures = [Unavailable("auth group down")]

    def validate(key: str) -> KeyValidation:
        if failures:
            raise failures.pop()
        return KeyValidation(valid=False)

    cache = ApiKeyCache(validate, ttl=5.0, max_entries=3, clock=clock)
    with pytest.raises(Unavailable):
        cache.get("vk_a")
    assert not cache.get("vk_a").valid
    for i in range(10):
        cache.get(f"vk_{i}")
    assert len(cache) == 3
    cache.invalidate()
    assert len(cache) == 0
