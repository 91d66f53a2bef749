"""The stateless command dispatcher of the auth FSM: ``AuthCommand`` in, ``AuthResult`` out.

Pure functions of (transaction, command): deterministic, no clock, no
randomness (every id, timestamp and hash is in the command). Errors are
returned as ``AuthResult.error`` values, never raised, and an erroring command
writes nothing. Also holds the helpers to build commands and to decode results
on the proposing side.
"""

from __future__ import annotations

from collections.abc import Callable

import lmdb

from vectron.errors import AlreadyExists, NotFound, ResourceExhausted, VectronError, error_from_code
from vectron.services.auth.storage import AuthStorage
from vectron.v1 import auth_pb2

__all__ = ["dispatch", "error_result", "decode_result"]


def error_result(error: VectronError) -> auth_pb2.AuthResult:
    return auth_pb2.AuthResult(error=auth_pb2.AuthError(code=error.code, message=error.message, field=error.field or ""))


def decode_result(raw: bytes) -> auth_pb2.AuthResult:
    """Parse an FSM result; raise the VectronError it carries, if any."""
    result = auth_pb2.AuthResult.FromString(raw)
    if result.WhichOneof("result") == "error":
        raise error_from_code(result.error.code, result.error.message, result.error.field or None)
    if result.WhichOneof("result") is None:
        raise error_from_code("internal", "the auth state machine returned an empty result")
    return result


def _create_user(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.CreateUserCmd) -> auth_pb2.AuthResult:
    user = cmd.user
    if store.user_by_email(txn, user.email) is not None:
        return error_result(AlreadyExists(f"a user with email {user.email!r} already exists", field="email"))
    if not store.put_new_user(txn, user):
        return error_result(AlreadyExists("user id already taken; retry", field="user_id"))
    return auth_pb2.AuthResult(user=_user_view(user))


def _delete_user(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.DeleteUserCmd) -> auth_pb2.AuthResult:
    if not store.delete_user(txn, cmd.user_id):
        return error_result(NotFound("user not found", field="user_id"))
    return auth_pb2.AuthResult(ok=True)


def _create_key(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.CreateKeyCmd) -> auth_pb2.AuthResult:
    info = cmd.key.info
    if not store.user_exists(txn, info.user_id):
        return error_result(NotFound("user not found", field="user_id"))
    limit = cmd.max_keys_per_user
    if limit and store.count_keys_of_user(txn, info.user_id, stop_at=limit) >= limit:
        return error_result(ResourceExhausted(f"a user may hold at most {limit} API keys; revoke or delete some"))
    if not store.put_new_key(txn, cmd.key):
        return error_result(AlreadyExists("key id already taken; retry", field="key_id"))
    return auth_pb2.AuthResult(key=info)


def _revoke_key(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.RevokeKeyCmd) -> auth_pb2.AuthResult:
    record = store.key(txn, cmd.key_id)
    if record is None or record.info.user_id != cmd.user_id:  # another user's key is "not found"
        return error_result(NotFound(f"API key {cmd.key_id!r} not found", field="key_id"))
    if not record.info.revoked:  # revoking twice is a no-op that keeps the first time
        record.info.revoked = True
        record.info.revoked_at_ms = cmd.revoked_at_ms
        store.put_key(txn, record)
    return auth_pb2.AuthResult(key=record.info)


def _update_user(store: AuthStorage, txn: lmdb.Transaction, user_id: str, **changes: object) -> auth_pb2.AuthResult:
    record = store.user_by_id(txn, user_id)
    if record is None:
        return error_result(NotFound("user not found", field="user"))
    for name, value in changes.items():
        setattr(record, name, value)
    store.put_user(txn, record)
    return auth_pb2.AuthResult(user=_user_view(record))


def _set_user_plan(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.SetUserPlanCmd) -> auth_pb2.AuthResult:
    return _update_user(store, txn, cmd.user_id, plan=cmd.plan)


def _set_user_disabled(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.SetUserDisabledCmd) -> auth_pb2.AuthResult:
    return _update_user(store, txn, cmd.user_id, disabled=cmd.disabled)


def _user_view(record: auth_pb2.UserRecord) -> auth_pb2.User:
    return auth_pb2.User(
        user_id=record.user_id, email=record.email, created_at_ms=record.created_at_ms, plan=record.plan, disabled=record.disabled
    )


def _revoke_session(store: AuthStorage, txn: lmdb.Transaction, cmd: auth_pb2.RevokeSessionCmd) -> auth_pb2.AuthResult:
    store.revoke_session(txn, cmd.jti, cmd.expires_at_ms)
    store.prune_revoked_sessions(txn, cmd.now_ms)
    return auth_pb2.AuthResult(ok=True)


_HANDLERS: dict[str, Callable[[AuthStorage, lmdb.Transaction, object], auth_pb2.AuthResult]] = {
    "create_user": _create_user,  # type: ignore[dict-item]
    "delete_user": _delete_user,  # type: ignore[dict-item]
    "create_key": _create_key,  # type: ignore[dict-item]
    "revoke_key": _revoke_key,  # type: ignore[dict-item]
    "revoke_session": _revoke_session,  # type: ignore[dict-item]
    "set_user_plan": _set_user_plan,  # type: ignore[dict-item]
    "set_user_disabled": _set_user_disabled,  # type: ignore[dict-item]
}


def dispatch(store: AuthStorage, txn: lmdb.Transaction, body: bytes) -> bytes:
    """Apply one serialized ``AuthCommand`` inside ``txn``; return a serialized ``AuthResult``.

    A command that fails validation returns an error result and writes nothing.
    """
    try:
        command = auth_pb2.AuthCommand.FromString(body)
    except Exception:
        return error_result(error_from_code("invalid_argument", "malformed auth command")).SerializeToString()
    kind = command.WhichOneof("cmd")
    handler = _HANDLERS.get(kind or "")
    if handler is None:
        return error_result(error_from_code("invalid_argument", f"unknown auth command {kind!r}")).SerializeToString()
    return handler(store, txn, getattr(command, kind)).SerializeToString()
