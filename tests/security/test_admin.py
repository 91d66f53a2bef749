"""Administration against a real `vectrond --role all` (issue 11 item 4): only an email named
by --admin-emails administers; plans belong to accounts and follow every key; disabling
stops logins, sessions and keys; deleting a user drops every collection they own and
their shard files; bad admin input is a clear 4xx that changes nothing."""

from __future__ import annotations

import json
import os
import pathlib

import grpc
import httpx
import pytest
from click.testing import CliRunner

from tests.security.edge_attack import ADMIN, PASSWORD, account, bearer, http, node, wait_until  # noqa: F401 (fixtures)
from tests.services.gateway.procs import Daemon
from vectron.cli import main as cli
from vectron.v1 import gateway_pb2 as pb
from vectron.v1 import gateway_pb2_grpc


def shard_folders(node: Daemon) -> set[str]:
    root = node.data_dir / "worker" / "shards"
    return {p.name for p in root.iterdir() if p.is_dir() and ".drop-" not in p.name} if root.exists() else set()


def users(http: httpx.Client, token: str) -> list[dict]:
    out, after = [], ""
    while True:
        r = http.get("/v1/admin/users", params={"after": after, "limit": 1}, headers=bearer(token))
        assert r.status_code == 200, r.text
        out += r.json()["users"]
        after = r.json().get("next_after")
        if not after:
            return out


def test_admin_operations_over_rest(node: Daemon, http: httpx.Client) -> None:
    root = account(http, ADMIN)
    bob = account(http, "bob@example.com")
    before = shard_folders(node)
    for name in ("one", "two"):
        assert http.put(f"/v1/collections/{name}", json={"dimension": 2}, headers=bearer(bob["key"])).status_code == 201
        r = http.post(f"/v1/collections/{name}/points", json={"points": [{"id": 1, "vector": [0.1, 0.2]}]}, headers=bearer(bob["key"]))
        assert r.status_code == 200, r.text
    bobs = shard_folders(node) - before
    assert len(bobs) == 2

    # only the admin administers; everyone else is refused and nothing changes
    listed = users(http, root["token"])
    assert [u["email"] for u in listed] == sorted(u["email"] for u in listed) and {ADMIN, "bob@example.com"} <= {u["email"] for u in listed}
    for method, path, body in [("GET", "/v1/admin/users", None), ("PUT", "/v1/admin/users/bob@example.com/plan", {"plan": "pro"}),
                               ("POST", "/v1/admin/users/bob@example.com/disable", None), ("DELETE", "/v1/admin/users/bob@example.com", None)]:
        assert http.request(method, path, json=body, headers=bearer(bob["token"])).status_code == 403
        assert http.request(method, path, json=body).status_code == 401
        assert http.request(method, path, json=body, headers=bearer(bob["key"])).status_code == 401  # an API key is not a session
    bad = [
        ("PUT", "/v1/admin/users/bob@example.com/plan", {"plan": "gold"}, 400, "plan"),
        ("PUT", "/v1/admin/users/nobody@example.com/plan", {"plan": "pro"}, 404, "user"),
        ("POST", f"/v1/admin/users/{ADMIN}/disable", None, 400, "user"),
        ("DELETE", f"/v1/admin/users/{ADMIN}", None, 400, "user"),
        ("GET", "/v1/admin/users?limit=0", None, 400, "limit"),
    ]
    for method, path, body, status, field in bad:
        r = http.request(method, path, json=body, headers=bearer(root["token"]))
        assert r.status_code == status and r.json()["error"].get("field") == field, (path, r.text)
    assert users(http, root["token"]) == listed

    # the plan belongs to the account: every key of it has the new plan at once
    r = http.put("/v1/admin/users/bob@example.com/plan", json={"plan": "pro"}, headers=bearer(root["token"]))
    assert r.status_code == 200 and r.json()["user"]["plan"] == "pro"
    assert {k["plan"] for k in http.get("/v1/keys", headers=bearer(bob["token"])).json()["api_keys"]} == {"pro"}

    # disabled: no key, no session, no login; enabled: all back
    assert http.post("/v1/admin/users/bob@example.com/disable", headers=bearer(root["token"])).json()["user"]["disabled"]
    assert http.get("/v1/collections", headers=bearer(bob["key"])).status_code == 403
    assert http.get("/v1/user/profile", headers=bearer(bob["token"])).status_code == 403
    assert http.post("/v1/users/login", json={"email": "bob@example.com", "password": PASSWORD}).status_code == 403
    assert not http.post("/v1/admin/users/bob@example.com/enable", headers=bearer(root["token"])).json()["user"]["disabled"]
    assert http.get("/v1/collections", headers=bearer(bob["key"])).status_code == 200

    # deleted: the account, its keys and its collections, files included
    r = http.delete("/v1/admin/users/bob@example.com", headers=bearer(root["token"]))
    assert r.status_code == 200 and r.json()["collections_dropped"] == ["one", "two"], r.text
    assert http.get("/v1/collections", headers=bearer(bob["key"])).status_code == 401
    assert wait_until(lambda: not (shard_folders(node) & bobs), timeout=60), shard_folders(node) & bobs
    assert "bob@example.com" not in {u["email"] for u in users(http, root["token"])}
    carol = account(http, "bob@example.com")  # the email is free again, with nothing of bob's
    assert http.get("/v1/collections", headers=bearer(carol["key"])).json()["collections"] == []


def test_admin_over_grpc_and_the_cli(node: Daemon, http: httpx.Client, tmp_path: pathlib.Path) -> None:
    root = account(http, ADMIN)
    account(http, "dave@example.com")
    with grpc.insecure_channel(node.grpc) as channel:
        stub = gateway_pb2_grpc.VectronServiceStub(channel)
        md = (("authorization", f"Bearer {root['token']}"),)
        got = stub.AdminSetPlan(pb.SetPlanSpec(user="dave@example.com", plan="unlimited"), metadata=md)
        assert got.user.plan == "unlimited"
        page = stub.AdminListUsers(pb.ListUsersSpec(limit=1000), metadata=md)
        assert "dave@example.com" in [u.email for u in page.users] and not page.next_after
        with pytest.raises(grpc.RpcError) as err:
            stub.AdminListUsers(pb.ListUsersSpec())
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    env = {"VECTRON_URL": node.url, "VECTRON_CONFIG_DIR": str(tmp_path / "cfg")}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("login", ADMIN, "--password", PASSWORD)
    users = {u["email"]: u for u in json.loads(run("admin", "users", "list", "--limit", "1000", "-o", "json"))}
    assert (users["dave@example.com"]["plan"], users["dave@example.com"]["status"]) == ("unlimited", "active")
    assert "plan pro" in run("admin", "users", "set-plan", "dave@example.com", "pro")
    assert "disabled" in run("admin", "users", "disable", "dave@example.com")
    assert "enabled" in run("admin", "users", "enable", "dave@example.com")
    assert "deleted dave@example.com and 0 collection(s)" in run("admin", "users", "delete", "dave@example.com", "--yes")
    result = runner.invoke(cli, ["admin", "users", "set-plan", "dave@example.com", "pro"], env=env)
    assert result.exit_code != 0 and "not_found" in result.output
    assert json.loads((tmp_path / "cfg" / "credentials.json").read_text())
    assert os.stat(tmp_path / "cfg" / "credentials.json").st_mode & 0o077 == 0
