"""The auth state in LMDB: tables, keys and index maintenance. No Raft, no gRPC, no clock.

Tables (LMDB named sub-databases), values are protobuf messages of auth.proto:

=================  ==============================  =====================
table              key                             value
=================  ==============================  =====================
``auth.users``     normalised email                ``UserRecord``
``auth.user_ids``  user id                         normalised email
``auth.keys``      key id (the key's public prefix) ``APIKeyRecord``
``auth.user_keys`` user id ``/`` key id            empty
``auth.sessions``  revoked session id (jti)        expiry (unix ms, u64)
``auth.session_exp`` expiry (u64) + jti            empty (prunes expired revocations)
=================  ==============================  =====================

Every lookup is a point read or a prefix range read of one user's entries:
``user_by_id`` reads ``auth.user_ids`` then ``auth.users``; ``keys_of_user``
walks ``auth.user_keys`` from ``<user_id>/`` and stops at the first key of
another user. Nothing scans all users or all keys.

Every method takes the LMDB transaction to work in; writes are only ever done
inside the FSM's apply transaction (which also records the applied index).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import lmdb

from vectron.v1 import auth_pb2

__all__ = ["AuthStorage", "TABLES"]

USERS = b"auth.users"
USER_IDS = b"auth.user_ids"
KEYS = b"auth.keys"
USER_KEYS = b"auth.user_keys"
SESSIONS = b"auth.sessions"
SESSION_EXP = b"auth.session_exp"
TABLES = (USERS, USER_IDS, KEYS, USER_KEYS, SESSIONS, SESSION_EXP)

_SEP = b"/"
_U64 = struct.Struct(">Q")


def _user_key_prefix(user_id: str) -> bytes:
    return user_id.encode() + _SEP


class AuthStorage:
    """Reads and writes of the auth tables inside a caller's LMDB transaction.

    ``db`` maps a table name to its LMDB handle (e.g. ``LmdbStateMachine.db``);
    it is called on every operation, so handles re-opened after a snapshot
    restore are picked up.
    """

    def __init__(self, db: Callable[[bytes], object]) -> None:
        self._db = db

    @staticmethod
    def open_tables(env: lmdb.Environment) -> dict[bytes, object]:
        """Create (if needed) and open every table of ``env``; for use outside an FSM."""
        return {name: env.open_db(name, create=True) for name in TABLES}

    # -- users ---------------------------------------------------------------------
    def user_by_email(self, txn: lmdb.Transaction, email: str) -> auth_pb2.UserRecord | None:
        raw = txn.get(email.encode(), db=self._db(USERS))
        return None if raw is None else auth_pb2.UserRecord.FromString(raw)

    def email_of(self, txn: lmdb.Transaction, user_id: str) -> str | None:
        raw = txn.get(user_id.encode(), db=self._db(USER_IDS))
        return None if raw is None else bytes(raw).decode()

    def user_by_id(self, txn: lmdb.Transaction, user_id: str) -> auth_pb2.UserRecord | None:
        if not user_id:
            return None
        email = self.email_of(txn, user_id)
        return None if email is None else self.user_by_email(txn, email)

    def users_after(self, txn: lmdb.Transaction, after: str, limit: int) -> list[auth_pb2.UserRecord]:
        """Up to ``limit`` users in email order, starting after the email ``after``: one
        bounded range read (a page), never a scan of the whole table."""
        cursor = txn.cursor(db=self._db(USERS))
        out: list[auth_pb2.UserRecord] = []
        start = after.encode()
        if not cursor.set_range(start):
            return out
        for k, v in cursor.iternext():
            if bytes(k) == start:
                continue
            out.append(auth_pb2.UserRecord.FromString(v))
            if len(out) >= limit:
                break
        return out

    def put_user(self, txn: lmdb.Transaction, user: auth_pb2.UserRecord) -> None:
        """Overwrite an existing user's record (same email and id)."""
        txn.put(user.email.encode(), user.SerializeToString(), db=self._db(USERS))

    def user_exists(self, txn: lmdb.Transaction, user_id: str) -> bool:
        return bool(user_id) and txn.get(user_id.encode(), db=self._db(USER_IDS)) is not None

    def put_new_user(self, txn: lmdb.Transaction, user: auth_pb2.UserRecord) -> bool:
        """Insert a user and its id index entry; False (nothing written) if the email or id is taken."""
        email = user.email.encode()
        uid = user.user_id.encode()
        if txn.get(uid, db=self._db(USER_IDS)) is not None:
            return False
        if not txn.put(email, user.SerializeToString(), db=self._db(USERS), overwrite=False):
            return False
        txn.put(uid, email, db=self._db(USER_IDS))
        return True

    def delete_user(self, txn: lmdb.Transaction, user_id: str) -> bool:
        """Delete a user, its id index entry, its keys and their index entries."""
        email = self.email_of(txn, user_id)
        if email is None:
            return False
        for key_id in list(self.key_ids_of_user(txn, user_id)):
            txn.delete(key_id.encode(), db=self._db(KEYS))
            txn.delete(_user_key_prefix(user_id) + key_id.encode(), db=self._db(USER_KEYS))
        txn.delete(email.encode(), db=self._db(USERS))
        txn.delete(user_id.encode(), db=self._db(USER_IDS))
        return True

    # -- API keys --------------------------------------------------------------------
    def key(self, txn: lmdb.Transaction, key_id: str) -> auth_pb2.APIKeyRecord | None:
        if not key_id:
            return None
        raw = txn.get(key_id.encode(), db=self._db(KEYS))
        return None if raw is None else auth_pb2.APIKeyRecord.FromString(raw)

    def key_ids_of_user(self, txn: lmdb.Transaction, user_id: str) -> Iterator[str]:
        """The ids of one user's keys, in key-id order: a range read of the index, never a scan."""
        prefix = _user_key_prefix(user_id)
        cursor = txn.cursor(db=self._db(USER_KEYS))
        if not cursor.set_range(prefix):
            return
        for k in cursor.iternext(keys=True, values=False):
            k = bytes(k)
            if not k.startswith(prefix):
                return
            yield k[len(prefix):].decode()

    def keys_of_user(self, txn: lmdb.Transaction, user_id: str) -> list[auth_pb2.APIKeyRecord]:
        out = []
        for key_id in self.key_ids_of_user(txn, user_id):
            record = self.key(txn, key_id)
            if record is not None:
                out.append(record)
        return out

    def count_keys_of_user(self, txn: lmdb.Transaction, user_id: str, *, stop_at: int) -> int:
        n = 0
        for _ in self.key_ids_of_user(txn, user_id):
            n += 1
            if n >= stop_at:
                break
        return n

    def put_new_key(self, txn: lmdb.Transaction, record: auth_pb2.APIKeyRecord) -> bool:
        """Insert a key and its index entry; False (nothing written) if the key id is taken."""
        info = record.info
        if not txn.put(info.key_id.encode(), record.SerializeToString(), db=self._db(KEYS), overwrite=False):
            return False
        txn.put(_user_key_prefix(info.user_id) + info.key_id.encode(), b"", db=self._db(USER_KEYS))
        return True

    def put_key(self, txn: lmdb.Transaction, record: auth_pb2.APIKeyRecord) -> None:
        txn.put(record.info.key_id.encode(), record.SerializeToString(), db=self._db(KEYS))

    # -- revoked sessions --------------------------------------------------------------
    def revoke_session(self, txn: lmdb.Transaction, jti: str, expires_at_ms: int) -> None:
        exp = _U64.pack(max(0, expires_at_ms))
        txn.put(jti.encode(), exp, db=self._db(SESSIONS))
        txn.put(exp + jti.encode(), b"", db=self._db(SESSION_EXP))

    def prune_revoked_sessions(self, txn: lmdb.Transaction, now_ms: int, *, limit: int = 100) -> int:
        """Forget up to ``limit`` revocations of tokens that expired before ``now_ms``."""
        cursor = txn.cursor(db=self._db(SESSION_EXP))
        done = 0
        if not cursor.first():
            return 0
        while done < limit:
            k = bytes(cursor.key())
            if _U64.unpack(k[:8])[0] >= now_ms:
                break
            txn.delete(k[8:], db=self._db(SESSIONS))
            done += 1
            if not cursor.delete():
                break
            if not cursor.key():  # at the end
                break
        return done

    def session_revoked(self, txn: lmdb.Transaction, jti: str) -> bool:
        return bool(jti) and txn.get(jti.encode(), db=self._db(SESSIONS)) is not None
