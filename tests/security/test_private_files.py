"""Item 9 of issue 11 on a real ``vectrond``: everything under its data folder is
private to its user (folders 0700, files 0600), both what it creates (LMDB
files, Raft journals and snapshots, status.json, the generated secrets) and what
was there, too open, before it started."""

from __future__ import annotations

import os
import pathlib
import stat

import httpx

from tests.services.gateway.procs import single_node

from .conftest import PASSWORD


def loose_modes(root: pathlib.Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for path in (dirpath, *(os.path.join(dirpath, f) for f in files)):
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if mode & 0o077:
                out[os.path.relpath(path, root)] = oct(mode)
    return out


def test_the_data_folder_is_private(tmp_path: pathlib.Path) -> None:
    daemon = single_node(tmp_path)
    old = daemon.data_dir / "auth" / "left-by-an-older-version"
    old.parent.mkdir(parents=True, mode=0o755)
    os.chmod(daemon.data_dir, 0o755)
    old.write_text("hash")
    os.chmod(old, 0o644)
    daemon.start()
    try:
        daemon.wait_ready()
        with httpx.Client(base_url=daemon.url, timeout=30) as http:  # make every kind of state exist
            assert http.post("/v1/users/register", json={"email": "f@example.com", "password": PASSWORD}).status_code == 201
            token = http.post("/v1/users/login", json={"email": "f@example.com", "password": PASSWORD}).json()["token"]
            key = http.post("/v1/keys", json={"name": "k"}, headers={"Authorization": f"Bearer {token}"}).json()["key"]
            auth = {"Authorization": f"Bearer {key}"}
            assert http.put("/v1/collections/c", json={"dimension": 2}, headers=auth).status_code == 201
            r = http.post("/v1/collections/c/points", json={"points": [{"id": 1, "vector": [1, 0]}]}, headers=auth)
            assert r.status_code == 200, r.text
        names = {p.name for p in daemon.data_dir.rglob("*")}
        assert {"data.mdb", "cluster-password", "status.json", "left-by-an-older-version"} <= names, names
        assert loose_modes(daemon.data_dir) == {}
        assert stat.S_IMODE(daemon.data_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(old.stat().st_mode) == 0o600
    finally:
        daemon.stop()
