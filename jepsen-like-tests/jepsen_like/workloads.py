"""Client workers: each has one operation in flight, records it in the history,
and classifies its outcome:

- 2xx: ``ok``;
- connection refused / connect timeout: ``fail`` (the request never left);
- 504 ``indeterminate``, 500, a read timeout or a dropped connection: ``info``;
- 503 ``unavailable`` and the other 4xx: ``fail`` -- the gateway's documented
  contract (vectron/errors.py: "definite failure: nothing was applied"), which
  the set checker therefore holds it to.

Every HTTP call goes to a node's gateway address (created by the run) with
``trust_env=False``: no proxy, nothing outside the run's network.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from jepsen_like.history import History

__all__ = ["DIM", "Outcome", "Workers", "WorkloadConfig", "call"]

log = logging.getLogger("jepsen_like.workloads")

DIM = 4
REGISTER_COLLECTION = "registers"
SET_COLLECTION = "set"


@dataclass
class Outcome:
    kind: str  # ok | fail | info
    status: int | None = None
    body: Any = None
    error: str = ""
    code: str | None = None


def call(http: httpx.Client, method: str, url: str, *, json: Any = None, token: str | None = None) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = http.request(method, url, json=json, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return Outcome("fail", error=f"connect: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Outcome("info", error=f"{type(exc).__name__}: {exc}"[:200])
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.is_success:
        return Outcome("ok", r.status_code, body)
    code = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
    message = f"HTTP {r.status_code} {code}: {str(body)[:160]}"
    if r.status_code == 504 or r.status_code == 500 or code == "indeterminate":
        return Outcome("info", r.status_code, body, message, code)
    return Outcome("fail", r.status_code, body, message, code)


@dataclass
class WorkloadConfig:
    urls: list[str]
    api_key: str
    seed: int
    registers: int = 6
    op_timeout: float = 20.0
    read_consistency: str = "linearizable"  # "any" or "leader" only to show that the checker catches stale reads


@dataclass
class Workers:
    """The client threads of one run; ``stop`` ends them (each finishes its op)."""

    config: WorkloadConfig
    history: History
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    # set workload: id -> vector of every attempted add (for the search check)
    vectors: dict[int, list[float]] = field(default_factory=dict)
    passwords: dict[str, list[str]] = field(default_factory=dict)
    crashed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _process: Any = field(default_factory=lambda: itertools.count(0))

    def _spawn(self, name: str, target: Callable[[int, random.Random], None]) -> None:
        p = next(self._process)
        rng = random.Random(self.config.seed * 1000 + p)
        t = threading.Thread(target=self._guard, args=(target, p, rng), name=f"{name}-{p}", daemon=True)
        self.threads.append(t)
        t.start()

    def _guard(self, target: Callable[[int, random.Random], None], p: int, rng: random.Random) -> None:
        try:
            target(p, rng)
        except Exception:  # a worker bug must be seen, not end the run silently
            log.exception("client worker %d crashed", p)
            with self._lock:
                self.crashed += 1

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(self.config.op_timeout, connect=3.0), trust_env=False)

    def _url(self, rng: random.Random) -> str:
        return rng.choice(self.config.urls)

    # -- register: points as registers, linearizable reads ---------------------------
    def start_register(self, clients: int) -> None:
        for _ in range(clients):
            self._spawn("register", self._register_loop)

    def _register_loop(self, p: int, rng: random.Random) -> None:
        key = self.config.api_key
        base = f"/v1/collections/{REGISTER_COLLECTION}/points"
        with self._http() as http:
            n = 0
            while not self.stop.is_set():
                k = rng.randrange(self.config.registers)
                url = self._url(rng)
                if rng.random() < 0.5:
                    n += 1
                    v = p * 1_000_000 + n
                    op = self.history.invoke(p, "write", k, v, node=url)
                    vec = [1.0, float(k), float(v % 997), 0.5]
                    o = call(http, "POST", url + base, json={"points": [{"id": k, "vector": vec, "payload": {"v": v}}]}, token=key)
                    self.history.complete(op, o.kind, error=o.error or None, code=o.code)
                else:
                    op = self.history.invoke(p, "read", k, None, node=url)
                    o = call(http, "POST", url + base + "/get", json={"ids": [k], "consistency": self.config.read_consistency}, token=key)
                    if o.kind == "ok":
                        pts = (o.body or {}).get("points") or []
                        got = (pts[0].get("payload") or {}).get("v") if pts and pts[0] else None
                        self.history.complete(op, "ok", got)
                    elif o.status == 404 and o.code not in ("collection_not_found",):
                        self.history.complete(op, "ok", None)
                    else:
                        self.history.complete(op, o.kind, error=o.error or None, code=o.code)
                self.stop.wait(rng.uniform(0.0, 0.1) + (0.2 if o.kind != "ok" else 0.0))

    # -- set: unique ids, each added once ------------------------------------------
    def start_set(self, clients: int) -> None:
        for _ in range(clients):
            self._spawn("set", self._set_loop)

    def _set_loop(self, p: int, rng: random.Random) -> None:
        key = self.config.api_key
        with self._http() as http:
            while not self.stop.is_set():
                with self._lock:
                    i = next(self._ids)
                    vec = [rng.uniform(-1, 1) for _ in range(DIM)]
                    self.vectors[i] = vec
                payload = {"v": i, "p": p}
                url = self._url(rng)
                op = self.history.invoke(p, "add", i, payload, node=url)
                o = call(http, "POST", f"{url}/v1/collections/{SET_COLLECTION}/points",
                         json={"points": [{"id": i, "vector": vec, "payload": payload}]}, token=key)
                self.history.complete(op, o.kind, error=o.error or None, code=o.code)
                self.stop.wait(rng.uniform(0.0, 0.05) + (0.2 if o.kind != "ok" else 0.0))

    # -- auth: the same email registered at once through every gateway --------------
    def start_auth(self, every: float = 3.0) -> None:
        self._spawn("auth", lambda p, rng: self._auth_loop(p, rng, every))

    def _auth_loop(self, p: int, rng: random.Random, every: float) -> None:
        round_no = 0
        while not self.stop.is_set():
            round_no += 1
            email = f"race{self.config.seed}-{round_no}@example.com"
            barrier = threading.Barrier(len(self.config.urls))
            threads = []
            for j, url in enumerate(self.config.urls):
                pw = f"password-{round_no}-{j}-{rng.randrange(10**9)}"
                self.passwords.setdefault(email, []).append(pw)
                proc = p * 1000 + round_no * 10 + j
                t = threading.Thread(target=self._register_once, args=(proc, url, email, pw, barrier), daemon=True)
                threads.append(t)
                t.start()
            for t in threads:
                t.join(self.config.op_timeout + 10)
            self.stop.wait(every)

    def _register_once(self, proc: int, url: str, email: str, pw: str, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        with self._http() as http:
            op = self.history.invoke(proc, "register", email, pw, node=url)
            o = call(http, "POST", f"{url}/v1/users/register", json={"email": email, "password": pw})
            self.history.complete(op, o.kind, error=o.error or None, code=o.code)

    # -- collections: the placement group as a set of unique names ------------------
    def start_collections(self, replicas: int, every: float = 4.0) -> None:
        self._spawn("collections", lambda p, rng: self._collections_loop(p, rng, replicas, every))

    def _collections_loop(self, p: int, rng: random.Random, replicas: int, every: float) -> None:
        n = 0
        with self._http() as http:
            while not self.stop.is_set():
                n += 1
                name = f"c{n}"
                url = self._url(rng)
                op = self.history.invoke(p, "create", name, {"dimension": 2}, node=url)
                o = call(http, "PUT", f"{url}/v1/collections/{name}", token=self.config.api_key,
                         json={"dimension": 2, "shards": 1, "replication_factor": replicas})
                self.history.complete(op, o.kind, error=o.error or None, code=o.code)
                self.stop.wait(every)

    def join(self, timeout: float = 60.0) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
