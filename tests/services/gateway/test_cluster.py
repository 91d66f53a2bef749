"""A 3-node local cluster (`vectron cluster up`: real vectrond processes, every role on
each node, groups of 3, collections of 3 shards x 3 replicas): the flows with payloads
while one node is killed (kill -9) and restarted; `cluster status`; `cluster down`."""

from __future__ import annotations

import os
import pathlib
import signal

import pytest

import vectron
from vectron.client import Point
from vectron.cluster import cluster_down, cluster_status, cluster_up, load_state, restart_node

pytestmark = [pytest.mark.slow]


def pts(lo: int, hi: int) -> list[Point]:
    return [Point(i, [1.0, float(i % 17), float(i % 5) + 0.5], {"i": i, "tag": f"t{i % 4}"}) for i in range(lo, hi)]


def test_three_nodes_survive_a_killed_node(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "cluster"
    state = cluster_up(d, nodes=3, timeout=180, extra_args=["--bcrypt-rounds", "4", "--default-plan", "unlimited"])
    try:
        urls = [f"http://{n['rest']}" for n in state["nodes"]]
        admin = vectron.Client(urls[0])
        user = admin.register("k@example.com", "correct horse battery")
        admin.login("k@example.com", "correct horse battery")
        key = admin.create_key("cluster")
        assert admin.profile() == user and [k.id for k in admin.list_keys()] == [key.api_key.id]
        clients = [vectron.Client(u, api_key=key.key, retries=6) for u in urls]
        col = clients[0].create_collection("docs", 3)
        assert (col.shards, col.replication_factor) == (3, 3)
        assert clients[0].upsert("docs", pts(0, 60)) == 60
        # every gateway sees the same data, payloads included
        for c in clients:
            assert c.retrieve("docs", 7).payload == {"i": 7, "tag": "t3"}
            assert c.search("docs", [1.0, 5.0, 2.5], top_k=1)[0].payload["i"] % 17 == 5
        rows = cluster_status(d)
        for group in ("auth", "placement"):
            mine = [r for r in rows if r["group"] == group]
            assert len(mine) == 3 and len({r["leader"] for r in mine}) == 1 and all(r["term"] >= 1 for r in mine)
        # kill -9 the third node: the other two keep serving reads and writes
        victim = state["nodes"][2]
        os.kill(victim["pid"], signal.SIGKILL)
        assert clients[0].upsert("docs", pts(60, 120)) == 60
        assert clients[1].count("docs") == 120
        assert clients[1].retrieve("docs", 100).payload == {"i": 100, "tag": "t0"}
        hits = clients[0].search("docs", [1.0, 3.0, 1.5], top_k=5)
        assert len(hits) == 5 and all(h.payload is not None for h in hits)
        assert any(r["role"] == "down" for r in cluster_status(d))
        # restarted, it catches up and serves the writes it missed
        restart_node(d, victim["name"], timeout=180)
        assert clients[2].count("docs", {"must": [{"key": "i", "range": {"gte": 60}}]}) == 60
        assert clients[2].retrieve("docs", 119).payload == {"i": 119, "tag": "t3"}
    finally:
        outcomes = dict(cluster_down(d))
    assert set(outcomes) == {"node1", "node2", "node3"}
    assert not any(os.path.exists(f"/proc/{n['pid']}") and b"vectron.daemon" in pathlib.Path(f"/proc/{n['pid']}/cmdline").read_bytes()
                   for n in load_state(d)["nodes"])
