"""The disk-full checker on hand-made histories (each problem made to fire), the
clock shim in a real interpreter, and the ballast filling a real small filesystem."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from jepsen_like.checkers import check_disk_full
from jepsen_like.disk import Disks
from jepsen_like.history import FaultWindow, Op
from jepsen_like.nodes import CLOCKSHIM

FULL = [FaultWindow("disk-full-one", 10.0, 20.0, frozenset({"u2"}))]


def op(i: int, node: str, outcome: str = "ok", call: float = 12.0, error: str | None = None) -> Op:
    extra: dict[str, object] = {"node": node}
    if error:
        extra["error"] = error
    return Op(id=i, process=i, f="add", key=i, value={}, outcome=outcome, call=call, ret=call + 0.5, extra=extra)


def test_disk_full_passes_a_node_that_survived_and_answered_clearly() -> None:
    ops = [op(1, "u1"), op(2, "u2", "fail", error="HTTP 503 unavailable: ..."), op(3, "u2", "info", error="HTTP 504 indeterminate: x")]
    res = check_disk_full(ops, FULL, [{"node": "n2", "alive": True, "ready_s": 1.5}])
    assert res.valid, res.problems
    assert "fail HTTP 503 unavailable x1" in res.summary and "ok" not in res.summary.split("answers")[1].split(";")[0]


def test_disk_full_fails_on_an_internal_error_during_the_fault_only() -> None:
    inside = op(1, "u1", "info", error="HTTP 500 internal: boom")
    outside = op(2, "u1", "info", call=25.0, error="HTTP 500 internal: boom")
    res = check_disk_full([inside, outside], FULL, [{"node": "n2", "alive": True, "ready_s": 1.0}])
    assert not res.valid and len(res.problems) == 1 and "HTTP 500" in res.problems[0]


def test_disk_full_fails_when_the_node_died_or_stayed_unready() -> None:
    died = check_disk_full([], FULL, [{"node": "n2", "alive": False, "ready_s": None}])
    assert not died.valid and "died" in died.problems[0]
    wedged = check_disk_full([], FULL, [{"node": "n2", "alive": True, "ready_s": None}])
    assert not wedged.valid and "not ready" in wedged.problems[0]


def test_the_clock_shim_offsets_wall_time_only(tmp_path: pathlib.Path) -> None:
    offset = tmp_path / "offset"
    offset.write_text("7200\n")
    env = {**os.environ, "PYTHONPATH": str(CLOCKSHIM), "JEPSEN_CLOCK_OFFSET_FILE": str(offset)}
    code = ("import time, vectron.services.auth.sessions as s; t = time.time(); time.sleep(0.01); "
            "print(round(t - REAL), round(s.TokenIssuer(b'x' * 32).clock() - REAL), round(time.time_ns() / 1e9 - REAL))")
    import time

    out = subprocess.run([sys.executable, "-c", code.replace("REAL", repr(time.time()))], env=env,
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert [int(x) // 100 for x in out] == [72, 72, 72]  # every wall-clock reader, session expiry included


@pytest.mark.skipif(os.geteuid() != 0, reason="loop-mounts a filesystem (root only)")
def test_disks_fill_and_free_a_real_filesystem(tmp_path: pathlib.Path) -> None:
    disks = Disks([tmp_path / "n1"], tmp_path / "images", size_mb=16)
    try:
        disks.setup()
        assert disks.fill(0) > 8 << 20
        with pytest.raises(OSError):
            (tmp_path / "n1" / "x").write_bytes(b"y" * 65536)
        disks.free(0)
        (tmp_path / "n1" / "x").write_bytes(b"y" * 65536)
    finally:
        disks.teardown()
