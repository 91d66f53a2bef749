"""Channels to a peer that went silent fail UNAVAILABLE (so callers move on to another
replica) instead of holding each call for its whole deadline.

The deadline below (30 s) is far longer than keepalive (3 s) or the connect timeout
(1 s): the assertions are on the status a call ends with, not on how long it took.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vectron.services.channels import open_channel

DEADLINE = 30.0


def check(channel: grpc.Channel) -> grpc.StatusCode:
    try:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()


def test_a_call_on_an_open_connection_to_a_paused_server_fails_unavailable(
    health_server_process: Callable[[], tuple[subprocess.Popen[str], int]],
) -> None:
    proc, port = health_server_process()
    with open_channel(f"127.0.0.1:{port}") as channel:
        assert check(channel) == grpc.StatusCode.OK
        os.kill(proc.pid, signal.SIGSTOP)  # the connection stays open; nothing answers on it any more
        assert check(channel) == grpc.StatusCode.UNAVAILABLE  # keepalive closed it, not the deadline
        assert check(channel) == grpc.StatusCode.UNAVAILABLE  # reconnecting: the handshake times out
        os.kill(proc.pid, signal.SIGCONT)
        grpc.channel_ready_future(channel).result(timeout=DEADLINE)  # reconnects (backoff at most 2 s)
        assert check(channel) == grpc.StatusCode.OK


def test_a_call_to_a_listener_that_never_answers_fails_unavailable() -> None:
    silent = socket.socket()  # the kernel completes TCP handshakes; no HTTP/2 ever comes back
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        with open_channel(f"127.0.0.1:{silent.getsockname()[1]}") as channel:
            assert check(channel) == grpc.StatusCode.UNAVAILABLE
    finally:
        silent.close()
