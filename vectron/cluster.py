"""A local cluster of ``vectrond`` processes, for development: what ``vectron cluster
up|down|status`` runs.

``cluster_up`` starts N background processes, each running every role, with the
auth and placement groups spread over all N nodes (groups of N) and new
collections defaulting to min(N, 3) shards x min(N, 3) replicas. Ports are
picked free at start (or from ``base_port``); the state (addresses, pids, the
cluster password) is kept in ``<data-dir>/cluster.json`` (mode 0600) and the
shared session secret in ``<data-dir>/jwt.secret`` (0600). Each node writes
``<data-dir>/<node>/status.json`` every second (with its pid); ``cluster_status`` and
``cluster_report`` read them, so a node restarted by hand is tracked by its new pid.
``cluster_up`` on an existing folder starts only the nodes that are down, on their
old addresses; ``restart_node`` restarts one. The ``VECTRON_*`` environment
variables of ``cluster_up`` (not the client's own, such as ``VECTRON_API_KEY``) are
passed to the nodes and kept in the state, so restarted nodes get them too.
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

__all__ = ["cluster_up", "cluster_down", "cluster_status", "cluster_report", "load_state", "restart_node"]

STATE_FILE = "cluster.json"
PORTS_PER_NODE = 7
RAFT_PORTS_PER_NODE = 64
#: VECTRON_* variables that configure the client, not a node: never kept in the state
CLIENT_ENV = frozenset({"VECTRON_URL", "VECTRON_API_KEY", "VECTRON_CA", "VECTRON_OUTPUT", "VECTRON_CLUSTER_PASSWORD"})


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


def _alive(pid: int, node_dir: pathlib.Path | None = None) -> bool:
    """Is ``pid`` a running vectrond of ours (not a reused pid)? With ``node_dir``: one
    serving that node folder."""
    if pid <= 0:
        return False
    try:
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    if b"vectron.daemon" not in cmdline:
        return False
    if node_dir is None:
        return True
    args = cmdline.split(b"\0")
    try:
        cwd = pathlib.Path(os.readlink(f"/proc/{pid}/cwd"))  # a relative --data-dir is relative to it
    except OSError:
        cwd = pathlib.Path.cwd()
    return any(a == b"--data-dir" and i + 1 < len(args) and (cwd / os.fsdecode(args[i + 1])).resolve() == node_dir.resolve()
               for i, a in enumerate(args))


def _node_status(data_dir: pathlib.Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((data_dir / name / "status.json").read_text())
    except (OSError, ValueError):
        return None


def _current_pid(data_dir: pathlib.Path, node: dict[str, Any]) -> int | None:
    """The pid now serving ``node``: the one it last wrote in its status.json (a node
    restarted by hand) or the one we started; None when neither runs."""
    node_dir = data_dir / node["name"]
    st = _node_status(data_dir, node["name"])
    for pid in ((st or {}).get("pid"), node.get("pid")):
        if isinstance(pid, int) and _alive(pid, node_dir):
            return pid
    return None


def _node_env(state: dict[str, Any]) -> dict[str, str]:
    return {**os.environ, **state.get("env", {}), "VECTRON_CLUSTER_PASSWORD": state["password"]}


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
    """Start the cluster (on an existing folder: the nodes that are down, on their old
    addresses; ``nodes`` and ``base_port`` then do not apply) and wait until every
    gateway is ready; returns the state (``state["ca"]``: the CA file clients verify
    with, when TLS is on)."""
    data_dir = pathlib.Path(data_dir)
    old = load_state(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret_file = data_dir / "jwt.secret"
    if not secret_file.exists():
        _write_private(secret_file, secrets.token_hex(32) + "\n")
    if old:  # restart on the same addresses: the Raft groups know their members by address
        specs = [{k: v for k, v in n.items() if k not in ("pid", "log", "args")} for n in old["nodes"]]
    else:
        per_node = PORTS_PER_NODE + RAFT_PORTS_PER_NODE
        ports = _pick_ports(nodes * per_node, base_port)
        specs = []
        for i in range(nodes):
            p = ports[i * per_node:(i + 1) * per_node]
            specs.append({
                "name": f"node{i + 1}", "rest": f"127.0.0.1:{p[0]}", "grpc": f"127.0.0.1:{p[1]}",
                "auth_raft": f"127.0.0.1:{p[2]}", "auth_grpc": f"127.0.0.1:{p[3]}",
                "placement_raft": f"127.0.0.1:{p[4]}", "placement_grpc": f"127.0.0.1:{p[5]}",
                "worker_grpc": f"127.0.0.1:{p[6]}", "raft_ports": f"{p[7]}-{p[-1]}",
            })
    replicas = min(len(specs), 3)
    env = {**(old or {}).get("env", {}), **{k: v for k, v in os.environ.items() if k.startswith("VECTRON_") and k not in CLIENT_ENV}}
    extra = list(extra_args) if extra_args is not None else list((old or {}).get("extra_args", []))
    state: dict[str, Any] = {"password": (old or {}).get("password") or secrets.token_hex(16), "env": env, "extra_args": extra, "nodes": []}
    tls_args: list[str] = []
    if tls or (old or {}).get("ca"):
        from vectron.services.tls import generate_cluster_tls

        files = generate_cluster_tls(data_dir / "tls")
        state["ca"] = files.ca
        tls_args = ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", str(files.ca)]
    old_nodes = {n["name"]: n for n in (old or {}).get("nodes", [])}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for spec in specs:
        node_dir = data_dir / spec["name"]
        log_path = node_dir / "vectrond.log"
        running = _current_pid(data_dir, old_nodes[spec["name"]]) if spec["name"] in old_nodes else None
        if running is not None:
            state["nodes"].append({**old_nodes[spec["name"]], "pid": running})
            continue
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
            *extra,
        ]
        proc = _launch(args, log_path, _node_env(state))
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
            proc = procs.get(n["name"])
            code = proc.poll() if proc is not None else (None if _alive(n["pid"]) else "?")
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


def restart_node(data_dir: pathlib.Path, name: str, *, timeout: float = 120.0, grace: float = 20.0) -> dict[str, Any]:
    """Stop ``name`` if it runs (SIGTERM, SIGKILL after ``grace`` seconds), start it again
    with the arguments it had, and wait until its gateway is ready."""
    data_dir = pathlib.Path(data_dir)
    state = load_state(data_dir)
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir}")
    node = next((n for n in state["nodes"] if n["name"] == name), None)
    if node is None:
        raise InvalidArgument(f"no node {name!r} in {data_dir} (nodes: {', '.join(n['name'] for n in state['nodes'])})", field="node")
    pid = _current_pid(data_dir, node)
    if pid is not None:
        _stop_pid(pid, data_dir / name, grace)
    _reap(node["pid"])
    proc = _launch(node["args"], pathlib.Path(node["log"]), _node_env(state))
    node["pid"] = proc.pid
    _write_private(data_dir / STATE_FILE, json.dumps(state, indent=2))
    _wait_ready([node], timeout, {name: proc}, state.get("ca"))
    return node


def _stop_pid(pid: int, node_dir: pathlib.Path, grace: float) -> str:
    os.kill(pid, signal.SIGTERM)
    return _wait_stopped(pid, node_dir, time.monotonic() + grace)


def _wait_stopped(pid: int, node_dir: pathlib.Path, deadline: float) -> str:
    """Wait for a signalled node to exit; SIGKILL it at ``deadline``."""
    while _alive(pid, node_dir) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    _reap(pid)
    if _alive(pid, node_dir):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
        return "killed (did not stop in time)"
    return "stopped"


def cluster_down(data_dir: pathlib.Path, *, grace: float = 20.0) -> list[tuple[str, str]]:
    """SIGTERM every node, SIGKILL those still running after ``grace`` seconds."""
    data_dir = pathlib.Path(data_dir)
    state = load_state(data_dir)
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir} ({STATE_FILE} not found)")
    out: list[tuple[str, str]] = []
    running = []
    for n in state["nodes"]:
        pid = _current_pid(data_dir, n)
        if pid is None:
            out.append((n["name"], "not running"))
        else:
            os.kill(pid, signal.SIGTERM)
            running.append((n, pid))
    deadline = time.monotonic() + grace  # all were signalled at once: they stop in parallel
    for n, pid in running:
        out.append((n["name"], _wait_stopped(pid, data_dir / n["name"], deadline)))
    return out


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _node_views(data_dir: pathlib.Path, state: dict[str, Any], stale_after: float) -> list[tuple[dict[str, Any], dict[str, Any] | None, bool]]:
    """(node, its last status.json or None, alive) per node: alive when the pid now
    serving it runs and its status is fresh."""
    out = []
    for n in state["nodes"]:
        st = _node_status(data_dir, n["name"])
        alive = st is not None and _current_pid(data_dir, n) is not None and time.time() - st.get("at", 0) <= stale_after
        out.append((n, st, alive))
    return out


def cluster_status(data_dir: pathlib.Path, *, stale_after: float = 5.0) -> list[dict[str, Any]]:
    """One row per group replica: group, node, role, leader, term, applied index, lag
    (behind the most advanced replica of its group)."""
    data_dir = pathlib.Path(data_dir)
    state = load_state(data_dir)
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir} ({STATE_FILE} not found)")
    rows: list[dict[str, Any]] = []
    for n, st, alive in _node_views(data_dir, state, stale_after):
        if not alive or st is None:
            rows.append({"group": "(node)", "node": n["name"], "role": "down", "leader": None, "term": 0, "applied_index": 0})
            continue
        for g in st["groups"]:
            rows.append({
                "group": g["group"], "node": n["name"], "role": g.get("role", "?"), "leader": g.get("leader"),
                "term": int(g.get("term") or 0), "applied_index": int(g.get("applied_index") or 0),
                **({"degraded_shards": g["degraded_shards"]} if g.get("degraded_shards") else {}),
            })
    best: dict[str, int] = {}
    for r in rows:
        best[r["group"]] = max(best.get(r["group"], 0), r["applied_index"])
    for r in rows:
        r["lag"] = best[r["group"]] - r["applied_index"]
    rows.sort(key=lambda r: (r["group"] == "(node)", r["group"], r["node"]))
    return rows


def _node_of_raft_address(state: dict[str, Any], address: str) -> str:
    """The node whose shard Raft port range holds ``address`` (else the address itself)."""
    host, _, port = address.rpartition(":")
    for n in state["nodes"]:
        lo, _, hi = str(n.get("raft_ports", "")).partition("-")
        if lo.isdigit() and hi.isdigit() and port.isdigit() and int(lo) <= int(port) <= int(hi) and n["rest"].startswith(host + ":"):
            return str(n["name"])
    return address


def cluster_report(data_dir: pathlib.Path, *, stale_after: float = 5.0) -> dict[str, Any]:
    """The cluster as data (what ``cluster status --json`` prints)::

        {"nodes": [{"node", "alive", "pid", "rest"}],
         "shards": [{"collection", "owner", "collection_id", "shard", "replication_factor", "healthy",
                     "leader", "replicas": [{"node", "role", "live", "applied"}]}],
         "groups": [the rows of cluster_status]}

    A shard is healthy when it has as many live replicas as its replication factor and
    a leader. A replica on a node that is down is listed with ``live: false``, its role
    ``down`` and the applied index it last reported."""
    data_dir = pathlib.Path(data_dir)
    state = load_state(data_dir)
    if state is None:
        raise InvalidArgument(f"no cluster in {data_dir} ({STATE_FILE} not found)")
    views = _node_views(data_dir, state, stale_after)
    nodes = [{"node": n["name"], "alive": alive, "pid": _current_pid(data_dir, n), "rest": n["rest"]} for n, _, alive in views]
    shards: dict[tuple[str, int], dict[str, Any]] = {}
    seen: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for n, st, alive in views:
        for g in (st or {}).get("groups", []):
            if "collection_id" not in g:
                continue
            key = (g["collection_id"], int(g["shard"]))
            shard = shards.setdefault(key, {
                "collection": g.get("collection", ""), "owner": g.get("owner", ""), "collection_id": key[0], "shard": key[1],
                "replication_factor": int(g.get("replication_factor") or 0), "members": set(),
            })
            shard["members"].update(_node_of_raft_address(state, m) for m in g.get("members", []))
            seen.setdefault(key, {})[n["name"]] = {
                "node": n["name"], "role": g.get("role", "unknown") if alive else "down", "live": alive,
                "applied": int(g.get("applied_index") or 0),
            }
    out_shards = []
    for key, shard in sorted(shards.items(), key=lambda kv: (kv[1]["owner"], kv[1]["collection"], kv[0][1])):
        members = shard.pop("members") | set(seen[key])
        replicas = [seen[key].get(m) or {"node": m, "role": "down", "live": False, "applied": 0} for m in sorted(members)]
        leaders = [r["node"] for r in replicas if r["live"] and r["role"] == "leader"]
        live = sum(1 for r in replicas if r["live"])
        out_shards.append({**shard, "replicas": replicas, "leader": leaders[0] if leaders else None,
                           "healthy": bool(leaders) and live >= shard["replication_factor"]})
    return {"nodes": nodes, "shards": out_shards, "groups": cluster_status(data_dir, stale_after=stale_after)}
