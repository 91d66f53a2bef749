"""The auth FSM: deterministic commands, errors as values that change nothing,
indexes, snapshot/restore, and replay safety."""

from __future__ import annotations

import io
import pathlib

from vectron.raft import Entry, InMemoryGroup
from vectron.services.auth import AuthStateMachine
from vectron.services.auth.commands import decode_result
from vectron.v1 import auth_pb2


def user_cmd(email: str, user_id: str, ms: int = 1) -> bytes:
    record = auth_pb2.UserRecord(user_id=user_id, email=email, password_hash="$2b$04$x", created_at_ms=ms)
    return auth_pb2.AuthCommand(create_user=auth_pb2.CreateUserCmd(user=record)).SerializeToString()


def key_cmd(user_id: str, key_id: str, limit: int = 0) -> bytes:
    info = auth_pb2.APIKeyInfo(key_id=key_id, user_id=user_id, name="k", plan="free", scope="read-write", created_at_ms=5)
    record = auth_pb2.APIKeyRecord(info=info, secret_sha256=b"h" * 32)
    return auth_pb2.AuthCommand(create_key=auth_pb2.CreateKeyCmd(key=record, max_keys_per_user=limit)).SerializeToString()


def result(raw: bytes) -> auth_pb2.AuthResult:
    return auth_pb2.AuthResult.FromString(raw)


def state(fsm: AuthStateMachine, user_ids: list[str]) -> list:
    def read(s, txn):
        return [(s.user_by_id(txn, u), [k.info.key_id for k in s.keys_of_user(txn, u)]) for u in user_ids]

    return fsm.read(read)


def test_same_email_twice_exactly_one_wins_and_the_loser_changes_nothing(group: InMemoryGroup) -> None:
    first = result(group.propose(user_cmd("a@x.io", "u1")))
    second = result(group.propose(user_cmd("a@x.io", "u2")))
    assert first.user.user_id == "u1"
    assert second.error.code == "already_exists" and second.error.field == "email"
    fsm = group.fsm
    assert state(fsm, ["u1", "u2"]) == [(fsm.read(lambda s, t: s.user_by_email(t, "a@x.io")), []), (None, [])]


def test_key_index_lists_only_the_users_keys(group: InMemoryGroup) -> None:
    for uid, email in (("u1", "a@x.io"), ("u2", "b@x.io"), ("u10", "c@x.io")):
        group.propose(user_cmd(email, uid))
    for uid, kid in (("u1", "k1"), ("u2", "k2"), ("u1", "k3"), ("u10", "k4")):
        assert result(group.propose(key_cmd(uid, kid))).key.key_id == kid
    assert state(group.fsm, ["u1", "u2", "u10"]) == [
        (group.fsm.read(lambda s, t: s.user_by_id(t, "u1")), ["k1", "k3"]),
        (group.fsm.read(lambda s, t: s.user_by_id(t, "u2")), ["k2"]),
        (group.fsm.read(lambda s, t: s.user_by_id(t, "u10")), ["k4"]),
    ]


def test_failing_commands_are_error_values_and_write_nothing(group: InMemoryGroup) -> None:
    group.propose(user_cmd("a@x.io", "u1"))
    group.propose(key_cmd("u1", "k1"))
    before = state(group.fsm, ["u1"])
    for body, code in [
        (b"\xff\xff not a protobuf", "invalid_argument"),
        (auth_pb2.AuthCommand().SerializeToString(), "invalid_argument"),
        (key_cmd("nobody", "k9"), "not_found"),
        (key_cmd("u1", "k1"), "already_exists"),
        (key_cmd("u1", "k8", limit=1), "resource_exhausted"),
        (user_cmd("b@x.io", "u1"), "already_exists"),  # user id taken
        (auth_pb2.AuthCommand(revoke_key=auth_pb2.RevokeKeyCmd(user_id="u2", key_id="k1")).SerializeToString(), "not_found"),
        (auth_pb2.AuthCommand(delete_user=auth_pb2.DeleteUserCmd(user_id="u2")).SerializeToString(), "not_found"),
    ]:
        assert result(group.propose(body)).error.code == code
    assert state(group.fsm, ["u1"]) == before
    assert group.fsm.read(lambda s, t: s.user_by_email(t, "b@x.io")) is None
    assert group.fsm.read(lambda s, t: s.key(t, "k8")) is None


