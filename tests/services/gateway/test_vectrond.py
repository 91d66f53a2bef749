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
from tests.services.gateway.procs import single_node
from vectron.daemon import main, parse_roles
from vectron.services.runner import NodeConfig, PreflightError, preflight


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
                                 auth_nodes=("127.0.0.1:1",), placement_nodes=("127.0.0.1:1",), cluster_password="pw"))
        result = CliRunner().invoke(main, ["--role", "gateway", "--data-dir", str(tmp_path / "d"), "--rest-listen", busy,
                                           "--auth-nodes", "127.0.0.1:1", "--placement", "127.0.0.1:1"],
                                    env={"VECTRON_CLUSTER_PASSWORD": "pw"})
        assert result.exit_code == 1 and "in use" in result.output
        # the same through the environment
        result = CliRunner().invoke(main, ["--role", "gateway", "--data-dir", str(tmp_path / "d")],
                                    env={"VECTRON_REST_LISTEN": busy, "VECTRON_AUTH_NODES": "127.0.0.1:1", "VECTRON_PLACEMENT_NODES": "127.0.0.1:1",
                                         "VECTRON_CLUSTER_PASSWORD": "pw"})
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
                             auth_nodes=("127.0.0.1:1",), placement_nodes=("127.0.0.1:1",), cluster_password="pw"))
    with pytest.raises(PreflightError, match="auth nodes"):
        preflight(NodeConfig(roles=("gateway",), data_dir=str(tmp_path / "g")))
    with pytest.raises(PreflightError, match="both want"):
        preflight(NodeConfig(roles=("gateway",), data_dir=str(tmp_path / "g"), rest_listen="127.0.0.1:5", grpc_listen="127.0.0.1:5",
                             auth_nodes=("a:1",), placement_nodes=("a:1",), cluster_password="pw"))
    with pytest.raises(PreflightError, match="cluster password"):
        preflight(NodeConfig(roles=("auth",), data_dir=str(tmp_path / "g"), auth_peers=("127.0.0.1:9",)))
    with pytest.raises(PreflightError, match="cluster password"):  # a gateway of another node's cluster cannot make one up
        preflight(NodeConfig(roles=("gateway",), data_dir=str(tmp_path / "g"), auth_nodes=("a:1",), placement_nodes=("a:1",)))


