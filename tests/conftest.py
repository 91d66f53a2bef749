"""Fixtures for every test: what a daemon started in-process (CliRunner, start_node)
sets for its whole process (the internal credential and TLS files in the
environment, umask 077) is undone after each test, so tests do not leak into each other."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from vectron.services.internal_auth import CLUSTER_PASSWORD_ENV, NODE_ID_ENV
from vectron.services.tls import TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV

PROCESS_ENV = (CLUSTER_PASSWORD_ENV, NODE_ID_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TLS_CA_ENV)


@pytest.fixture(autouse=True)
def _restore_process_settings() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in PROCESS_ENV}
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
