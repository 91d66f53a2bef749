"""Input validation of the auth service: emails, passwords, plans, scopes."""

from __future__ import annotations

import pytest

from vectron.errors import InvalidArgument
from vectron.services.auth.model import PLANS, normalize_email, plan_named, validate_password, validate_scope


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM \n", "alice@example.com"),
        ("a.b+tag@sub.example.org", "a.b+tag@sub.example.org"),
        ("bob@example.com.", "bob@example.com"),
        ("bob@bücher.de", "bob@xn--bcher-kva.de"),
    ],
)
def test_emails_are_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "alice", "alice@", "@example.com", "alice@localhost", "a b@example.com", "alice@exa_mple.com",
     "alice@-example.com", "a..b@example.com", "x" * 65 + "@example.com", "a@" + "b" * 250 + ".com"],
)
def test_bad_emails_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        normalize_email(raw)
    assert err.value.field == "email"


def test_passwords_over_72_bytes_are_rejected_never_truncated() -> None:
    assert validate_password("x" * 72) == b"x" * 72
    with pytest.raises(InvalidArgument, match="72 bytes"):
        validate_password("x" * 73)
    # 36 characters but 72 bytes is fine; 37 two-byte characters (74 bytes) is not
    assert len(validate_password("é" * 36)) == 72
    with pytest.raises(InvalidArgument, match="72 bytes"):
        validate_password("é" * 37)


@pytest.mark.parametrize("bad", ["", "short", "abc\x00defghij"])
def test_weak_or_odd_passwords_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_password(bad)
    assert err.value.field == "password"


def test_plans_and_scopes() -> None:
    assert set(PLANS) == {"free", "pro", "unlimited"}
    assert plan_named("").name == "free"
    assert plan_named(" PRO ").name == "pro"
    assert plan_named("unlimited").max_points == 0
    for plan in PLANS.values():
        assert plan.requests_per_second >= 0 and plan.max_dimension >= 0
    with pytest.raises(InvalidArgument) as err:
        plan_named("gold")
    assert err.value.field == "plan"
    assert validate_scope("") == "read-write"
    assert validate_scope("read-only") == "read-only"
    with pytest.raises(InvalidArgument):
        validate_scope("admin")