def test_config_file_supplies_settings(tmp_path: pathlib.Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = f"127.0.0.1:{s.getsockname()[1]}"
        cfg = tmp_path / "node.toml"
        cfg.write_text(f'role = "gateway"\nrest-listen = "{busy}"\nauth-nodes = ["127.0.0.1:1"]\nplacement-nodes = ["127.0.0.1:1"]\n'
                       f'data-dir = "{tmp_path / "d"}"\n')
        result = CliRunner().invoke(main, ["--config", str(cfg)], env={"VECTRON_CLUSTER_PASSWORD": "pw"})
        assert result.exit_code == 1 and busy in result.output


def test_raft_compaction_threshold_reaches_every_groups_raft_config(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vectron.daemon
    import vectron.raft
    from vectron.services.auth import node as auth_node
    from vectron.services.placement import node as placement_node
    from vectron.services.runner import raft_options, start_node
    from vectron.services.worker import node as worker_node

    # flag, VECTRON_RAFT_COMPACTION_ENTRIES and the TOML key reach NodeConfig; default unchanged
    seen: list[NodeConfig] = []
    monkeypatch.setattr(vectron.daemon, "_run_roles", seen.append)
    cfg = tmp_path / "node.toml"
    cfg.write_text("raft-compaction-entries = 30\n")
    for args, env, want in [
        ([], {}, None),
        (["--raft-compaction-entries", "50"], {}, 50),
        ([], {"VECTRON_RAFT_COMPACTION_ENTRIES": "40"}, 40),
        (["--config", str(cfg)], {}, 30),
    ]:
        result = CliRunner().invoke(main, ["--role", "all", *args], env=env)
        assert result.exit_code == 0, result.output
        assert seen.pop().raft_compaction_entries == want
    result = CliRunner().invoke(main, ["--raft-compaction-entries", "0"])
    assert result.exit_code == 2 and "raft-compaction-entries" in result.output
    assert raft_options(None) == {} and raft_options(50) == {"log_compaction_min_entries": 50}

    # the runner hands the same options to the auth, placement and worker roles
    calls: dict[str, object] = {}

    class Part:
        def stop(self) -> None:
            pass

    def fake(name: str) -> object:
        def serve(**kwargs: object) -> Part:
            calls[name] = kwargs.get("raft_options")
            return Part()
        return serve

    monkeypatch.setattr(auth_node, "serve_auth", fake("auth"))
    monkeypatch.setattr(placement_node, "serve_placement", fake("placement"))
    monkeypatch.setattr(worker_node, "serve_worker", fake("worker"))
    node = start_node(NodeConfig(roles=("auth", "placement", "worker"), data_dir=str(tmp_path / "n"), cluster_password="pw",
                                raft_compaction_entries=50))
    node.stop()
    assert calls == {name: {"log_compaction_min_entries": 50} for name in ("auth", "placement", "worker")}
    monkeypatch.undo()

    # and serve_* builds RaftConfig with them (a RaftGroup stand-in records its config)
    configs: list[vectron.raft.RaftConfig] = []

    class Recorded(Exception):
        pass

    def group(fsm: object, config: vectron.raft.RaftConfig) -> None:
        configs.append(config)
        raise Recorded

    import vectron.services.groups

    monkeypatch.setattr(vectron.services.groups, "RaftGroup", group)
    with pytest.raises(Recorded):
        auth_node.serve_auth(data_dir=tmp_path / "a", raft_address="127.0.0.1:1", jwt_secret=b"x" * 32, cluster_password="pw",
                             raft_options=raft_options(50))
    with pytest.raises(Recorded):
        placement_node.serve_placement(data_dir=tmp_path / "p", raft_address="127.0.0.1:1", cluster_password="pw",
                                       raft_options=raft_options(50))
    assert [c.log_compaction_min_entries for c in configs] == [50, 50]
    assert vectron.raft.RaftConfig("a:1", ["a:1"], str(tmp_path), "pw").log_compaction_min_entries == 5000


def test_single_node_flows_end_to_end(tmp_path: pathlib.Path) -> None:
    d = single_node(tmp_path)
    d.start()
    try:
        d.wait_ready()
        http = httpx.Client(base_url=d.url, timeout=30)
        assert http.post("/v1/users/register", json={"email": "e@example.com", "password": "pass-word-1"}).status_code == 201
        token = http.post("/v1/users/login", json={"email": "e@example.com", "password": "pass-word-1"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = http.post("/v1/keys", json={"name": "e2e"}, headers=auth).json()
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


# -- tenant isolation and bad input against a real `vectrond --role all` ----------------------

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from tests.services.gateway.test_rest import BAD, make_points  # noqa: E402


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = single_node(tmp_path_factory.mktemp("real"))
    d.start()
    try:
        d.wait_ready()
        http = httpx.Client(base_url=d.url, timeout=30)
        accounts = {}
        for who in ("a", "b"):
            email = f"{who}@example.com"
            assert http.post("/v1/users/register", json={"email": email, "password": "pass-word-1"}).status_code == 201
            token = http.post("/v1/users/login", json={"email": email, "password": "pass-word-1"}).json()["token"]
            key = http.post("/v1/keys", json={"name": who}, headers={"Authorization": f"Bearer {token}"}).json()["key"]
            accounts[who] = {"token": token, "key": key}
        ka = {"Authorization": f"Bearer {accounts['a']['key']}"}
        assert http.put("/v1/collections/docs", json={"dimension": 4}, headers=ka).status_code == 201
        assert http.post("/v1/collections/docs/points", json={"points": make_points(3)}, headers=ka).status_code == 200
        yield {"http": http, "accounts": accounts}
        http.close()
    finally:
        d.stop()


def test_real_tenant_isolation(real: dict[str, Any]) -> None:
    http, acc = real["http"], real["accounts"]
    kb = {"Authorization": f"Bearer {acc['b']['key']}"}
    for method, path, body in [
        ("GET", "/v1/collections/docs", None),
        ("GET", "/v1/collections/docs/points/1", None),
        ("POST", "/v1/collections/docs/points/search", {"vector": [1, 0, 0, 0], "top_k": 1}),
        ("POST", "/v1/collections/docs/points", {"points": make_points(1)}),
        ("DELETE", "/v1/collections/docs", None),
    ]:
        r = http.request(method, path, json=body, headers=kb)
        assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found", (method, path, r.text)
    assert http.get("/v1/collections", headers=kb).json() == {"collections": []}
    ka = {"Authorization": f"Bearer {acc['a']['key']}"}
    assert http.post("/v1/collections/docs/points/count", json={}, headers=ka).json() == {"count": 3}


@pytest.mark.parametrize("name,path,body,status,code,field", BAD, ids=[b[0] for b in BAD])
def test_real_bad_input_changes_nothing(real: dict[str, Any], name: str, path: str, body: Any, status: int, code: str, field: str | None) -> None:
    http = real["http"]
    ka = {"Authorization": f"Bearer {real['accounts']['a']['key']}"}
    before = http.post("/v1/collections/docs/points/scroll", json={"with_vector": True}, headers=ka).json()
    if isinstance(body, bytes):
        r = http.post(path, content=body, headers={**ka, "Content-Type": "application/json"})
    else:
        r = http.post(path, json=body, headers=ka)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    if field is not None:
        assert r.json()["error"]["field"] == field
    assert http.post("/v1/collections/docs/points/scroll", json={"with_vector": True}, headers=ka).json() == before


def test_real_credentials_and_oversized_body(real: dict[str, Any]) -> None:
    http, acc = real["http"], real["accounts"]
    assert http.get("/v1/collections").status_code == 401
    assert http.get("/v1/collections", headers={"Authorization": f"Bearer {acc['a']['token']}"}).status_code == 401
    assert http.get("/v1/user/profile", headers={"Authorization": f"Bearer {acc['a']['key']}"}).status_code == 401
    ka = {"Authorization": f"Bearer {acc['a']['key']}"}
    # a body declared over the 64 MiB limit is refused before it is read
    host, port = str(http.base_url.host), int(http.base_url.port or 80)
    with socket.create_connection((host, port)) as s:
        s.sendall(f"POST /v1/collections/docs/points HTTP/1.1\r\nHost: x\r\nAuthorization: {ka['Authorization']}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {100 << 20}\r\n\r\n".encode())
        s.settimeout(10)
        data = b""
        while b"}}" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        reply = data.decode()
    assert reply.startswith("HTTP/1.1 413") and "payload_too_large" in reply
    assert http.post("/v1/collections/docs/points/count", json={}, headers=ka).json() == {"count": 3}
