"""The internal API (AuthService) over the in-memory Raft runner."""

from __future__ import annotations

import base64
import json

import bcrypt
import jwt
import pytest

from vectron.errors import AlreadyExists, InvalidArgument, NotFound, RateLimited, ResourceExhausted, Unauthenticated
from vectron.raft import InMemoryGroup
from vectron.services.auth import AuthService, AuthStateMachine, TokenIssuer
from vectron.services.auth.api_keys import hash_secret, parse_key
from vectron.services.auth.throttle import AccessGuard, GuardLimits

from .conftest import FAST, SECRET, FakeClock

PASSWORD = "correct horse battery"


def snapshot(fsm: AuthStateMachine) -> list[tuple[bytes, bytes]]:
    """Every record of the auth tables (a test-only full read)."""
    from vectron.services.auth.storage import TABLES

    out = []
    with fsm.read_txn() as txn:
        for name in TABLES:
            out.extend((name + b":" + bytes(k), bytes(v)) for k, v in txn.cursor(db=fsm.db(name)))
    return out


def login_session(service: AuthService, email: str = "alice@example.com"):
    return service.authenticate(service.login(email, PASSWORD).token)


@pytest.fixture
def alice(service: AuthService):
    return service.register_user("Alice@Example.com", PASSWORD)


def test_register_login_profile(service: AuthService, alice) -> None:
    assert alice.email == "alice@example.com" and len(alice.user_id) == 32
    result = service.login("  ALICE@example.com", PASSWORD)
    assert result.user == alice
    session = service.authenticate(result.token)
    assert session.user_id == alice.user_id
    assert service.get_user_profile(session) == alice
    assert result.expires_at_ms == session.expires_at * 1000


def test_password_is_bcrypt_hashed_before_proposing(service: AuthService, group: InMemoryGroup) -> None:
    proposed: list[bytes] = []
    real = group.propose

    def spy(body: bytes, request_id=None, timeout=5.0) -> bytes:
        proposed.append(body)
        return real(body, request_id, timeout)

    group.propose = spy  # type: ignore[method-assign]
    service.register_user("bob@example.com", PASSWORD)
    from vectron.v1 import auth_pb2

    cmd = auth_pb2.AuthCommand.FromString(proposed[0])
    assert PASSWORD.encode() not in proposed[0]
    assert bcrypt.checkpw(PASSWORD.encode(), cmd.create_user.user.password_hash.encode())
    assert cmd.create_user.user.user_id and cmd.create_user.user.created_at_ms == int(service._clock() * 1000)


def test_duplicate_and_bad_registrations_change_nothing(service: AuthService, group: InMemoryGroup, alice) -> None:
    before = snapshot(group.fsm)
    with pytest.raises(AlreadyExists):
        service.register_user(" alice@EXAMPLE.com ", "another password")
    for email, password, field in [
        ("not-an-email", PASSWORD, "email"),
        ("carol@example.com", "x" * 73, "password"),
        ("carol@example.com", "short", "password"),
    ]:
        with pytest.raises(InvalidArgument) as err:
            service.register_user(email, password)
        assert err.value.field == field
    assert snapshot(group.fsm) == before


def test_wrong_password_and_unknown_user(service: AuthService, alice) -> None:
    with pytest.raises(Unauthenticated):
        service.login("alice@example.com", "wrong password")
    with pytest.raises(Unauthenticated):
        service.login("nobody@example.com", PASSWORD)
    with pytest.raises(Unauthenticated):
        service.login("alice@example.com", "y" * 100)  # too long to ever have been registered
    with pytest.raises(InvalidArgument):
        service.login("alice@example.com", "")


