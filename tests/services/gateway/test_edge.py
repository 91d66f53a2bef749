"""The REST edge's guards (edge.py), each made to fire on a real gateway with small limits:
the header timeout, the header byte cap, the per-address connection cap, the body idle
timeout (408) and the small body limit of routes that take no credential (413)."""

from __future__ import annotations

import pathlib
import socket
import time
from collections.abc import Iterator

import pytest

from tests.services.gateway.conftest import Stack, build_stack, stop_stack
from vectron.services.gateway.edge import EdgeLimits

LIMITS = EdgeLimits(
    max_body_bytes=1 << 20, max_open_body_bytes=1024, body_idle_timeout=1.0, header_timeout=1.0, max_header_bytes=4096,
    max_connections_per_address=5,
)


@pytest.fixture
def stack(tmp_path: pathlib.Path) -> Iterator[Stack]:
    s = build_stack(tmp_path, workers=1, limits=LIMITS)
    yield s
    stop_stack(s)


def _connect(stack: Stack, source: str = "127.0.0.1") -> socket.socket:
    host, port = stack.node.rest_address.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
    return s


def _closed(s: socket.socket, within: float) -> bool:
    """True if the server closes ``s`` (possibly after an answer) within ``within`` seconds."""
    s.settimeout(0.2)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if s.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_half_sent_headers_time_out(stack: Stack) -> None:
    s = _connect(stack)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert _closed(s, within=15)
    idle = _connect(stack)  # a connection that never sends anything
    assert _closed(idle, within=15)


def test_oversized_headers_are_cut(stack: Stack) -> None:
    s = _connect(stack)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)
    assert _closed(s, within=5)


def test_connections_per_address_are_capped(stack: Stack) -> None:
    held = [_connect(stack, "127.0.0.7") for _ in range(5)]
    extra = _connect(stack, "127.0.0.7")
    assert _closed(extra, within=5)
    assert stack.http.get("/healthz").status_code == 200  # another address is served
    for s in held:
        s.close()


def test_a_stalled_body_gets_408_and_open_routes_take_small_bodies(stack: Stack) -> None:
    key = stack.account()["key"]
    s = _connect(stack)
    s.sendall(
        b"POST /v1/collections/docs/points HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n".encode() + b'{"points": ['
    )
    s.settimeout(15)
    answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer, answer
    r = stack.http.post("/v1/users/login", content=b'{"email": "' + b"a" * 2000 + b'"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["field"] == "body"
