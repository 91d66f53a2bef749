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
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import bcrypt

from vectron.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from vectron.raft.protocol import Group
from vectron.raft.retry import propose_with_retry
from vectron.services.auth import api_keys
from vectron.services.auth.commands import decode_result
from vectron.services.auth.fsm import AuthStateMachine
from vectron.services.auth.model import (
    DEFAULT_PLAN,
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
from vectron.services.auth.storage import AuthStorage
from vectron.services.auth.throttle import AccessGuard, GuardLimits
from vectron.v1 import auth_pb2

__all__ = ["AuthConfig", "AuthService"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: users in one page of admin_list_users
MAX_USERS_PAGE = 1000



@dataclass(frozen=True)
class AuthConfig:
    session_ttl_seconds: int = 3600
    bcrypt_rounds: int = 12
    max_keys_per_user: int = 100
    #: login and registration throttles, bcrypt concurrency (see throttle.py)
    guard: GuardLimits = GuardLimits()
    #: emails of the accounts that may use the Admin* operations (normalised at start)
    admin_emails: frozenset[str] = frozenset()
    #: the plan of a new account
    default_plan: str = DEFAULT_PLAN
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
        guard: AccessGuard | None = None,
    ) -> None:
        self.group = group
        self.tokens = tokens
        self.config = config or AuthConfig()
        self._clock = clock
        self.guard = guard or AccessGuard(self.config.guard)
        self.admins = frozenset(normalize_email(e) for e in self.config.admin_emails)
        self.default_plan = plan_named(self.config.default_plan).name
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
    def register_user(self, email: str, password: str, client_address: str = "") -> User:
        """Create an account with the node's default plan. ALREADY_EXISTS if the email is
        taken (decided by the FSM); RateLimited past the address's registration budget."""
        email = normalize_email(email)
        password_bytes = validate_password(password)
        self.guard.begin_registration(client_address)
        try:
            with self.guard.bcrypt_slot():
                hashed = bcrypt.hashpw(password_bytes, bcrypt.gensalt(self.config.bcrypt_rounds)).decode("ascii")
        except BaseException:
            self.guard.cancel_registration(client_address)
            raise
        record = auth_pb2.UserRecord(
            user_id=uuid.uuid4().hex, email=email, password_hash=hashed, created_at_ms=_now_ms(self._clock),
            plan=self.default_plan,
        )
        result = self._propose(auth_pb2.AuthCommand(create_user=auth_pb2.CreateUserCmd(user=record)))
        log.info("registered user %s", result.user.user_id)
        return User.from_proto(result.user)

    def login(self, email: str, password: str, client_address: str = "") -> LoginResult:
        """Check a password and issue a session token. UNAUTHENTICATED on a bad email or
        password; RateLimited (with the seconds to wait) after too many failures for this
        email from this client address, or from this address for any email, or when every
        bcrypt slot of the node stays busy; PERMISSION_DENIED for a disabled account."""
        email = normalize_email(email)
        if not isinstance(password, str) or not password:
            raise InvalidArgument("password is required", field="password")
        self.guard.begin_login(email, client_address)  # counts as a failure until it succeeds
        password_bytes = password.encode("utf-8")
        try:
            record = self._read(lambda fsm: fsm.read(lambda s, txn: s.user_by_email(txn, email)))
            with self.guard.bcrypt_slot():
                if len(password_bytes) > 72 or b"\x00" in password_bytes:
                    ok = False  # no such password can have been registered
                elif record is None:
                    bcrypt.checkpw(password_bytes, self._dummy_hash)
                    ok = False
                else:
                    ok = bcrypt.checkpw(password_bytes, record.password_hash.encode("ascii"))
        except BaseException:
            self.guard.cancel_login(email, client_address)  # nothing was checked
            raise
        if not ok or record is None:
            raise Unauthenticated("wrong email or password")
        self.guard.login_succeeded(email, client_address)
        if record.disabled:
            raise PermissionDenied("this account is disabled; ask an administrator")
        token, session = self.tokens.issue(record.user_id)
        return LoginResult(token=token, expires_at_ms=session.expires_at * 1000, user=User.from_proto(record))

    def authenticate(self, token: str) -> Session:
        """Verify a session token: signature, algorithm, claims, expiry, that the user
        still exists and that the session was not revoked. UNAUTHENTICATED otherwise."""
        session = self.tokens.verify(token)

        def read(fsm: AuthStateMachine) -> tuple[auth_pb2.UserRecord | None, bool]:
            return fsm.read(lambda s, txn: (s.user_by_id(txn, session.user_id), s.session_revoked(txn, session.jti)))

        record, revoked = self._read(read)
        if record is None:
            raise Unauthenticated("the session's user no longer exists")
        if revoked:
            raise Unauthenticated("session revoked; log in again")
        if record.disabled:
            raise PermissionDenied("this account is disabled; ask an administrator")
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
    def create_api_key(self, session: Session, name: str, scope: str = "") -> CreatedKey:
        """Create a key for the signed-in user; the full key is returned this once. The key
        has its account's plan (plans belong to accounts and are set by an admin)."""
        name = validate_key_name(name)
        scope = validate_scope(scope)
        plan_obj = plan_named(self._active_user(session).plan)
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
        return CreatedKey(key=full_key, info=replace(ApiKeyInfo.from_proto(result.key), plan=plan_obj))

    def list_api_keys(self, session: Session) -> list[ApiKeyInfo]:
        """The signed-in user's keys (revoked ones included, marked), read from the index."""

        def read(fsm: AuthStateMachine) -> tuple[auth_pb2.UserRecord | None, list[auth_pb2.APIKeyRecord]]:
            return fsm.read(lambda s, txn: (s.user_by_id(txn, session.user_id), s.keys_of_user(txn, session.user_id)))

        user, records = self._read(read)
        plan = plan_named(user.plan if user is not None else "")
        return [replace(ApiKeyInfo.from_proto(r.info), plan=plan) for r in records]

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
        return replace(ApiKeyInfo.from_proto(result.key), plan=plan_named(self._active_user(session).plan))

    def validate_api_key(self, full_key: str) -> KeyValidation:
        """Is this a live key? One SHA-256 and a constant-time compare, never bcrypt.
        Unknown, malformed and revoked keys are ``valid=False`` (not errors)."""
        if not isinstance(full_key, str) or not full_key.strip():
            raise InvalidArgument("key is required", field="key")
        parsed = api_keys.parse_key(full_key)
        if parsed is None:
            return KeyValidation(valid=False)

        def read(fsm: AuthStateMachine) -> tuple[auth_pb2.APIKeyRecord | None, auth_pb2.UserRecord | None]:
            def inner(s: AuthStorage, txn: Any) -> tuple[auth_pb2.APIKeyRecord | None, auth_pb2.UserRecord | None]:
                key = s.key(txn, parsed.key_id)
                return key, (s.user_by_id(txn, key.info.user_id) if key is not None else None)

            return fsm.read(inner)

        record, user = self._read(read, self.config.validate_consistency)
        if record is None or record.info.revoked or not api_keys.secret_matches(parsed.secret, record.secret_sha256):
            return KeyValidation(valid=False)
        if user is None or user.disabled:
            return KeyValidation(valid=False, disabled=user is not None)
        info = record.info
        return KeyValidation(valid=True, user_id=info.user_id, key_id=info.key_id, plan=plan_named(user.plan), scope=info.scope)

    # -- administration (the session of an admin) ------------------------------------
    def require_admin(self, session: Session) -> User:
        """The signed-in admin; PERMISSION_DENIED for anyone whose email is not in ``admin_emails``."""
        me = User.from_proto(self._active_user(session))
        if me.email not in self.admins:
            raise PermissionDenied("this operation is for administrators (named by --admin-emails)")
        return me

    def _target(self, user: str) -> auth_pb2.UserRecord:
        """The account named by ``user`` (an id or an email); NOT_FOUND naming the field ``user``."""
        user = (user or "").strip()
        if not user:
            raise InvalidArgument("user is required (an id or an email)", field="user")
        email = normalize_email(user) if "@" in user else None

        def read(fsm: AuthStateMachine) -> auth_pb2.UserRecord | None:
            return fsm.read(lambda s, txn: s.user_by_email(txn, email) if email else s.user_by_id(txn, user))

        record = self._read(read)
        if record is None:
            raise NotFound(f"no user {user!r}", field="user")
        return record

    def admin_list_users(self, session: Session, after: str = "", limit: int = 100) -> tuple[list[User], str]:
        """A page of users in email order and the ``after`` of the next page ("" at the end)."""
        self.require_admin(session)
        if not 0 <= limit <= MAX_USERS_PAGE:
            raise InvalidArgument(f"limit must be in [1, {MAX_USERS_PAGE}]", field="limit")
        limit = limit or 100
        records = self._read(lambda fsm: fsm.read(lambda s, txn: s.users_after(txn, after or "", limit + 1)))
        users = [User.from_proto(r) for r in records[:limit]]
        return users, (users[-1].email if len(records) > limit else "")

    def admin_set_plan(self, session: Session, user: str, plan: str) -> User:
        """Give an account a plan: every key of it has the plan at its next validation."""
        me = self.require_admin(session)
        plan_obj = plan_named(plan)
        target = self._target(user)
        result = self._propose(auth_pb2.AuthCommand(set_user_plan=auth_pb2.SetUserPlanCmd(user_id=target.user_id, plan=plan_obj.name)))
        log.info("admin %s set the plan of user %s to %s", me.user_id, target.user_id, plan_obj.name)
        return User.from_proto(result.user)

    def admin_set_disabled(self, session: Session, user: str, disabled: bool) -> User:
        """Disable (no login, no session, no key works) or enable an account. An admin
        cannot disable their own account."""
        me = self.require_admin(session)
        target = self._target(user)
        if disabled and target.user_id == me.user_id:
            raise InvalidArgument("an admin cannot disable their own account", field="user")
        result = self._propose(
            auth_pb2.AuthCommand(set_user_disabled=auth_pb2.SetUserDisabledCmd(user_id=target.user_id, disabled=disabled))
        )
        log.info("admin %s %s user %s", me.user_id, "disabled" if disabled else "enabled", target.user_id)
        return User.from_proto(result.user)

    def admin_delete_user(self, session: Session, user: str) -> User:
        """Delete an account and its keys (its collections are the caller's to drop: the
        gateway drops them first). An admin cannot delete their own account this way."""
        me = self.require_admin(session)
        target = self._target(user)
        if target.user_id == me.user_id:
            raise InvalidArgument("an admin cannot delete their own account", field="user")
        self._propose(auth_pb2.AuthCommand(delete_user=auth_pb2.DeleteUserCmd(user_id=target.user_id)))
        log.info("admin %s deleted user %s", me.user_id, target.user_id)
        return User.from_proto(target)
