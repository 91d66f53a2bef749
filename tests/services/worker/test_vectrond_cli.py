"""`vectrond --role worker|placement` argument handling (no processes started)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from vectron.daemon import main
from vectron.errors import InvalidArgument
from vectron.services.worker.node import parse_port_range, worker_id_for


def test_worker_needs_placement_addresses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["--role", "worker", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--placement" in result.output


def test_worker_refuses_a_bad_port_range(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["--role", "worker", "--data-dir", str(tmp_path), "--placement", "127.0.0.1:1", "--raft-ports", "9-2"])
    assert result.exit_code == 2 and "port range" in result.output


def test_placement_group_needs_a_password(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("VECTRON_CLUSTER_PASSWORD", raising=False)
    for args in (["--peers", "127.0.0.1:1"], []):
        result = CliRunner().invoke(main, ["--role", "placement", "--data-dir", str(tmp_path), *args])
        assert result.exit_code == 2 and "password" in result.output
    result = CliRunner().invoke(main, ["--role", "worker", "--data-dir", str(tmp_path), "--placement", "127.0.0.1:1"])
    assert result.exit_code == 2 and "password" in result.output


def test_port_range_and_worker_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert parse_port_range("7600-7699") == (7600, 7699)
    assert parse_port_range("7600") == (7600, 7600)
    for bad in ("a-b", "0-10", "10-5", "70000-70001"):
        with pytest.raises(InvalidArgument):
            parse_port_range(bad)
    first = worker_id_for(tmp_path)
    assert first.startswith("worker-") and worker_id_for(tmp_path) == first
    assert worker_id_for(tmp_path, "w9") == "w9"
