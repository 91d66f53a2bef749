"""propose_with_retry: one request id across attempts; an open outcome is never reported as a definite failure."""

import pytest

from vectron.errors import Indeterminate, Unavailable
from vectron.raft.retry import propose_with_retry


class ScriptedGroup:
    """Answers proposals from a script of results or errors (the last one repeats)."""

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.request_ids: list[str | None] = []

    def propose(self, body: bytes, request_id: str | None = None, timeout: float = 5.0) -> bytes:
        self.request_ids.append(request_id)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step  # type: ignore[return-value]


def test_definite_failures_are_retried_with_one_request_id() -> None:
    group = ScriptedGroup(Unavailable("no leader"), Unavailable("no leader"), b"ok")
    assert propose_with_retry(group, b"cmd", timeout=5.0, what="test") == b"ok"
    assert len(group.request_ids) == 3 and len(set(group.request_ids)) == 1


def test_an_open_outcome_then_definite_failures_ends_indeterminate() -> None:
    group = ScriptedGroup(Indeterminate("leader changed"), Unavailable("no leader"))
    with pytest.raises(Indeterminate):
        propose_with_retry(group, b"cmd", timeout=0.5, what="test")


def test_only_definite_failures_end_as_unavailable() -> None:
    with pytest.raises(Unavailable):
        propose_with_retry(ScriptedGroup(Unavailable("no leader")), b"cmd", timeout=0.3, what="test")
