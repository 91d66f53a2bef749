"""Plain data of the auth service: users, API keys, plans, scopes, and input validation.

Everything here is pure (no I/O, no clock): the internal API validates input
with these functions before anything is proposed to the Raft log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vectron.errors import InvalidArgument
from vectron.v1 import auth_pb2

__all__ = [
    "PLANS",
    "SCOPES",
    "SCOPE_READ_WRITE",
    "SCOPE_READ_ONLY",
    "DEFAULT_PLAN",
    "DEFAULT_SCOPE",
    "Plan",
    "User",
    "ApiKeyInfo",
    "KeyValidation",
    "Session",
    "LoginResult",
    "CreatedKey",
    "normalize_email",
    "validate_password",
    "validate_key_name",
    "plan_named",
    "validate_scope",
    "MAX_PASSWORD_BYTES",
    "MIN_PASSWORD_CHARS",
]

MAX_PASSWORD_BYTES = 72  # bcrypt's limit: longer passwords are rejected, never truncated
MIN_PASSWORD_CHARS = 8
MAX_EMAIL_CHARS = 254
MAX_KEY_NAME_CHARS = 100

SCOPE_READ_WRITE = "read-write"
SCOPE_READ_ONLY = "read-only"
SCOPES = (SCOPE_READ_WRITE, SCOPE_READ_ONLY)
DEFAULT_SCOPE = SCOPE_READ_WRITE


@dataclass(frozen=True)
class Plan:
    """A plan and the limits it names (0 = unlimited). Enforced by the gateway."""

    name: str
    requests_per_second: int
    max_collections: int
    max_points: int
    max_dimension: int

    def to_proto(self) -> auth_pb2.PlanLimits:
        return auth_pb2.PlanLimits(
            requests_per_second=self.requests_per_second,
            max_collections=self.max_collections,
            max_points=self.max_points,
            max_dimension=self.max_dimension,
        )


PLANS: dict[str, Plan] = {
    p.name: p
    for p in (
        Plan("free", requests_per_second=10, max_collections=3, max_points=100_000, max_dimension=1536),
        Plan("pro", requests_per_second=200, max_collections=100, max_points=10_000_000, max_dimension=4096),
        Plan("unlimited", requests_per_second=0, max_collections=0, max_points=0, max_dimension=0),
    )
}
DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    created_at_ms: int
    #: the account's plan (every key of the account has it); set by an admin
    plan: str = DEFAULT_PLAN
    disabled: bool = False

    @classmethod
    def from_proto(cls, msg: auth_pb2.User | auth_pb2.UserRecord) -> User:
        return cls(
            user_id=msg.user_id, email=msg.email, created_at_ms=msg.created_at_ms, plan=msg.plan or DEFAULT_PLAN,
            disabled=msg.disabled,
        )

    def to_proto(self) -> auth_pb2.User:
        return auth_pb2.User(
            user_id=self.user_id, email=self.email, created_at_ms=self.created_at_ms, plan=self.plan, disabled=self.disabled
        )


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as shown to its owner (never its secret)."""

    key_id: str
    user_id: str
    name: str
    plan: Plan
    scope: str
    created_at_ms: int
    revoked: bool = False
    revoked_at_ms: int = 0

    @classmethod
    def from_proto(cls, msg: auth_pb2.APIKeyInfo) -> ApiKeyInfo:
        limits = msg.limits
        return cls(
            key_id=msg.key_id,
            user_id=msg.user_id,
            name=msg.name,
            plan=Plan(
                msg.plan,
                requests_per_second=limits.requests_per_second,
                max_collections=limits.max_collections,
                max_points=limits.max_points,
                max_dimension=limits.max_dimension,
            ),
            scope=msg.scope,
            created_at_ms=msg.created_at_ms,
            revoked=msg.revoked,
            revoked_at_ms=msg.revoked_at_ms,
        )

    def to_proto(self) -> auth_pb2.APIKeyInfo:
        return auth_pb2.APIKeyInfo(
            key_id=self.key_id,
            user_id=self.user_id,
            name=self.name,
            plan=self.plan.name,
            limits=self.plan.to_proto(),
            scope=self.scope,
            created_at_ms=self.created_at_ms,
            revoked=self.revoked,
            revoked_at_ms=self.revoked_at_ms,
        )


