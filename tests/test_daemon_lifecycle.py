"""``vectrond --role all`` stop and restart with real processes: a clean restart reopens
the shard from its LMDB state and saved index (no snapshot restore, no rebuild, even when
the shard's snapshot ends with no-op entries); SIGTERM at any moment (while starting,
while rebuilding an index, while serving) stops the process promptly, exit status 0, no
traceback."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.services.gateway.procs import Daemon, single_node
from vectron.client import Client

pytestmark = [pytest.mark.slow]

POINTS, DIM = 3000, 16


def sigterm_and_wait(node: Daemon) -> int:
    """SIGTERM; the exit status (a generous did-not-hang bound: the daemon itself gives up
    on a clean stop after a few seconds)."""
    assert node.proc is not None
    node.proc.send_signal(signal.SIGTERM)
    try:
        return node.proc.wait(60)
    except subprocess.TimeoutExpired:
        node.proc.kill()
        node.proc.wait(10)
        raise AssertionError("vectrond did not stop within 60 s of SIGTERM") from None


def log_of(node: Daemon) -> str:
    return node.log.read_text(errors="replace")


def test_clean_restart_reopens_the_shard_and_sigterm_stops_at_any_moment(tmp_path: pathlib.Path) -> None:
    node = single_node(tmp_path, "--raft-compaction-entries", "5", "--default-shards", "1")
    node.start()
    try:
        node.wait_ready()
        admin = Client(node.url)
        admin.register("d@example.com", "correct horse battery")
        admin.login("d@example.com", "correct horse battery")
        client = Client(node.url, api_key=admin.create_key("k").key, retries=6)
        client.create_collection("c", DIM, shards=1)
        vectors = np.random.default_rng(1).normal(size=(POINTS, DIM)).astype(np.float32)
        for lo in range(0, POINTS, 500):
            client.upsert("c", [{"id": lo + i, "vector": v.tolist()} for i, v in enumerate(vectors[lo:lo + 500])])
        for _ in range(12):  # read barriers after the last write: compacted, the snapshot ends with no-ops
            assert client.count("c") == POINTS
        time.sleep(2)  # a background snapshot finishes
        assert sigterm_and_wait(node) == 0
        first = log_of(node)
        assert "Traceback" not in first and "snapshot" in first

        # a clean restart: no snapshot restore, no index rebuild
        node.start()
        node.wait_ready()
        assert client.search("c", vectors[11].tolist(), top_k=1)[0].id == 11
        assert sigterm_and_wait(node) == 0
        second = log_of(node)[len(first):]
        assert "restored snapshot at index" not in second and "rebuilt the index" not in second, second[-3000:]
        assert "Traceback" not in second

        # SIGTERM at several moments of a start that rebuilds the index (its saved copy removed)
        seen = len(log_of(node))
        for delay in (0.5, 1.5, 3.0):
            for marker in tmp_path.glob("node1/worker/shards/*/points/index.json"):
                marker.unlink()
            node.start()
            time.sleep(delay)
            # 0, or killed by SIGTERM's default action if it came before Python got to install a handler
            assert sigterm_and_wait(node) in (0, -signal.SIGTERM)
            text = log_of(node)[seen:]
            seen += len(text)
            assert "Traceback" not in text and "cannot schedule new futures" not in text, text[-3000:]
        # and it still starts and serves after all that
        node.start()
        node.wait_ready()
        assert client.count("c") == POINTS
        assert client.search("c", vectors[5].tolist(), top_k=1)[0].id == 5
    finally:
        node.stop()
