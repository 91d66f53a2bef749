"""Fixtures of the auth tests: an FSM on a temporary LMDB env, the in-memory Raft
runner, an AuthService with cheap bcrypt, and a real gRPC server on a free loopback port."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import grpc
import pytest

from vectron.raft import InMemoryGroup
from vectron.services.auth import AuthConfig, AuthService, AuthStateMachine, TokenIssuer
from vectron.services.auth.grpc_server import SERVICE_NAME, AuthServicer
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.v1 import auth_pb2_grpc

SECRET = b"test-secret-0123456789abcdef0123456789"
FAST = AuthConfig(bcrypt_rounds=4, write_timeout=3.0, admin_emails=frozenset({"root@example.com"}))


class FakeClock:
    """A settable clock (tests never depend on the wall clock)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fsm(tmp_path: pathlib.Path) -> Iterator[AuthStateMachine]:
    machine = AuthStateMachine(tmp_path / "auth-fsm", sync=False, map_size=1 << 26)
    yield machine
    machine.close()


@pytest.fixture
def group(fsm: AuthStateMachine) -> Iterator[InMemoryGroup[AuthStateMachine]]:
    g = InMemoryGroup(fsm)
    yield g
    g.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(SECRET, ttl_seconds=600, clock=clock)


@pytest.fixture
def service(group: InMemoryGroup[AuthStateMachine], tokens: TokenIssuer, clock: FakeClock) -> AuthService:
    return AuthService(group, tokens, FAST, clock=clock)


@pytest.fixture
def grpc_server(service: AuthService) -> Iterator[GrpcServer]:
    server = start_grpc_server(
        "127.0.0.1:0", lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(service), s), [SERVICE_NAME]
    )
    server.set_serving(True)
    yield server
    server.stop(grace=None)


@pytest.fixture
def stub(grpc_server: GrpcServer) -> Iterator[auth_pb2_grpc.AuthServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}") as channel:
        yield auth_pb2_grpc.AuthServiceStub(channel)