@dataclass(frozen=True)
class KeyValidation:
    """The answer to "is this API key good?"; the key's details only when valid."""

    valid: bool
    user_id: str = ""
    key_id: str = ""
    plan: Plan | None = None
    scope: str = ""
    #: a real, unrevoked key of a disabled account (``valid`` is False)
    disabled: bool = False

    def to_proto(self) -> auth_pb2.ValidateAPIKeyResponse:
        if not self.valid:
            return auth_pb2.ValidateAPIKeyResponse(valid=False, disabled=self.disabled)
        assert self.plan is not None
        return auth_pb2.ValidateAPIKeyResponse(
            valid=True,
            user_id=self.user_id,
            key_id=self.key_id,
            plan=self.plan.name,
            limits=self.plan.to_proto(),
            scope=self.scope,
        )


@dataclass(frozen=True)
class Session:
    """A verified session token."""

    user_id: str
    jti: str
    issued_at: int
    expires_at: int  # unix seconds


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at_ms: int
    user: User


@dataclass(frozen=True)
class CreatedKey:
    key: str  # the full key, shown once
    info: ApiKeyInfo


_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def normalize_email(raw: str) -> str:
    """Strip and lowercase an email address and check its shape; raise InvalidArgument(field="email").

    The whole address is lowercased (not only the domain) so that ``Alice@x.io``
    and ``alice@x.io`` are one account, as users expect. Internationalised
    domains are stored in their IDNA (``xn--``) form.
    """
    if not isinstance(raw, str):
        raise InvalidArgument("email must be a string", field="email")
    email = raw.strip()
    if not email:
        raise InvalidArgument("email is required", field="email")
    if len(email) > MAX_EMAIL_CHARS:
        raise InvalidArgument(f"email is longer than {MAX_EMAIL_CHARS} characters", field="email")
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidArgument("email must look like name@example.com", field="email")
    if len(local) > 64 or not _LOCAL_RE.match(local):
        raise InvalidArgument("email has an invalid name part", field="email")
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidArgument("email has an invalid domain", field="email") from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        raise InvalidArgument("email has an invalid domain", field="email")
    return f"{local.lower()}@{domain}"


def validate_password(password: str) -> bytes:
    """Check a new password and return its UTF-8 bytes; raise InvalidArgument(field="password")."""
    if not isinstance(password, str):
        raise InvalidArgument("password must be a string", field="password")
    encoded = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidArgument(f"password must be at least {MIN_PASSWORD_CHARS} characters", field="password")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidArgument(
            f"password is longer than {MAX_PASSWORD_BYTES} bytes (UTF-8); bcrypt cannot use more, "
            "and it is never truncated",
            field="password",
        )
    if b"\x00" in encoded:
        raise InvalidArgument("password must not contain NUL characters", field="password")
    return encoded


def validate_key_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidArgument("key name is required", field="name")
    if len(name) > MAX_KEY_NAME_CHARS or not name.isprintable():
        raise InvalidArgument(f"key name must be at most {MAX_KEY_NAME_CHARS} printable characters", field="name")
    return name


def plan_named(name: str) -> Plan:
    name = (name or DEFAULT_PLAN).strip().lower()
    try:
        return PLANS[name]
    except KeyError:
        raise InvalidArgument(f"unknown plan {name!r}; one of: {', '.join(PLANS)}", field="plan") from None


def validate_scope(scope: str) -> str:
    scope = (scope or DEFAULT_SCOPE).strip().lower()
    if scope not in SCOPES:
        raise InvalidArgument(f"unknown scope {scope!r}; one of: {', '.join(SCOPES)}", field="scope")
    return scope
