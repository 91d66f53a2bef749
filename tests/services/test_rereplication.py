"""Automatic re-replication with real processes (`vectron cluster up`: every role on each
node) and a 5 s --dead-worker-timeout: on 4 nodes, one is killed (kill -9) and its data
folder wiped while a client writes; on 3 nodes (no spare), the shards run degraded."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import threading
import time

from click.testing import CliRunner

import vectron
from vectron.cli import main
from vectron.client import Point
from vectron.cluster import cluster_down, cluster_up


def pts(lo: int, hi: int) -> list[Point]:
    return [Point(i, [1.0, float(i % 13), float(i % 7) + 0.5], {"i": i}) for i in range(lo, hi)]


def shard_rows(d: pathlib.Path, alive: set[str]) -> dict[str, list[dict]]:
    """Each shard group's replicas on the live nodes, from the nodes' status.json files."""
    by_group: dict[str, list[dict]] = {}
    for node in sorted(alive):
        try:
            status = json.loads((d / node / "status.json").read_text())
        except (OSError, ValueError):
            continue  # being rewritten
        for row in status["groups"]:
            if row["group"].startswith("shard "):
                by_group.setdefault(row["group"], []).append({**row, "node": node})
    return by_group


def test_a_lost_node_is_re_replicated_with_nothing_lost(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "cluster"
    state = cluster_up(d, nodes=4, timeout=240, extra_args=["--bcrypt-rounds", "4", "--dead-worker-timeout", "5", "--default-plan", "unlimited"])
    try:
        urls = [f"http://{n['rest']}" for n in state["nodes"]]
        admin = vectron.Client(urls[0])
        admin.register("h@example.com", "correct horse battery")
        admin.login("h@example.com", "correct horse battery")
        key = admin.create_key("heal")
        client = vectron.Client(urls[0], api_key=key.key, retries=8)
        client.create_collection("docs", 3, shards=4, replication_factor=3)
        assert client.upsert("docs", pts(0, 100)) == 100
        acked: list[int] = list(range(100))
        stop = threading.Event()

        def write() -> None:
            i = 100
            while not stop.is_set():
                try:
                    client.upsert("docs", pts(i, i + 10))
                    acked.extend(range(i, i + 10))
                except Exception:
                    pass
                i += 10
                time.sleep(0.05)

        writer = threading.Thread(target=write)
        writer.start()
        victim = state["nodes"][3]
        os.kill(victim["pid"], signal.SIGKILL)
        shutil.rmtree(d / victim["name"])
        alive = {n["name"] for n in state["nodes"][:3]}
        try:
            deadline = time.monotonic() + 180
            while True:
                rows = shard_rows(d, alive)
                healed = len(rows) == 4 and all(
                    len(r) == 3 and len({x["node"] for x in r}) == 3 and all(x["leader"] for x in r) for r in rows.values()
                )
                if healed:
                    break
                assert time.monotonic() < deadline, f"not re-replicated: {rows}"
                time.sleep(1)
        finally:
            stop.set()
            writer.join(60)
        # the shard groups' leaders removed the dead members through their Raft logs
        lo, hi = (int(p) for p in victim["raft_ports"].split("-"))
        logs = "".join((d / n / "vectrond.log").read_text(errors="replace") for n in sorted(alive))
        removed = {int(m) for m in re.findall(r" -127\.0\.0\.1:(\d+)", logs)}
        assert removed and all(lo <= p <= hi for p in removed), removed
        # every acknowledged point is there, and every replica converges to the same count
        assert client.count("docs") >= len(set(acked))
        missing = [i for i in sorted(set(acked))[::7] if client.retrieve("docs", i) is None]
        assert missing == []
        deadline = time.monotonic() + 60
        while True:
            rows = shard_rows(d, alive)
            if all(len({x["point_count"] for x in r}) == 1 for r in rows.values()):
                break
            assert time.monotonic() < deadline, f"replicas did not converge: {rows}"
            time.sleep(1)
        assert sum(r[0]["point_count"] for r in rows.values()) == client.count("docs")
    finally:
        cluster_down(d)


def test_with_no_spare_node_the_shards_run_degraded_and_cluster_status_says_so(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "cluster"
    state = cluster_up(d, nodes=3, timeout=240, extra_args=["--bcrypt-rounds", "4", "--dead-worker-timeout", "5", "--default-plan", "unlimited"])
    try:
        url = f"http://{state['nodes'][0]['rest']}"
        admin = vectron.Client(url)
        admin.register("d@example.com", "correct horse battery")
        admin.login("d@example.com", "correct horse battery")
        client = vectron.Client(url, api_key=admin.create_key("deg").key, retries=8)
        client.create_collection("docs", 3, shards=2, replication_factor=3)
        assert "DEGRADED" not in CliRunner().invoke(main, ["cluster", "status", "--data-dir", str(d)]).output
        os.kill(state["nodes"][2]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 120
        while True:
            out = CliRunner().invoke(main, ["cluster", "status", "--data-dir", str(d)]).output
            if "DEGRADED" in out:
                break
            assert time.monotonic() < deadline, out
            time.sleep(1)
        line = next(x for x in out.splitlines() if x.startswith("DEGRADED"))
        assert line.count("/") == 2  # both shards
        assert client.upsert("docs", pts(0, 20)) == 20  # still writable on the two live replicas
    finally:
        cluster_down(d)
