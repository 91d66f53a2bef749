"""A local cluster of ``vectrond`` processes, for development: what ``vectron cluster
up|down|status`` runs.

``cluster_up`` starts N background processes, each running every role, with the
auth and placement groups spread over all N nodes (groups of N) and new
collections defaulting to min(N, 3) shards x min(N, 3) replicas. Ports are
picked free at start (or from ``base_port``); the state (addresses, pids, the
cluster password) is kept in ``<data-dir>/cluster.json`` (mode 0600) and the
shared session secret in ``<data-dir>/jwt.secret`` (0600). Each node writes
``<data-dir>/<node>/status.json`` every second; ``cluster_status`` reads them.
With ``tls=True`` a private CA and a node certificate are generated in
``<data-dir>/tls/`` (keys 0600) and every listener serves TLS (internal gRPC: mutual
TLS); clients then use ``https://`` and ``<data-dir>/tls/ca.pem``.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Any

import httpx

from vectron.errors import InvalidArgument, Unavailable

__all__ = ["cluster_up", "cluster_down", "cluster_status", "load_state", "restart_node"]

STATE_FILE = "cluster.json"
PORTS_PER_NODE = 7
RAFT_PORTS_PER_NODE = 64


def _write_private(path: pathlib.Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def load_state(data_dir: pathlib.Path) -> dict[str, Any] | None:
    path = data_dir / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise InvalidArgument(f"{path} is damaged: {exc}") from None


def _alive(pid: int) -> bool:
    """Is ``pid`` a running vectrond of ours (not a reused pid)?"""
    try:
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return b"vectron.daemon" in cmdline


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int, base: int | None) -> list[int]:
    if base is not None:
        ports = list(range(base, base + count))
        busy = [p for p in ports if not _bindable(p)]
        if busy:
            raise Unavailable(f"port(s) {busy[:5]} in use; choose another --base-port")
        return ports
    for _ in range(200):
        start = secrets.randbelow(30000) + 20000
        ports = list(range(start, start + count))
        if all(_bindable(p) for p in ports):
            return ports
    raise Unavailable("no free range of ports found")


def cluster_up(data_dir: pathlib.Path, *, nodes: int = 3, base_port: int | None = None, timeout: float = 120.0,
               extra_args: list[str] | None = None, tls: bool = False) -> dict[str, Any]:
    """Start the cluster and wait until every gateway is ready; returns the state
    (``state["ca"]``: the CA file clients verify with, when TLS is on)."""
    data_dir = pathlib.Path(data_dir)
    old = load_state(data_dir)
    if old and any(_alive(n["pid"]) for n in old["nodes"]):
        raise InvalidArgument(f"a cluster is already running from {data_dir}: `vectron cluster down --data-dir {data_dir}` first")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    per_node = PORTS_PER_NODE + RAFT_PORTS_PER_NODE
    ports = _pick_ports(nodes * per_node, base_port)
    secret_file = data_dir / "jwt.secret"
    if not secret_file.exists():
        _write_private(secret_file, secrets.token_hex(32) + "\n")
    password = (old or {}).get("password") or secrets.token_hex(16)
    specs = []
    for i in range(nodes):
        p = ports[i * per_node:(i + 1) * per_node]
        specs.append({
            "name": f"node{i + 1}", "rest": f"127.0.0.1:{p[0]}", "grpc": f"127.0.0.1:{p[1]}",
            "auth_raft": f"127.0.0.1:{p[2]}", "auth_grpc": f"127.0.0.1:{p[3]}",
            "placement_raft": f"127.0.0.1:{p[4]}", "placement_grpc": f"127.0.0.1:{p[5]}",
            "worker_grpc": f"127.0.0.1:{p[6]}", "raft_ports": f"{p[7]}-{p[-1]}",
        })
    if old:  # restart on the same addresses: the Raft groups know their members by address
        specs = [{k: v for k, v in n.items() if k not in ("pid", "log", "args")} for n in old["nodes"]]
    replicas = min(len(specs), 3)
    state: dict[str, Any] = {"password": password, "nodes": []}
    tls_args: list[str] = []
    if tls or (old or {}).get("ca"):
        from vectron.services.tls import generate_cluster_tls

        files = generate_cluster_tls(data_dir / "tls")
        state["ca"] = files.ca
        tls_args = ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", str(files.ca)]
    env = {**os.environ, "VECTRON_CLUSTER_PASSWORD": password}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for spec in specs:
        node_dir = data_dir / spec["name"]
        node_dir.mkdir(exist_ok=True)
        others = [s for s in specs if s is not spec]
        args = [
            sys.executable, "-m", "vectron.daemon", "--role", "all", "--node-id", spec["name"], "--data-dir", str(node_dir),
            "--rest-listen", spec["rest"], "--public-grpc-listen", spec["grpc"],
            "--auth-raft", spec["auth_raft"], "--auth-grpc", spec["auth_grpc"],
            "--auth-peers", ",".join(s["auth_raft"] for s in others),
            "--placement-raft", spec["placement_raft"], "--placement-grpc", spec["placement_grpc"],
            "--placement-peers", ",".join(s["placement_raft"] for s in others),
            "--worker-grpc", spec["worker_grpc"], "--raft-ports", spec["raft_ports"],
            "--auth-nodes", ",".join(s["auth_grpc"] for s in specs),
            "--placement-nodes", ",".join(s["placement_grpc"] for s in specs),
            "--jwt-secret-file", str(secret_file),
            "--default-shards", str(replicas), "--default-replication-factor", str(replicas),
            *tls_args,
            *(extra_args or []),
        ]
        log_path = node_dir / "vectrond.log"
        proc = _launch(args, log_path, env)
        procs[spec["name"]] = proc
        state["nodes"].append({**spec, "pid": proc.pid, "log": str(log_path), "args": args})
    _write_private(data_dir / STATE_FILE, json.dumps(state, indent=2))
    _wait_ready(state["nodes"], timeout, procs, state.get("ca"))
    return state


def _launch(args: list[str], log_path: pathlib.Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def _wait_ready(nodes: list[dict[str, Any]], timeout: float, procs: dict[str, subprocess.Popen[bytes]], ca: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending and time.monotonic() < deadline:
        for n in list(pending):
            code = procs[n["name"]].poll()
            if code is not None:
                tail = pathlib.Path(n["log"]).read_text(errors="replace")[-1500:]
                raise Unavailable(f"{n['name']} exited with {code} while starting; its log ends with:\n{tail}")
            try:
                url = f"{'https' if ca else 'http'}://{n['rest']}/readyz"
                if httpx.get(url, timeout=2, verify=ssl.create_default_context(cafile=ca) if ca else True).status_code == 200:
                    pending.remove(n)
            except httpx.HTTPError:
                pass
        if pending:
            time.sleep(0.5)
    if pending:
        raise Unavailable(f"not ready after {timeout:.0f}s: {', '.join(n['name'] for n in pending)} (see their vectrond.log)")


def restart_node(data_dir: pathlib.Path, name: str, *, timeout: float = 120.0) -> dict[str, Any]:
    """Start one stopped (or killed) node again with the arguments it had."""
    data_dir = pathlib.Path(data_dir)
    state = load_state(data_dir)
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir}")
    node = next((n for n in state["nodes"] if n["name"] == name), None)
    if node is None:
        raise InvalidArgument(f"no node {name!r} in {data_dir}")
    if _alive(node["pid"]):
        raise InvalidArgument(f"{name} is running (pid {node['pid']})")
    _reap(node["pid"])
    proc = _launch(node["args"], pathlib.Path(node["log"]), {**os.environ, "VECTRON_CLUSTER_PASSWORD": state["password"]})
    node["pid"] = proc.pid
    _write_private(data_dir / STATE_FILE, json.dumps(state, indent=2))
    _wait_ready([node], timeout, {name: proc}, state.get("ca"))
    return node


def cluster_down(data_dir: pathlib.Path, *, grace: float = 20.0) -> list[tuple[str, str]]:
    """SIGTERM every node, SIGKILL those still running after ``grace`` seconds."""
    state = load_state(pathlib.Path(data_dir))
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir} ({STATE_FILE} not found)")
    out: list[tuple[str, str]] = []
    running = []
    for n in state["nodes"]:
        if _alive(n["pid"]):
            os.kill(n["pid"], signal.SIGTERM)
            running.append(n)
        else:
            out.append((n["name"], "not running"))
    deadline = time.monotonic() + grace
    for n in running:
        while _alive(n["pid"]) and time.monotonic() < deadline:
            _reap(n["pid"])
            time.sleep(0.1)
        if _alive(n["pid"]):
            os.kill(n["pid"], signal.SIGKILL)
            out.append((n["name"], "killed (did not stop in time)"))
        else:
            out.append((n["name"], "stopped"))
    return out


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def cluster_status(data_dir: pathlib.Path, *, stale_after: float = 5.0) -> list[dict[str, Any]]:
    """One row per group replica: group, node, role, leader, term, applied index, lag
    (behind the most advanced replica of its group)."""
    data_dir = pathlib.Path(data_dir)
    state = load_state(data_dir)
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir} ({STATE_FILE} not found)")
    rows: list[dict[str, Any]] = []
    for n in state["nodes"]:
        try:
            st = json.loads((data_dir / n["name"] / "status.json").read_text())
        except (OSError, ValueError):
            st = None
        if st is None or not _alive(n["pid"]) or time.time() - st.get("at", 0) > stale_after:
            rows.append({"group": "(node)", "node": n["name"], "role": "down", "leader": None, "term": 0, "applied_index": 0})
            continue
        for g in st["groups"]:
            rows.append({
                "group": g["group"], "node": n["name"], "role": g.get("role", "?"), "leader": g.get("leader"),
                "term": int(g.get("term") or 0), "applied_index": int(g.get("applied_index") or 0),
            })
    best: dict[str, int] = {}
    for r in rows:
        best[r["group"]] = max(best.get(r["group"], 0), r["applied_index"])
    for r in rows:
        r["lag"] = best[r["group"]] - r["applied_index"]
    rows.sort(key=lambda r: (r["group"] == "(node)", r["group"], r["node"]))
    return rows
