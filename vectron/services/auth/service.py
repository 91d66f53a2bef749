"""The internal API of the auth service: one method per operation, raising vectron.errors.

The gRPC servicer (``grpc_server.py``) and the gateway's REST routes are thin
adapters over :class:`AuthService`. Operations that need a signed-in user take
a :class:`~vectron.services.auth.model.Session` obtained from
:meth:`AuthService.authenticate` (the adapters decide, in one table, which
operations need one).

Writes are decided here, on the proposing node, and then proposed to the
group's Raft log: user ids, key ids, timestamps, bcrypt salts and hashes and
key hashes all travel inside the command, so the FSM stays deterministic.
Reads run against the local FSM after the group's read barrier
(``consistency``, linearizable by default).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import bcrypt

from vectron.errors import InvalidArgument, NotFound, ResourceExhausted, Unauthenticated
from vectron.raft.protocol import Group
from vectron.raft.retry import propose_with_retry
from vectron.services.auth import api_keys
from vectron.services.auth.commands import decode_result
from vectron.services.auth.fsm import AuthStateMachine
from vectron.services.auth.model import (
    ApiKeyInfo,
    CreatedKey,
    KeyValidation,
    LoginResult,
    Session,
    User,
    normalize_email,
    plan_named,
    validate_key_name,
    validate_password,
    validate_scope,
)
from vectron.services.auth.sessions import TokenIssuer
from vectron.services.auth.throttle import LoginThrottle
from vectron.v1 import auth_pb2

__all__ = ["AuthConfig", "AuthService"]

log = logging.getLogger(__name__)

T = TypeVar("T")



@dataclass(frozen=True)
class AuthConfig:
    session_ttl_seconds: int = 3600
    bcrypt_rounds: int = 12
    max_keys_per_user: int = 100
    login_max_failures: int = 5
    login_window_seconds: float = 60.0
    #: total time a write may take, retries (same request id) included
    write_timeout: float = 10.0
    read_timeout: float = 5.0
    #: consistency of account reads (login, profile, key list, session checks)
    read_consistency: str = "linearizable"
    #: consistency of ValidateAPIKey (the gateway also caches answers a few seconds)
    validate_consistency: str = "linearizable"


def _now_ms(clock: Callable[[], float]) -> int:
    return int(clock() * 1000)


class AuthService:
    """Users, sessions and API keys over one auth Raft group."""

    def __init__(
        self,
        group: Group,
        tokens: TokenIssuer,
        config: AuthConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.group = group
        self.tokens = tokens
        self.config = config or AuthConfig()
        self._clock = clock
        self.throttle = throttle or LoginThrottle(
            max_failures=self.config.login_max_failures, window=self.config.login_window_seconds
        )
        # Checked against when the email is unknown, so a miss costs the same as a wrong password.
        self._dummy_hash = bcrypt.hashpw(b"vectron-no-such-user", bcrypt.gensalt(self.config.bcrypt_rounds))

    # -- plumbing ------------------------------------------------------------------
    def _propose(self, command: auth_pb2.AuthCommand) -> auth_pb2.AuthResult:
        """Propose a command (retried with one request id until ``write_timeout``); raise the result's error."""
        raw = propose_with_retry(self.group, command.SerializeToString(), timeout=self.config.write_timeout, what="auth")
        return decode_result(raw)

    def _read(self, fn: Callable[[AuthStateMachine], T], consistency: str | None = None) -> T:
        return self.group.read(fn, consistency=consistency or self.config.read_consistency, timeout=self.config.read_timeout)

    def _active_user(self, session: Session) -> auth_pb2.UserRecord:
        def read(fsm: AuthStateMachine) -> auth_pb2.UserRecord | None:
            return fsm.read(lambda s, txn: s.user_by_id(txn, session.user_id))

        record = self._read(read)
        if record is None:
            raise Unauthenticated("the session's user no longer exists")
        return record

    # -- users and sessions ----------------------------------------------------------
    def register_user(self, email: str, password: str) -> User:
        """Create an account. ALREADY_EXISTS if the email is taken (decided by the FSM)."""
        email = normalize_email(email)
        password_bytes = validate_password(password)
        record = auth_pb2.UserRecord(
            user_id=uuid.uuid4().hex,
            email=email,
            password_hash=bcrypt.hashpw(password_bytes, bcrypt.gensalt(self.config.bcrypt_rounds)).decode("ascii"),
            created_at_ms=_now_ms(self._clock),
        )
        result = self._propose(auth_pb2.AuthCommand(create_user=auth_pb2.CreateUserCmd(user=record)))
        log.info("registered user %s", result.user.user_id)
        return User.from_proto(result.user)

    def login(self, email: str, password: str) -> LoginResult:
        """Check a password and issue a session token. UNAUTHENTICATED on a bad email or
        password; RESOURCE_EXHAUSTED after too many failures for this email."""
        email = normalize_email(email)
        if not isinstance(password, str) or not password:
            raise InvalidArgument("password is required", field="password")
        if not self.throttle.try_attempt(email):  # counts as a failure until it succeeds
            raise ResourceExhausted("too many attempts; try again later")
        password_bytes = password.encode("utf-8")
        try:
            record = self._read(lambda fsm: fsm.read(lambda s, txn: s.user_by_email(txn, email)))
        except BaseException:
            self.throttle.cancel_attempt(email)  # nothing was checked
            raise
        if len(password_bytes) > 72 or b"\x00" in password_bytes:
            ok = False  # no such password can have been registered
        elif record is None:
            bcrypt.checkpw(password_bytes, self._dummy_hash)
            ok = False
        else:
            ok = bcrypt.checkpw(password_bytes, record.password_hash.encode("ascii"))
        if not ok or record is None:
            raise Unauthenticated("wrong email or password")
        self.throttle.record_success(email)
        token, session = self.tokens.issue(record.user_id)
        return LoginResult(token=token, expires_at_ms=session.expires_at * 1000, user=User.from_proto(record))

    def authenticate(self, token: str) -> Session:
        """Verify a session token: signature, algorithm, claims, expiry, that the user
        still exists and that the session was not revoked. UNAUTHENTICATED otherwise."""
        session = self.tokens.verify(token)

        def read(fsm: AuthStateMachine) -> tuple[bool, bool]:
            return fsm.read(lambda s, txn: (s.user_exists(txn, session.user_id), s.session_revoked(txn, session.jti)))

        exists, revoked = self._read(read)
        if not exists:
            raise Unauthenticated("the session's user no longer exists")
        if revoked:
            raise Unauthenticated("session revoked; log in again")
        return session

    def get_user_profile(self, session: Session) -> User:
        return User.from_proto(self._active_user(session))

    def logout(self, session: Session) -> None:
        """Revoke this session's token (until it would have expired anyway)."""
        self._propose(
            auth_pb2.AuthCommand(
                revoke_session=auth_pb2.RevokeSessionCmd(
                    jti=session.jti, expires_at_ms=session.expires_at * 1000, now_ms=_now_ms(self._clock)
                )
            )
        )

    def delete_user(self, session: Session) -> None:
        """Delete the signed-in user and all their API keys; their tokens stop working."""
        try:
            self._propose(auth_pb2.AuthCommand(delete_user=auth_pb2.DeleteUserCmd(user_id=session.user_id)))
        except NotFound:
            raise Unauthenticated("the session's user no longer exists") from None
        log.info("deleted user %s", session.user_id)

    # -- API keys --------------------------------------------------------------------
    def create_api_key(self, session: Session, name: str, plan: str = "", scope: str = "") -> CreatedKey:
        """Create a key for the signed-in user; the full key is returned this once."""
        name = validate_key_name(name)
        plan_obj = plan_named(plan)
        scope = validate_scope(scope)
        full_key, parts = api_keys.new_key()
        info = ApiKeyInfo(
            key_id=parts.key_id,
            user_id=session.user_id,
            name=name,
            plan=plan_obj,
            scope=scope,
            created_at_ms=_now_ms(self._clock),
        )
        record = auth_pb2.APIKeyRecord(info=info.to_proto(), secret_sha256=api_keys.hash_secret(parts.secret))
        try:
            result = self._propose(
                auth_pb2.AuthCommand(
                    create_key=auth_pb2.CreateKeyCmd(key=record, max_keys_per_user=self.config.max_keys_per_user)
                )
            )
        except NotFound:
            raise Unauthenticated("the session's user no longer exists") from None
        log.info("user %s created API key %s", session.user_id, parts.key_id)
        return CreatedKey(key=full_key, info=ApiKeyInfo.from_proto(result.key))

    def list_api_keys(self, session: Session) -> list[ApiKeyInfo]:
        """The signed-in user's keys (revoked ones included, marked), read from the index."""

        def read(fsm: AuthStateMachine) -> list[auth_pb2.APIKeyRecord]:
            return fsm.read(lambda s, txn: s.keys_of_user(txn, session.user_id))

        return [ApiKeyInfo.from_proto(r.info) for r in self._read(read)]

    def revoke_api_key(self, session: Session, key_id: str) -> ApiKeyInfo:
        """Revoke one of the signed-in user's keys (NOT_FOUND for anyone else's)."""
        key_id = (key_id or "").strip()
        if not key_id:
            raise InvalidArgument("key_id is required", field="key_id")
        if key_id.startswith("vk_"):
            parsed = api_keys.parse_key(key_id)
            raise InvalidArgument(
                "give the key id, not the full key" + (f" (here: {parsed.key_id})" if parsed else ""), field="key_id"
            )
        result = self._propose(
            auth_pb2.AuthCommand(
                revoke_key=auth_pb2.RevokeKeyCmd(user_id=session.user_id, key_id=key_id, revoked_at_ms=_now_ms(self._clock))
            )
        )
        log.info("user %s revoked API key %s", session.user_id, key_id)
        return ApiKeyInfo.from_proto(result.key)

    def validate_api_key(self, full_key: str) -> KeyValidation:
        """Is this a live key? One SHA-256 and a constant-time compare, never bcrypt.
        Unknown, malformed and revoked keys are ``valid=False`` (not errors)."""
        if not isinstance(full_key, str) or not full_key.strip():
            raise InvalidArgument("key is required", field="key")
        parsed = api_keys.parse_key(full_key)
        if parsed is None:
            return KeyValidation(valid=False)

        def read(fsm: AuthStateMachine) -> auth_pb2.APIKeyRecord | None:
            return fsm.read(lambda s, txn: s.key(txn, parsed.key_id))

        record = self._read(read, self.config.validate_consistency)
        if record is None or record.info.revoked or not api_keys.secret_matches(parsed.secret, record.secret_sha256):
            return KeyValidation(valid=False)
        info = ApiKeyInfo.from_proto(record.info)
        return KeyValidation(valid=True, user_id=info.user_id, key_id=info.key_id, plan=info.plan, scope=info.scope)