def test_failed_logins_are_throttled_per_email_without_checking_the_password(
    group: InMemoryGroup, tokens: TokenIssuer, clock: FakeClock
) -> None:
    throttle_clock = FakeClock(0)
    service = AuthService(group, tokens, FAST, clock=clock, guard=AccessGuard(GuardLimits(), clock=throttle_clock))
    service.register_user("alice@example.com", PASSWORD)
    service.register_user("bob@example.com", PASSWORD)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            service.login("alice@example.com", "wrong password")
    with pytest.raises(RateLimited, match="too many failed logins") as err:
        service.login("Alice@example.com", PASSWORD)  # even the right password is not checked
    assert 0 < err.value.retry_after <= 60
    service.login("bob@example.com", PASSWORD)  # other emails are unaffected
    service.login("alice@example.com", PASSWORD, "10.0.0.2")  # so is the owner from another address
    throttle_clock.advance(61)
    assert service.login("alice@example.com", PASSWORD).user.email == "alice@example.com"


def _forge(claims: dict, header: dict, key: bytes | None) -> str:
    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    if key is None:
        return f"{b64(header)}.{b64(claims)}."
    return jwt.encode(claims, key, algorithm="HS256", headers=header)


def test_bad_tokens_are_refused(service: AuthService, clock: FakeClock, alice) -> None:
    token = service.login("alice@example.com", PASSWORD).token
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    bad = {
        "wrong signature": jwt.encode(claims, b"another-secret-0123456789abcdef0123", algorithm="HS256"),
        "alg none": _forge(claims, {"alg": "none", "typ": "JWT"}, None),
        "wrong issuer": jwt.encode({**claims, "iss": "someone-else"}, SECRET, algorithm="HS256"),
        "no jti": jwt.encode({k: v for k, v in claims.items() if k != "jti"}, SECRET, algorithm="HS256"),
        "garbage": "not.a.jwt",
        "empty": "",
    }
    for name, forged in bad.items():
        with pytest.raises(Unauthenticated):
            service.authenticate(forged)
        assert name
    assert service.authenticate(token).user_id == alice.user_id
    clock.advance(601)  # past the 600 s session ttl
    with pytest.raises(Unauthenticated, match="expired"):
        service.authenticate(token)


def test_tokens_are_unique(service: AuthService, alice) -> None:
    a = service.login("alice@example.com", PASSWORD)
    b = service.login("alice@example.com", PASSWORD)
    assert service.authenticate(a.token).jti != service.authenticate(b.token).jti


def test_logout_revokes_only_that_session(service: AuthService, alice) -> None:
    one = service.login("alice@example.com", PASSWORD).token
    two = service.login("alice@example.com", PASSWORD).token
    service.logout(service.authenticate(one))
    with pytest.raises(Unauthenticated, match="revoked"):
        service.authenticate(one)
    assert service.authenticate(two).user_id == alice.user_id


def test_deleted_users_tokens_and_keys_stop_working(service: AuthService, alice) -> None:
    token = service.login("alice@example.com", PASSWORD).token
    session = service.authenticate(token)
    key = service.create_api_key(session, "k").key
    service.delete_user(session)
    with pytest.raises(Unauthenticated, match="no longer exists"):
        service.authenticate(token)
    with pytest.raises(Unauthenticated):
        service.get_user_profile(session)
    assert not service.validate_api_key(key).valid
    with pytest.raises(Unauthenticated):
        service.login("alice@example.com", PASSWORD)
    service.register_user("alice@example.com", PASSWORD)  # the email is free again


def test_api_key_lifecycle(service: AuthService, group: InMemoryGroup, alice) -> None:
    session = login_session(service)
    service.register_user("root@example.com", PASSWORD)
    root = service.authenticate(service.login("root@example.com", PASSWORD).token)
    created = service.create_api_key(session, "ci", scope="read-only")
    assert created.info.plan.name == "free"  # a new account's plan
    service.admin_set_plan(root, "alice@example.com", "pro")  # the key follows its account
    parsed = parse_key(created.key)
    assert parsed is not None and parsed.key_id == created.info.key_id
    assert len(base64.urlsafe_b64decode(parsed.secret + "=")) * 8 >= 256
    # only a hash of the secret is stored
    stored = group.fsm.read(lambda s, t: s.key(t, parsed.key_id))
    assert stored.secret_sha256 == hash_secret(parsed.secret)
    assert all(parsed.secret.encode() not in v and created.key.encode() not in v for _, v in snapshot(group.fsm))

    check = service.validate_api_key(created.key)
    assert (check.valid, check.user_id, check.key_id, check.plan.name, check.scope) == (
        True, alice.user_id, created.info.key_id, "pro", "read-only")
    assert check.plan.requests_per_second == 200

    assert [k.key_id for k in service.list_api_keys(session)] == [created.info.key_id]
    revoked = service.revoke_api_key(session, created.info.key_id)
    assert revoked.revoked and revoked.revoked_at_ms > 0
    assert not service.validate_api_key(created.key).valid
    assert service.list_api_keys(session)[0].revoked


