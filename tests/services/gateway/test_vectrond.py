"""`vectrond` with several roles: checks that fail before anything starts, and (when the
Raft layer is built) a real `vectrond --role all` process serving the eight flows."""

from __future__ import annotations

import pathlib
import signal
import socket

import httpx
import pytest
from click.testing import CliRunner

import vectron.raft
from vectron.daemon import main, parse_roles
from vectron.services.runner import NodeConfig, PreflightError, preflight

from tests.services.gateway.procs import free_ports, single_node

needs_raft = pytest.mark.skipif(not hasattr(vectron.raft, "RaftGroup"), reason="vectron.raft.RaftGroup is not built yet")


def test_roles_parse() -> None:
    assert parse_roles("all") == ["gateway", "auth", "placement", "worker"]
    assert parse_roles("auth, gateway,auth") == ["auth", "gateway"]
    result = CliRunner().invoke(main, ["--role", "gatway"])
    assert result.exit_code == 2 and "unknown role" in result.output


def test_port_in_use_is_refused_before_start(tmp_path: pathlib.Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = f"127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(PreflightError, match="in use"):
            preflight(NodeConfig(roles=("gateway",), data_dir=str(tmp_path / "d"), rest_listen=busy, grpc_listen="127.0.0.1:0",
                                 auth_nodes=("127.0.0.1:1",), placement_nodes=("127.0.0.1:1",)))
        result = CliRunner().invoke(main, ["--role", "gateway", "--data-dir", str(tmp_path / "d"), "--rest-listen", busy,
                                           "--auth-nodes", "127.0.0.1:1", "--placement", "127.0.0.1:1"])
        assert result.exit_code == 1 and "in use" in result.output
        # the same through the environment
        result = CliRunner().invoke(main, ["--role", "gateway", "--data-dir", str(tmp_path / "d")],
                                    env={"VECTRON_REST_LISTEN": busy, "VECTRON_AUTH_NODES": "127.0.0.1:1", "VECTRON_PLACEMENT_NODES": "127.0.0.1:1"})
        assert result.exit_code == 1 and busy in result.output


def test_bad_config_and_data_dir(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("rest-listen = [unclosed\n")
    result = CliRunner().invoke(main, ["--config", str(bad)])
    assert result.exit_code == 2 and "not valid TOML" in result.output
    bad.write_text('nonsense = 1\n')
    result = CliRunner().invoke(main, ["--config", str(bad)])
    assert result.exit_code == 2 and "unknown setting 'nonsense'" in result.output
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2 and "cannot read" in result.output
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(PreflightError, match="data folder"):
        preflight(NodeConfig(roles=("gateway",), data_dir=str(a_file / "sub"), rest_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                             auth_nodes=("127.0.0.1:1",), placement_nodes=("127.0.0.1:1",)))
    with pytest.raises(PreflightError, match="auth nodes"):
        preflight(NodeConfig(roles=("gateway",), data_dir=str(tmp_path / "g")))
    with pytest.raises(PreflightError, match="both want"):
        preflight(NodeConfig(roles=("gateway",), data_dir=str(tmp_path / "g"), rest_listen="127.0.0.1:5", grpc_listen="127.0.0.1:5",
                             auth_nodes=("a:1",), placement_nodes=("a:1",)))
    with pytest.raises(PreflightError, match="cluster password"):
        preflight(NodeConfig(roles=("auth",), data_dir=str(tmp_path / "g"), auth_peers=("127.0.0.1:9",)))


def test_config_file_supplies_settings(tmp_path: pathlib.Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = f"127.0.0.1:{s.getsockname()[1]}"
        cfg = tmp_path / "node.toml"
        cfg.write_text(f'role = "gateway"\nrest-listen = "{busy}"\nauth-nodes = ["127.0.0.1:1"]\nplacement-nodes = ["127.0.0.1:1"]\n'
                       f'data-dir = "{tmp_path / "d"}"\n')
        result = CliRunner().invoke(main, ["--config", str(cfg)])
        assert result.exit_code == 1 and busy in result.output


@needs_raft
def test_single_node_flows_end_to_end(tmp_path: pathlib.Path) -> None:
    d = single_node(tmp_path)
    d.start()
    try:
        d.wait_ready()
        http = httpx.Client(base_url=d.url, timeout=30)
        assert http.post("/v1/users/register", json={"email": "e@example.com", "password": "pass-word-1"}).status_code == 201
        token = http.post("/v1/users/login", json={"email": "e@example.com", "password": "pass-word-1"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = http.post("/v1/keys", json={"name": "e2e", "plan": "unlimited"}, headers=auth).json()
        key = {"Authorization": f"Bearer {created['key']}"}
        assert http.put("/v1/collections/docs", json={"dimension": 3}, headers=key).status_code == 201
        pts = [{"id": i, "vector": [1.0, float(i), 0.5], "payload": {"i": i, "s": f"p{i}"}} for i in range(30)]
        r = http.post("/v1/collections/docs/points", json={"points": pts}, headers=key)
        assert r.status_code == 200 and r.json() == {"upserted": 30}, r.text
        assert http.get("/v1/collections/docs/points/5", headers=key).json()["point"]["payload"] == {"i": 5, "s": "p5"}
        hits = http.post("/v1/collections/docs/points/search", json={"vector": [1.0, 7.0, 0.5], "top_k": 3}, headers=key).json()["results"]
        assert hits[0]["id"] == 7 and hits[0]["payload"] == {"i": 7, "s": "p7"}
        assert http.get("/v1/user/profile", headers=auth).json()["user"]["email"] == "e@example.com"
        assert [k["id"] for k in http.get("/v1/keys", headers=auth).json()["api_keys"]] == [created["api_key"]["id"]]
        http.close()
        # a clean stop on SIGTERM, and the data is there after a restart
        assert d.stop(signal.SIGTERM) == 0
        d.start()
        d.wait_ready()
        with httpx.Client(base_url=d.url, timeout=30) as http:
            assert http.post("/v1/collections/docs/points/count", json={}, headers=key).json() == {"count": 30}
    finally:
        d.stop()
