"""One run: network, nodes, setup, workloads under the nemesis, heal, quiet,
final reads, checkers, summary. Everything created is removed in ``finally``
(SIGINT/SIGTERM are turned into an exception so that ``finally`` runs)."""

from __future__ import annotations

import json
import logging
import pathlib
import random
import re
import secrets
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from jepsen_like.checkers import (
    CheckResult,
    check_auth_uniqueness,
    check_availability,
    check_convergence,
    check_disk_full,
    check_final_reads,
    check_linearizable_registers,
    check_search_visibility,
    check_set,
    expect_replicas,
    scan_node_log,
)
from jepsen_like.disk import Disks, DiskUnavailable
from jepsen_like.history import History, Op, fault_windows
from jepsen_like.nemesis import Nemesis
from jepsen_like.net import Network, NetworkUnavailable, netem_available, pick_subnet
from jepsen_like.nodes import Nodes, free_loopback_base, node_specs
from jepsen_like.workloads import (
    DIM,
    REGISTER_COLLECTION,
    SET_COLLECTION,
    Workers,
    WorkloadConfig,
    call,
)

__all__ = ["NETWORK_FAULTS", "RunConfig", "RunReport", "refuse_without_namespaces", "run"]

log = logging.getLogger("jepsen_like.run")

FINAL_PROCESS = 99_999
#: Nemeses that need network namespaces (a run asking for them without namespaces is refused).
NETWORK_FAULTS = ("partition", "leader-one-way")
# vectron/raft/group.py: a snapshot received from the leader (or found on disk at start) is
# restored by RaftGroup._deserialize, which logs one of these; a failed restore stops the group
SNAPSHOT_RESTORED = re.compile(r"restored snapshot at index (\d+) on (\S+)")
SNAPSHOT_SKIPPED = re.compile(r"snapshot at \d+ not restored: state machine already at")
SNAPSHOT_FAILED = re.compile(r"snapshot restore failed|failed to (load|restore|install) (the )?snapshot", re.IGNORECASE)


@dataclass
class RunConfig:
    nodes: int = 3
    time: float = 60.0
    workloads: list[str] = field(default_factory=lambda: ["register", "set"])
    nemeses: list[str] = field(default_factory=lambda: ["kill", "pause", "partition"])
    seed: int = 0
    out_dir: pathlib.Path = pathlib.Path("jepsen-like-tests/store")
    clients: int = 4
    quiet: float = 10.0
    keep_data: bool = False
    no_netns: bool = False
    read_consistency: str = "linearizable"
    hold: tuple[float, float] = (2.0, 6.0)  # seconds a fault lasts
    min_judged_faults: int = 0  # the availability checker fails a run that judged fewer faults
    compaction: int | None = None  # --raft-compaction-entries of every node: forces snapshots and snapshot installs


@dataclass
class RunReport:
    seed: int
    run_dir: pathlib.Path
    network_mode: str
    ops: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None and bool(self.results) and all(r.valid for r in self.results)

    def summary(self) -> str:
        lines = [f"seed {self.seed}  network: {self.network_mode}"]
        by_f: dict[str, Counter[str]] = {}
        for k, v in self.ops.items():
            f, outcome = k.split(":")
            by_f.setdefault(f, Counter())[outcome] += v
        for f, c in sorted(by_f.items()):
            lines.append(f"ops {f:9s} ok {c['ok']:6d}  fail {c['fail']:6d}  info {c['info']:6d}")
        faults = ", ".join(f"{k} x{v}" for k, v in sorted(self.faults.items())) or "none"
        lines.append(f"faults: {faults}")
        lines += [f"note: {n}" for n in self.notes]
        for r in self.results:
            lines.append(r.line())
            lines += [f"    {p}" for p in r.problems]
        if self.error:
            lines.append(f"ERROR: {self.error}")
        lines.append(f"history: {self.run_dir / 'history.jsonl'}  (node logs: {self.run_dir / 'data'}/n*/vectrond.log)")
        lines.append("VALID" if self.valid else "INVALID")
        return "\n".join(lines)