def test_validate_refuses_wrong_and_malformed_keys(service: AuthService, alice) -> None:
    session = login_session(service)
    good = service.create_api_key(session, "k").key
    parsed = parse_key(good)
    assert parsed is not None
    wrong_secret = f"vk_{parsed.key_id}_{'A' * 43}"
    for key in (wrong_secret, "vk_000000000000_" + "B" * 43, "vk_short", "Bearer something", good + "x"):
        assert not service.validate_api_key(key).valid
    with pytest.raises(InvalidArgument):
        service.validate_api_key("")


def test_keys_are_private_to_their_owner(service: AuthService, group: InMemoryGroup, alice) -> None:
    service.register_user("bob@example.com", PASSWORD)
    a, b = login_session(service), login_session(service, "bob@example.com")
    ka = service.create_api_key(a, "a-key")
    kb = service.create_api_key(b, "b-key")
    assert [k.key_id for k in service.list_api_keys(a)] == [ka.info.key_id]
    assert [k.key_id for k in service.list_api_keys(b)] == [kb.info.key_id]
    before = snapshot(group.fsm)
    with pytest.raises(NotFound):
        service.revoke_api_key(b, ka.info.key_id)
    with pytest.raises(NotFound):
        service.revoke_api_key(b, "ffffffffffff")
    with pytest.raises(InvalidArgument):
        service.revoke_api_key(b, ka.key)  # the full key is not an id
    assert snapshot(group.fsm) == before
    assert service.validate_api_key(ka.key).valid


def test_bad_key_requests_change_nothing(service: AuthService, group: InMemoryGroup, alice) -> None:
    session = login_session(service)
    before = snapshot(group.fsm)
    for kwargs, field in [
        (dict(name=""), "name"),
        (dict(name="k", scope="admin"), "scope"),
        (dict(name="x" * 101), "name"),
    ]:
        with pytest.raises(InvalidArgument) as err:
            service.create_api_key(session, **kwargs)
        assert err.value.field == field
    assert snapshot(group.fsm) == before


def test_keys_per_user_are_capped(group: InMemoryGroup, tokens: TokenIssuer, clock: FakeClock) -> None:
    from dataclasses import replace

    service = AuthService(group, tokens, replace(FAST, max_keys_per_user=2), clock=clock)
    service.register_user("alice@example.com", PASSWORD)
    session = login_session(service)
    service.create_api_key(session, "1")
    service.create_api_key(session, "2")
    with pytest.raises(ResourceExhausted):
        service.create_api_key(session, "3")
    assert len(service.list_api_keys(session)) == 2


def test_concurrent_wrong_passwords_cannot_overrun_the_throttle(service: AuthService, alice) -> None:
    import threading

    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def attempt() -> None:
        barrier.wait()
        try:
            service.login("alice@example.com", "wrong password")
        except (Unauthenticated, ResourceExhausted) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["RateLimited"] * 7 + ["Unauthenticated"] * 5


def test_an_unavailable_group_does_not_use_up_login_attempts(service: AuthService, group: InMemoryGroup, alice) -> None:
    from vectron.errors import Unavailable

    real = group.read

    def down(*args, **kwargs):
        raise Unavailable("no leader")

    group.read = down  # type: ignore[method-assign]
    for _ in range(6):
        with pytest.raises(Unavailable):
            service.login("alice@example.com", PASSWORD)
    group.read = real  # type: ignore[method-assign]
    assert service.login("alice@example.com", PASSWORD).user == alice
