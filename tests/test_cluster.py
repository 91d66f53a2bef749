"""`vectron cluster` lifecycle with real vectrond processes: readiness waits for every
worker (the first RF-3 create succeeds at once), `cluster up` on an existing folder
starts only the nodes that are down, `cluster restart NODE`, `cluster status` tracks a
node restarted by hand and prints the JSON report, VECTRON_* variables reach the nodes."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import vectron
from vectron.cli import main as cli
from vectron.client import Point
from vectron.cluster import cluster_down, cluster_report, cluster_up, load_state, restart_node
from vectron.errors import InvalidArgument

pytestmark = [pytest.mark.slow]


def eventually(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout}s")
        time.sleep(0.5)


def healthy(report: dict[str, Any], shards: int) -> dict[str, Any] | None:
    return report if len(report["shards"]) == shards and all(s["healthy"] for s in report["shards"]) else None


def environ(pid: int) -> dict[str, str]:
    raw = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def test_cluster_lifecycle(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "cluster"
    monkeypatch.setenv("VECTRON_BCRYPT_ROUNDS", "4")  # a node setting: kept for the nodes
    monkeypatch.setenv("VECTRON_DEFAULT_PLAN", "unlimited")  # new accounts (keys have their account's plan)
    monkeypatch.setenv("VECTRON_API_KEY", "vk_client_only")  # the client's own: not kept
    state = cluster_up(d, nodes=3, timeout=180)
    hand_started: subprocess.Popen[bytes] | None = None
    try:
        assert "VECTRON_API_KEY" not in load_state(d)["env"]
        urls = [f"http://{n['rest']}" for n in state["nodes"]]
        admin = vectron.Client(urls[0])
        admin.register("l@example.com", "correct horse battery")
        admin.login("l@example.com", "correct horse battery")
        key = admin.create_key("k").key
        client = vectron.Client(urls[0], api_key=key, retries=6)
        # ready means every worker registered and live: an RF-3 create works at once
        col = client.create_collection("docs", 3, shards=2, replication_factor=3)
        assert col.replication_factor == 3
        client.upsert("docs", [Point(i, [1.0, float(i), 0.5]) for i in range(20)])
        report = eventually(lambda: healthy(cluster_report(d), shards=2), "healthy")
        assert [n["node"] for n in report["nodes"]] == ["node1", "node2", "node3"] and all(n["alive"] for n in report["nodes"])
        for shard in report["shards"]:
            assert shard["collection"] == "docs" and shard["replication_factor"] == 3
            assert sorted(r["node"] for r in shard["replicas"]) == ["node1", "node2", "node3"]
            assert sum(r["role"] == "leader" for r in shard["replicas"]) == 1 and all(r["live"] for r in shard["replicas"])
        assert eventually(lambda: max(r["applied"] for s in cluster_report(d)["shards"] for r in s["replicas"]) > 0, "applied")

        # kill -9 node3: node1 turns not ready (a registered worker is not live, not dead),
        # its replicas show as down, the shards as unhealthy
        victim = state["nodes"][2]
        os.kill(victim["pid"], signal.SIGKILL)
        def workers_check() -> bool | None:
            r = httpx.get(f"{urls[0]}/readyz", timeout=5)
            return r.status_code == 503 and r.json()["checks"]["workers"] is False

        eventually(workers_check, "not ready for want of a live worker")
        report = cluster_report(d)
        assert [n["alive"] for n in report["nodes"]] == [True, True, False]
        for shard in report["shards"]:
            assert not shard["healthy"]
            assert {r["node"]: r["live"] for r in shard["replicas"]} == {"node1": True, "node2": True, "node3": False}

        # `cluster up` again starts only node3 (the others keep their pids)
        monkeypatch.delenv("VECTRON_BCRYPT_ROUNDS")
        pids = {n["name"]: n["pid"] for n in load_state(d)["nodes"]}
        state = cluster_up(d, timeout=180)
        now = {n["name"]: n["pid"] for n in state["nodes"]}
        assert now["node1"] == pids["node1"] and now["node2"] == pids["node2"] and now["node3"] != pids["node3"]
        assert environ(now["node3"]).get("VECTRON_BCRYPT_ROUNDS") == "4"  # kept from the first `up`
        assert httpx.get(f"{urls[0]}/readyz", timeout=5).status_code == 200
        eventually(lambda: healthy(cluster_report(d), shards=2), "healthy again")

        # node2 stopped and started by hand with its own arguments: tracked by its new pid
        node2 = state["nodes"][1]
        os.kill(node2["pid"], signal.SIGTERM)
        eventually(lambda: not cluster_report(d)["nodes"][1]["alive"], "node2 down")
        with open(node2["log"], "ab") as log:
            hand_started = subprocess.Popen(node2["args"], stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, "VECTRON_CLUSTER_PASSWORD": state["password"]}, start_new_session=True)
        report = eventually(lambda: (r := cluster_report(d))["nodes"][1]["alive"] and r, "node2 tracked")
        assert report["nodes"][1]["pid"] == hand_started.pid

        # through the CLI: status --json has the documented shape; restart NODE restarts a running node
        runner = CliRunner()
        out = runner.invoke(cli, ["cluster", "status", "--data-dir", str(d), "--json"])
        assert out.exit_code == 0, out.output
        doc = json.loads(out.output)
        assert {"node", "alive"} <= set(doc["nodes"][0]) and {"collection", "shard", "replicas", "replication_factor", "healthy"} <= set(doc["shards"][0])
        assert {"node", "role", "live", "applied"} <= set(doc["shards"][0]["replicas"][0])
        out = runner.invoke(cli, ["cluster", "restart", "node1", "--data-dir", str(d), "--timeout", "180"])
        assert out.exit_code == 0, out.output
        new_pid = load_state(d)["nodes"][0]["pid"]
        assert new_pid != now["node1"] and environ(new_pid).get("VECTRON_BCRYPT_ROUNDS") == "4"
        out = runner.invoke(cli, ["cluster", "restart", "node9", "--data-dir", str(d)])
        assert out.exit_code != 0 and "node9" in out.output
        assert client.count("docs") == 20
    finally:
        outcomes = dict(cluster_down(d))
        if hand_started is not None:
            hand_started.wait(30)
    assert outcomes == {"node1": "stopped", "node2": "stopped", "node3": "stopped"}  # the hand-started node2 too
    assert hand_started is not None and hand_started.returncode is not None


def test_restart_of_an_unknown_folder_or_node_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidArgument):
        restart_node(tmp_path, "node1")
    with pytest.raises(InvalidArgument):
        cluster_report(tmp_path)