class _Interrupted(BaseException):
    pass


class _Refused(Exception):
    """The run cannot test what it was asked to (see refuse_without_namespaces)."""


def _raise_interrupt(signum: int, frame: object) -> None:
    raise _Interrupted(f"signal {signum}")


def run(cfg: RunConfig) -> RunReport:
    tag = secrets.token_hex(2)
    run_dir = cfg.out_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-seed{cfg.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    history = History(run_dir / "history.jsonl")
    rng = random.Random(cfg.seed)
    network: Network | None = None
    report = RunReport(cfg.seed, run_dir, "loopback (process faults only)")
    nodes: Nodes | None = None
    nemesis: Nemesis | None = None
    disks: Disks | None = None
    old = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not cfg.no_netns:
            try:
                network = Network(tag, cfg.nodes, pick_subnet())
                network.setup()
                report.network_mode = f"namespaces on {network.subnet} (bridge {network.bridge})"
            except NetworkUnavailable as exc:
                if network is not None:
                    network.teardown()
                network = None
                report.notes.append(f"network namespaces unavailable ({exc}): partitions and netem NOT run")
        else:
            report.notes.append("--no-netns: partitions and netem NOT run")
        refusal = refuse_without_namespaces(cfg.nemeses, network is not None, report.notes)
        if refusal:
            raise _Refused(refusal)
        has_netem = network is not None and netem_available()
        if "netem" in cfg.nemeses and not has_netem:
            report.notes.append("netem qdisc unavailable on this kernel: delay/loss faults NOT run")
        extra: list[str] = []
        if cfg.compaction:
            extra += ["--raft-compaction-entries", str(cfg.compaction)]
        specs = node_specs(cfg.nodes, network.addresses if network else None, 0 if network else free_loopback_base(cfg.nodes))
        replicas = min(cfg.nodes, 3)
        nodes = Nodes(specs, run_dir / "data", network, replicas, extra, skewable="clock" in cfg.nemeses)
        if "disk-full" in cfg.nemeses:
            disks = Disks([nodes.state_dir(i) for i in range(cfg.nodes)], run_dir / "disks")
            try:
                disks.setup()
            except DiskUnavailable as exc:
                disks.teardown()
                disks = None
                report.notes.append(f"loop-mounted filesystems unavailable ({exc}): disk-full NOT run")
        nodes.start_all()
        left = nodes.wait_ready(timeout=180)
        if left:
            raise RuntimeError(f"not ready after 180 s: {[specs[i].name for i in left]}")
        urls = [s.url for s in specs]
        api_key = _setup(urls[0], replicas)
        history.note("setup", urls=urls, seed=cfg.seed)
        workers = Workers(WorkloadConfig(urls, api_key, cfg.seed, read_consistency=cfg.read_consistency), history)
        if "register" in cfg.workloads:
            workers.start_register(cfg.clients)
            workers.start_auth()
        if "set" in cfg.workloads:
            workers.start_set(cfg.clients)
        if "collections" in cfg.workloads:
            workers.start_collections(replicas)
        nemesis = Nemesis(nodes, network, history, rng, cfg.nemeses, netem=has_netem, hold=cfg.hold, disks=disks)
        until = time.monotonic() + cfg.time
        nemesis.start(until)
        try:
            while time.monotonic() < until:
                time.sleep(min(1.0, max(0.0, until - time.monotonic())))
        finally:
            nemesis.heal_all()
            workers.join()
        history.note("healed")
        left = nodes.wait_ready(timeout=180)
        if left:
            report.notes.append(f"not ready 180 s after healing: {[specs[i].name for i in left]}")
        log.info("quiet period %.0f s", cfg.quiet)
        time.sleep(cfg.quiet)
        report.results = _final_checks(cfg, nodes, urls, api_key, history, workers)
        if nemesis.counts.get("nemesis-crash") or workers.crashed:
            report.error = f"harness failure: nemesis crashed {nemesis.counts.get('nemesis-crash', 0)}x, " \
                           f"{workers.crashed} client worker(s) crashed (see the log above)"
    except _Interrupted as exc:
        report.error = f"interrupted ({exc})"
    except _Refused as exc:
        report.error = f"refused: {exc}"
    except Exception as exc:  # reported in the summary; the cleanup below runs
        log.exception("run failed")
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        for s in old:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(s, signal.SIG_IGN)
        if nemesis is not None:
            report.faults = Counter({k: v for k, v in nemesis.counts.items()
                                     if k not in ("restart", "resume", "heal-network", "disk-freed", "clock-reset")})
        try:
            if nodes is not None:
                nodes.stop_all()
        finally:
            if disks is not None:
                disks.teardown()
            if network is not None:
                network.teardown()
            history.close()
            for s, h in old.items():
                signal.signal(s, h)
    for o in _ops_from(history):
        report.ops[f"{o.f}:{o.outcome}"] += 1
    if nodes is not None:
        report.notes.append(_snapshot_note(nodes, cfg.compaction))
    if not cfg.keep_data and report.valid:
        for d in (run_dir / "data").glob("n*"):
            for sub in d.iterdir():
                if sub.is_dir():
                    shutil.rmtree(sub, ignore_errors=True)  # keep the logs, drop the databases
        shutil.rmtree(run_dir / "disks", ignore_errors=True)  # the disk-full nemesis's filesystem images
    (run_dir / "summary.txt").write_text(report.summary() + "\n")
    return report


def _ops_from(history: History) -> list[Op]:
    return [o for o in history.ops() if o.process != FINAL_PROCESS]


def _setup(url: str, replicas: int) -> str:
    with httpx.Client(timeout=60, trust_env=False) as http:
        def must(method: str, path: str, body: Any, token: str | None = None) -> Any:
            for _ in range(30):
                o = call(http, method, url + path, json=body, token=token)
                if o.kind == "ok" or o.code in ("already_exists", "collection_already_exists"):
                    return o.body
                time.sleep(1)
            raise RuntimeError(f"setup {method} {path}: {o.error}")
        must("POST", "/v1/users/register", {"email": "jepsen@example.com", "password": "jepsen-password"})
        token = must("POST", "/v1/users/login", {"email": "jepsen@example.com", "password": "jepsen-password"})["token"]
        key = must("POST", "/v1/keys", {"name": "jepsen"}, token)["key"]
        for name in (REGISTER_COLLECTION, SET_COLLECTION):
            must("PUT", f"/v1/collections/{name}",
                 {"dimension": DIM, "distance": "euclid", "shards": 2, "replication_factor": replicas}, key)
    return key


def _retrying(http: httpx.Client, method: str, url: str, body: Any, key: str | None, tries: int = 5) -> Any:
    o = None
    for _ in range(tries):
        o = call(http, method, url, json=body, token=key)
        if o.kind == "ok":
            return o
        time.sleep(1)
    return o


def _final_checks(cfg: RunConfig, nodes: Nodes, urls: list[str], key: str, history: History, workers: Workers) -> list[CheckResult]:
    results: list[CheckResult] = []
    ops = _ops_from(history)
    with httpx.Client(timeout=60, trust_env=False) as http:
        if "register" in cfg.workloads:
            # one more linearizable read of every register through every gateway (part of the history)
            for url in urls:
                for k in range(workers.config.registers):
                    for attempt in range(3):  # every attempt is in the history; a key never read is flagged
                        op = history.invoke(FINAL_PROCESS, "read", k, None, node=url, final=True)
                        o = call(http, "POST", f"{url}/v1/collections/{REGISTER_COLLECTION}/points/get",
                                 json={"ids": [k], "consistency": "linearizable"}, token=key)
                        pts = (o.body or {}).get("points") or [] if o.kind == "ok" else []
                        v = (pts[0].get("payload") or {}).get("v") if pts and pts[0] else None
                        history.complete(op, o.kind, v if o.kind == "ok" else None, error=o.error or None)
                        if o.kind == "ok":
                            break
                        time.sleep(1)
            all_ops = history.ops()
            results.append(check_linearizable_registers([o for o in all_ops if o.f in ("read", "write")]))
            results.append(check_final_reads([o for o in all_ops if o.process == FINAL_PROCESS and o.f == "read"]))
            logins: dict[str, dict[str, bool | None]] = {}
            for j, (email, pws) in enumerate(sorted(workers.passwords.items())):
                logins[email] = {}
                for pw in pws:
                    o = None
                    for attempt in range(4):
                        o = call(http, "POST", f"{urls[(j + attempt) % len(urls)]}/v1/users/login", json={"email": email, "password": pw})
                        if o.kind == "ok" or o.status == 401:
                            break
                        time.sleep(1)
                    assert o is not None
                    logins[email][pw] = True if o.kind == "ok" else False if o.status == 401 else None
            results.append(check_auth_uniqueness([o for o in ops if o.f == "register"], logins))
        adds = [o for o in ops if o.f == "add"]
        if "set" in cfg.workloads:
            ids = sorted({o.key for o in adds})
            reads: dict[str, dict[Any, Any] | None] = {}
            for url in urls:
                reads[f"{url} linearizable"] = _read_set(http, url, key, ids, "linearizable")
            results.append(check_set(adds, reads))
            acked = {o.key: o.value for o in adds if o.outcome == "ok"}
            top: dict[Any, Any] = {}
            ack_ids = sorted(acked)
            for n, start in enumerate(range(0, len(ack_ids), 50)):
                chunk = ack_ids[start:start + 50]
                o = _retrying(http, "POST", f"{urls[n % len(urls)]}/v1/collections/{SET_COLLECTION}/points/search/batch",
                              {"searches": [{"vector": workers.vectors[i], "top_k": 1} for i in chunk]}, key)
                res = (o.body or {}).get("results") if o is not None and o.kind == "ok" else None
                for i, hits in zip(chunk, res or [[] for _ in chunk]):
                    top[i] = hits[0]["id"] if hits else None
            results.append(check_search_visibility(acked, top))
        if "collections" in cfg.workloads:
            creates = [o for o in ops if o.f == "create"]
            listed: dict[str, dict[Any, Any] | None] = {}
            for url in urls:
                o = _retrying(http, "GET", f"{url}/v1/collections", None, key)
                cols = (o.body or {}).get("collections") if o is not None and o.kind == "ok" else None
                listed[url] = None if cols is None else {
                    c["name"]: {"dimension": c["dimension"]} for c in cols if c["name"] not in (REGISTER_COLLECTION, SET_COLLECTION)}
            results.append(check_set(creates, listed, f="create", name="collections (placement group)"))
    if {"register", "set"} & set(cfg.workloads):
        url_of = {spec.name: spec.url for spec in nodes.specs}
        results.append(check_availability(ops, fault_windows(history.events, url_of), min_faults=cfg.min_judged_faults))
    if "disk-full" in cfg.nemeses:
        url_of = {spec.name: spec.url for spec in nodes.specs}
        freed = [e for e in history.events if e.get("type") == "nemesis" and e.get("action") == "disk-freed"]
        results.append(check_disk_full(history.ops(), fault_windows(history.events, url_of), freed))
    results.append(_convergence(nodes, min(cfg.nodes, 3)))
    if "set" in cfg.workloads:
        # after convergence, every replica answers alike: read through any replica too
        with httpx.Client(timeout=60, trust_env=False) as http:
            ids = sorted({o.key for o in adds})
            reads = {f"{url} any-replica": _read_set(http, url, key, ids, "any") for url in urls}
        res = check_set(adds, reads)
        res.name = "set (consistency=any, after convergence)"
        results.append(res)
    return results


def _read_set(http: httpx.Client, url: str, key: str, ids: list[int], consistency: str) -> dict[Any, Any] | None:
    out: dict[Any, Any] = {}
    for start in range(0, len(ids), 256):
        chunk = ids[start:start + 256]
        o = _retrying(http, "POST", f"{url}/v1/collections/{SET_COLLECTION}/points/get",
                      {"ids": chunk, "consistency": consistency, "with_payload": True}, key)
        if o is None or o.kind != "ok":
            return None
        for p in (o.body or {}).get("points") or []:
            if p:
                out[p["id"]] = p.get("payload")
    return out


def refuse_without_namespaces(nemeses: list[str], have_namespaces: bool, notes: list[str]) -> str | None:
    """Why a run must not go on (it asked for network faults that cannot be injected),
    or None. Such a run would otherwise inject nothing and could come out VALID."""
    wanted = [f for f in nemeses if f in NETWORK_FAULTS]
    if not wanted or have_namespaces:
        return None
    why = next((n for n in notes if "namespaces" in n or "--no-netns" in n), "no network namespaces")
    return (f"the nemeses {', '.join(wanted)} need network namespaces, which this run does not have ({why}): "
            f"nothing would be injected. Run as root with iproute2, or leave them out of --nemesis")


def _convergence(nodes: Nodes, replicas: int, timeout: float = 60.0) -> CheckResult:
    samples: list[dict[str, dict[str, int | None]]] = []
    fatal: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        sample: dict[str, dict[str, int | None]] = {}
        fatal = {}
        for i, s in enumerate(nodes.specs):
            st = nodes.status(i)
            for g in (st or {}).get("groups", []):
                sample.setdefault(g["group"], {})[s.name] = g.get("fsm_applied_index", g.get("applied_index"))
                if "point_count" in g:
                    sample.setdefault(g["group"] + " points", {})[s.name] = g["point_count"]
                if g.get("fatal"):
                    fatal[f"{s.name}/{g['group']}"] = str(g["fatal"])
        expect_replicas(sample, [s.name for s in nodes.specs], replicas)  # a silent replica is missing
        samples.append(sample)
        converged = all(None not in v.values() and len(set(v.values())) == 1 for v in sample.values())
        if (converged and not fatal) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    bad: list[str] = []
    for i, s in enumerate(nodes.specs):
        try:
            bad += scan_node_log(s.name, nodes.log_path(i).read_text(errors="replace"))
        except OSError:
            pass
    return check_convergence(samples, bad_log_lines=bad, fatal=fatal)


def _snapshot_note(nodes: Nodes, compaction: int | None) -> str:
    """What the node logs say about snapshots: restores of a snapshot ahead of the
    node's state machine (an install from the leader; after a restart possibly the
    node's own snapshot), snapshots loaded but already applied (mostly a restarted
    node's own), and failed restores (which the convergence check also counts)."""
    restored: Counter[str] = Counter()
    skipped = 0
    failed: list[str] = []
    for i, s in enumerate(nodes.specs):
        try:
            text = nodes.log_path(i).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if SNAPSHOT_RESTORED.search(line):
                restored[s.name] += 1
            elif SNAPSHOT_SKIPPED.search(line):
                skipped += 1
            elif SNAPSHOT_FAILED.search(line):
                failed.append(f"{s.name}: {line.strip()[:200]}")
    where = ", ".join(f"{k} x{v}" for k, v in sorted(restored.items())) or "none"
    forced = f"compaction threshold {compaction} entries" if compaction else "default compaction threshold"
    out = (f"snapshots ({forced}): {sum(restored.values())} restored ahead of the state machine, i.e. installed "
           f"({where}), {skipped} loaded but already applied, {len(failed)} failed to load")
    return out + "".join(f"\n    {f}" for f in failed[:5])


def write_json(path: pathlib.Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str))
