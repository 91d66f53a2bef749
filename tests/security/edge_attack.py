"""Helpers of the public-edge attack tests: one real `vectrond --role all`, accounts made
over REST, the daemon's resident memory sampled while an attack runs, and /healthz
probed meanwhile. (A helper module, not a conftest, so other security tests stay free.)"""

from __future__ import annotations

import pathlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from tests.services.gateway.procs import Daemon, single_node

ADMIN = "root@example.com"
PASSWORD = "correct horse battery"
#: the bar of issue 11 for every memory attack
MAX_RSS_GROWTH = 100 << 20
#: a /healthz answer slower than this counts as "hung" (generous: the machine is shared)
HEALTH_BOUND = 5.0


def start_daemon(tmp: pathlib.Path) -> Daemon:
    """A single node with real defaults for plans (free) and one admin."""
    d = single_node(tmp, "--default-plan", "free", "--admin-emails", ADMIN, "--default-shards", "1")
    d.start()
    d.wait_ready()
    return d


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Watch:
    """What happened to the daemon while an attack ran."""

    baseline: int
    peak: int = 0
    health_checks: int = 0
    health_failures: list[str] = field(default_factory=list)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@contextmanager
def watched(d: Daemon) -> Iterator[Watch]:
    """Sample the daemon's RSS every 20 ms and probe /healthz in a loop while the block runs."""
    assert d.proc is not None
    pid = d.proc.pid
    w = Watch(baseline=rss_bytes(pid))
    w.peak = w.baseline
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            w.peak = max(w.peak, rss_bytes(pid))
            stop.wait(0.02)

    def check_once(http: httpx.Client) -> None:
        try:
            r = http.get("/healthz", headers={"Connection": "close"})  # a fresh connection each time
            if r.status_code != 200:
                w.health_failures.append(f"status {r.status_code}")
        except httpx.HTTPError as exc:
            w.health_failures.append(repr(exc))
        w.health_checks += 1

    def probe() -> None:
        with httpx.Client(base_url=d.url, timeout=HEALTH_BOUND) as http:
            while not stop.is_set():
                check_once(http)
                stop.wait(0.2)

    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=probe, daemon=True)]
    for t in threads:
        t.start()
    try:
        yield w
        with httpx.Client(base_url=d.url, timeout=HEALTH_BOUND) as http:
            check_once(http)  # at least once, right as the attack ends
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)


def account(http: httpx.Client, email: str) -> dict[str, str]:
    """Register (409 is fine), log in, create one key: {token, key}."""
    r = http.post("/v1/users/register", json={"email": email, "password": PASSWORD})
    assert r.status_code in (201, 409), r.text
    r = http.post("/v1/users/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    r = http.post("/v1/keys", json={"name": "k"}, headers=bearer(token))
    assert r.status_code == 201, r.text
    return {"token": token, "key": r.json()["key"], "user_id": r.json()["api_key"]["id"]}


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def client_from(d: Daemon, address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127.x.y.z on loopback)."""
    return httpx.Client(base_url=d.url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def raw_request(d: Daemon, head: str, *, source: str = "127.0.0.1") -> socket.socket:
    """A socket to the REST port with ``head`` (request line and headers, no body) sent."""
    host, port = d.rest.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0))
    s.sendall(head.encode())
    return s


def read_status(s: socket.socket) -> tuple[int, bytes]:
    """The status code and raw answer of a response read from ``s`` (until it closes or 10 s pass)."""
    s.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _content_length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0, data


def _content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def send_body(s: socket.socket, size: int, chunk: int = 1 << 20) -> int:
    """Send up to ``size`` bytes of body; returns how many went out before the server closed."""
    sent = 0
    block = b"x" * chunk
    try:
        while sent < size:
            n = min(chunk, size - sent)
            s.sendall(block[:n])
            sent += n
    except OSError:
        pass
    return sent


def wait_until(check, timeout: float, interval: float = 0.25) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon per test module (import this fixture into the module)."""
    d = start_daemon(tmp_path_factory.mktemp("node"))
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def http(node: Daemon) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=node.url, timeout=60) as c:
        yield c