def test_revoke_is_idempotent_and_delete_user_removes_keys(group: InMemoryGroup) -> None:
    group.propose(user_cmd("a@x.io", "u1"))
    group.propose(key_cmd("u1", "k1"))
    revoke = auth_pb2.AuthCommand(revoke_key=auth_pb2.RevokeKeyCmd(user_id="u1", key_id="k1", revoked_at_ms=7))
    assert result(group.propose(revoke.SerializeToString())).key.revoked_at_ms == 7
    revoke.revoke_key.revoked_at_ms = 9
    assert result(group.propose(revoke.SerializeToString())).key.revoked_at_ms == 7
    delete = auth_pb2.AuthCommand(delete_user=auth_pb2.DeleteUserCmd(user_id="u1")).SerializeToString()
    assert result(group.propose(delete)).ok
    assert state(group.fsm, ["u1"]) == [(None, [])]
    assert group.fsm.read(lambda s, t: (s.key(t, "k1"), s.user_by_email(t, "a@x.io"))) == (None, None)


def test_apply_is_deterministic_across_replicas(tmp_path: pathlib.Path) -> None:
    bodies = [user_cmd("a@x.io", "u1"), user_cmd("a@x.io", "u2"), key_cmd("u1", "k1"), key_cmd("u2", "k2")]
    outs = []
    for name in ("r1", "r2"):
        fsm = AuthStateMachine(tmp_path / name, sync=False, map_size=1 << 24)
        outs.append([fsm.apply(Entry(i + 1, f"req-{i}", b)) for i, b in enumerate(bodies)])
        fsm.close()
    assert outs[0] == outs[1]


def test_replayed_entries_and_retried_requests_apply_once(fsm: AuthStateMachine) -> None:
    first = fsm.apply(Entry(1, "req-1", user_cmd("a@x.io", "u1")))
    assert fsm.apply(Entry(1, "req-1", user_cmd("a@x.io", "u1"))) == first  # journal replay
    assert fsm.apply(Entry(2, "req-1", user_cmd("a@x.io", "u1"))) == first  # client retry
    assert decode_result(first).user.user_id == "u1"


def test_snapshot_restore_round_trip(tmp_path: pathlib.Path, group: InMemoryGroup) -> None:
    group.propose(user_cmd("a@x.io", "u1"))
    group.propose(key_cmd("u1", "k1"))
    image = io.BytesIO()
    group.snapshot_to(image)
    other = AuthStateMachine(tmp_path / "other", sync=False, map_size=1 << 24)
    try:
        other.apply(Entry(1, None, user_cmd("z@x.io", "uz")))
        image.seek(0)
        other.restore(image)
        assert state(other, ["u1", "uz"]) == state(group.fsm, ["u1", "uz"])
        assert other.applied_index() == group.fsm.applied_index()
        # the restored FSM keeps applying (tables re-opened after the swap)
        assert decode_result(other.apply(Entry(other.applied_index() + 1, None, key_cmd("u1", "k2")))).key.key_id == "k2"
    finally:
        other.close()


def test_revoked_sessions_are_forgotten_once_expired(group: InMemoryGroup) -> None:
    def revoke(jti: str, exp: int, now: int) -> None:
        cmd = auth_pb2.AuthCommand(revoke_session=auth_pb2.RevokeSessionCmd(jti=jti, expires_at_ms=exp, now_ms=now))
        assert result(group.propose(cmd.SerializeToString())).ok

    revoke("a", 100, 0)
    revoke("b", 300, 0)
    revoke("c", 200, 0)
    revoked = lambda: group.fsm.read(lambda s, t: [j for j in "abcd" if s.session_revoked(t, j)])  # noqa: E731
    assert revoked() == ["a", "b", "c"]
    revoke("d", 1000, 250)  # a and c expired before 250
    assert revoked() == ["b", "d"]
    revoke("e", 2000, 5000)
    assert revoked() == []
