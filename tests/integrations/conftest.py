"""One real `vectrond --role all` for the integration tests, with an account and an API key."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import vectron
from tests.services.gateway.procs import single_node
from vectron import errors


@dataclass(frozen=True)
class Server:
    url: str
    key: str

    def client(self) -> vectron.Client:
        return vectron.Client(self.url, api_key=self.key)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = single_node(pathlib.Path(tmp_path_factory.mktemp("integrations")))
    d.start()
    try:
        d.wait_ready()
        with vectron.Client(d.url) as admin:
            admin.register("apps@example.com", "correct horse battery")
            admin.login("apps@example.com", "correct horse battery")
            key = admin.create_key("apps").key
        yield Server(d.url, key)
    finally:
        d.stop()


@pytest.fixture
def collection_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(server: Server, collection_name: str) -> Iterator[vectron.Client]:
    """A client of ``server``; collection ``collection_name`` is dropped afterwards."""
    c = server.client()
    try:
        yield c
    finally:
        try:
            c.drop_collection(collection_name)
        except errors.CollectionNotFound:
            pass
        c.close()
