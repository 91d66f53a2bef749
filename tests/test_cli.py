"""The `vectron` CLI: `local` commands on an embedded store, every remote command against a
real `vectrond --role all` (one per module)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import vectron
from tests.services.gateway.procs import Daemon, single_node
from vectron.cli import main
from vectron.cli_common import remember_cluster


def test_local_demo_list_and_search(tmp_path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "d")
    result = runner.invoke(main, ["local", "demo", "--data-dir", data, "--points", "300"])
    assert result.exit_code == 0, result.output
    assert "stored 300 points" in result.output and '"color": "blue"' in result.output
    result = runner.invoke(main, ["local", "list", "--data-dir", data])
    assert result.output.startswith("demo\t300 points\t64-d cosine")
    query = json.dumps([0.1] * 64)
    flt = json.dumps({"must": [{"key": "color", "match": {"value": "red"}}]})
    result = runner.invoke(main, ["local", "search", "--data-dir", data, "demo", query, "-k", "2", "--filter", flt])
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert len(hits) == 2 and all(h["payload"]["color"] == "red" for h in hits)


def test_local_demo_default_folder_is_not_the_daemons(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["local", "demo", "--points", "10"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "vectron-local" / "collections" / "demo").is_dir() and not (tmp_path / "vectron-data").exists()


def test_errors_are_one_line_without_traceback(tmp_path) -> None:
    result = CliRunner().invoke(main, ["local", "search", "--data-dir", str(tmp_path), "nope", "[1]"])
    assert result.exit_code == 1
    assert "collection_not_found" in result.output and "Traceback" not in result.output


# -- against a real vectrond ------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = single_node(tmp_path_factory.mktemp("cli"))
    d.start()
    try:
        d.wait_ready()
        yield d
    finally:
        d.stop()


class Cli:
    """Runs `vectron` in-process with its own config folder and $VECTRON_URL."""

    def __init__(self, url: str, cfg: pathlib.Path) -> None:
        self.cfg = cfg
        self.env = {"VECTRON_URL": url, "VECTRON_CONFIG_DIR": str(cfg), "VECTRON_API_KEY": None, "VECTRON_OUTPUT": None}
        self.runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()

    def invoke(self, *args: str, input: str | None = None) -> Any:
        return self.runner.invoke(main, list(args), env=self.env, input=input, catch_exceptions=False)

    def __call__(self, *args: str, input: str | None = None) -> str:
        result = self.invoke(*args, input=input)
        assert result.exit_code == 0, result.output + result.stderr
        return result.stdout

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self("-o", "json", *args, input=input))

    def fails(self, *args: str) -> str:
        result = self.invoke(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        return result.stderr


@pytest.fixture(scope="module")
def cli(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    run = Cli(daemon.url, tmp_path_factory.mktemp("cfg"))
    run("register", "cli@example.com", "--password", "correct horse battery")
    run("login", "cli@example.com", "--password", "correct horse battery")
    return run


def test_account_keys_and_credentials_per_cluster(cli: Cli, daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = cli.cfg / "credentials.json"
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    result = cli.invoke("keys", "create", "laptop", "--save")
    key = result.stdout.strip()
    assert key.startswith("vk_") and "plan unlimited (your account's: an admin sets it)" in result.stderr
    assert "plan unlimited (your account's: an admin sets it), scope read-only" in cli.invoke("keys", "create", "ro", "--scope", "read-only").stderr
    lines = cli("keys", "list").splitlines()
    assert lines[0].split() == ["ID", "NAME", "PREFIX", "PLAN", "SCOPE", "STATUS", "CREATED_AT"]
    assert sorted((k["name"], k["plan"]) for k in cli.json("keys", "list")) == [("laptop", "unlimited"), ("ro", "unlimited")]
    who = cli.json("whoami")
    assert who["user"] == "cli@example.com" and who["api_key"].startswith(key[:16]) and "saved" in who["api_key"]
    # the same gateway under another name is another URL: it knows nothing until linked
    other = daemon.url.replace("127.0.0.1", "localhost")
    assert "not logged in" in cli.json("whoami", "--url", other)["user"]
    assert "cannot reach" in cli.fails("link", "http://127.0.0.1:9")
    assert other in cli.json("link", other)["urls"]
    assert cli.json("--url", other, "whoami")["user"] == "cli@example.com"
    assert cli.json("collections", "list", "--url", other) == []  # the saved key serves the linked URL
    # a URL recorded with a known one (what `vectron cluster up` does for its nodes) shares it too
    third = daemon.url.replace("127.0.0.1", "0.0.0.0")
    monkeypatch.setenv("VECTRON_CONFIG_DIR", str(cli.cfg))
    remember_cluster([third, daemon.url])
    assert cli.json("whoami", "--url", third)["user"] == "cli@example.com"
    # logout forgets the session and key for every URL of the cluster
    assert cli.json("logout", "--url", other)["logged_out"] is True
    assert "not logged in" in cli.json("whoami")["user"] and cli.json("whoami", "--url", third)["api_key"] is None
    assert "no API key" in cli.fails("collections", "list")
    assert "not logged in" in cli.fails("keys", "list", "--url", other)
    cli("login", "cli@example.com", "--password", "correct horse battery", "--url", other)
    assert cli.json("whoami")["user"] == "cli@example.com"
    # an explicit key (after the subcommand) is used over the saved one
    assert cli.json("collections", "list", "--api-key", key) == []
    assert "unauthenticated" in cli.fails("collections", "list", "--api-key", "vk_000000000000_" + "A" * 43)


def test_credentials_saved_per_url_by_an_older_version_still_work(cli: Cli, daemon: Daemon, tmp_path: pathlib.Path) -> None:
    token = json.loads((cli.cfg / "credentials.json").read_text())["clusters"][0]["token"]
    old = Cli(daemon.url, tmp_path / "old")
    old.cfg.mkdir()
    (old.cfg / "credentials.json").write_text(json.dumps({daemon.url: {"token": token, "email": "cli@example.com"}}))
    assert old.json("whoami")["user"] == "cli@example.com"
    old("link", daemon.url.replace("127.0.0.1", "localhost"))
    assert len(json.loads((old.cfg / "credentials.json").read_text())["clusters"][0]["urls"]) == 2


@pytest.fixture(scope="module")
def data(cli: Cli) -> dict[str, Any]:
    key = cli("keys", "create", "data").strip()
    cli.env["VECTRON_API_KEY"] = key
    cli("collections", "create", "docs", "--dimension", "4", "--shards", "2")
    rng = np.random.default_rng(1)
    return {"key": key, "vecs": rng.normal(size=(60, 4)), "rng": rng}


def _jsonl(path: pathlib.Path, vecs: np.ndarray, bad_line: int | None = None) -> None:
    rows = [{"id": i, "vector": vecs[i].tolist(), "payload": {"i": i, "even": i % 2 == 0}} for i in range(len(vecs))]
    if bad_line is not None:
        rows[bad_line - 1]["vector"] = [1.0, 2.0]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_upsert_names_the_file_line_and_resumes(cli: Cli, data: dict[str, Any], tmp_path: pathlib.Path) -> None:
    f = tmp_path / "points.jsonl"
    _jsonl(f, data["vecs"], bad_line=37)
    err = cli.fails("points", "upsert", "docs", str(f), "--batch-size", "10")
    assert f"{f}:37: dimension_mismatch" in err and "run the same command again to resume after 30 lines" in err
    _jsonl(f, data["vecs"])
    result = cli.invoke("points", "upsert", "docs", str(f), "--batch-size", "10")
    assert result.exit_code == 0 and "resuming after 30 lines" in result.stderr and "upserted 30 points" in result.stdout
    assert cli("points", "count", "docs").strip() == "60"
    rows = cli.json("collections", "list")
    assert [(r["name"], r["points"], r["dimension"]) for r in rows] == [("docs", 60, 4)]
    assert cli("collections", "list").splitlines()[0].split() == ["NAME", "POINTS", "DIMENSION", "DISTANCE", "SHARDS", "REPLICATION_FACTOR"]
    # .npy input with a payload file
    np.save(tmp_path / "v.npy", data["rng"].normal(size=(7, 4)).astype(np.float32))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(7)))
    assert cli.json("points", "upsert", "docs", str(tmp_path / "v.npy"), "--payloads", str(tmp_path / "p.jsonl"), "--id-offset", "1000") == {"upserted": 7}
    assert cli.json("points", "get", "docs", "1006") == [{"id": 1006, "payload": {"n": 6}}]
    assert cli.json("points", "delete", "docs", "1000", "1001", "1002", "1003", "1004", "1005", "1006") == {"deleted": 7}


def test_upsert_interrupted_says_a_rerun_resumes(daemon: Daemon, cli: Cli, data: dict[str, Any], tmp_path: pathlib.Path) -> None:
    f = tmp_path / "many.jsonl"
    vecs = data["rng"].normal(size=(20_000, 4))
    f.write_text("".join(json.dumps({"id": 10_000 + i, "vector": v.tolist()}) + "\n" for i, v in enumerate(vecs)))
    progress = f.with_name(f".{f.name}.docs.progress")
    env = {**os.environ, "VECTRON_URL": daemon.url, "VECTRON_API_KEY": data["key"], "VECTRON_CONFIG_DIR": str(cli.cfg)}
    cmd = [sys.executable, "-c", "from vectron.cli import main; main()", "points", "upsert", "docs", str(f), "--batch-size", "5"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not progress.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "run the same command again to resume after" in err and "Traceback" not in err
    done = int(progress.read_text())
    assert 0 < done < 20_000
    proc2 = subprocess.run([*cmd[:-2], "--batch-size", "2000"], env=env, capture_output=True, text=True, timeout=300)
    assert proc2.returncode == 0 and f"resuming after {done} lines" in proc2.stderr
    assert cli("points", "count", "docs", "--filter", json.dumps({"must": [{"key": "even", "match": {"value": True}}]})).strip() == "30"
    assert cli.json("points", "delete", "docs", "--filter", json.dumps({"must_not": [{"key": "even", "match": {"value": True}},
                                                                                      {"key": "even", "match": {"value": False}}]})) == {"deleted": 20_000}


def test_points_get_scroll_delete_and_search(cli: Cli, data: dict[str, Any], tmp_path: pathlib.Path) -> None:
    vecs = data["vecs"]
    if cli.json("points", "count", "docs")["count"] != 60:
        cli("points", "upsert", "docs", str(_write(tmp_path, vecs)), "--restart")
    result = cli.invoke("points", "get", "docs", "3", "7", "999", "nope")
    assert result.exit_code == 0 and "not found in docs: 999, nope" in result.stderr
    assert cli.json("points", "get", "docs", "3", "7") == [{"id": 3, "payload": {"i": 3, "even": False}}, {"id": 7, "payload": {"i": 7, "even": False}}]
    page = cli.json("points", "scroll", "docs", "--limit", "25")
    assert [p["id"] for p in page["points"]] == list(range(25)) and page["next_offset"] == 25
    page = cli.json("points", "scroll", "docs", "--limit", "25", "--offset", "50", "--filter", json.dumps({"must": [{"key": "even", "match": {"value": True}}]}))
    assert [p["id"] for p in page["points"]] == list(range(50, 60, 2)) and page["next_offset"] is None
    table = cli.invoke("points", "scroll", "docs", "--limit", "2")
    assert table.stdout.splitlines()[0].split() == ["ID", "PAYLOAD"] and "next page: --offset 2" in table.stderr
    # search: inline, a file, stdin, a .npy file, and the vector of a stored point
    q = vecs[9].tolist()
    assert cli.json("search", "docs", json.dumps(q), "-k", "1")[0]["id"] == 9
    (tmp_path / "q.json").write_text(json.dumps(q))
    assert cli.json("search", "docs", "--vector-file", str(tmp_path / "q.json"), "-k", "1")[0]["id"] == 9
    assert cli.json("search", "docs", "--vector-file", "-", "-k", "1", input=json.dumps(q))[0]["id"] == 9
    np.save(tmp_path / "q.npy", np.asarray(q, dtype=np.float32))
    assert cli.json("search", "docs", "--vector-file", str(tmp_path / "q.npy"), "-k", "1")[0]["id"] == 9
    like = cli.json("search", "docs", "--like", "9", "-k", "3")
    assert len(like) == 3 and 9 not in [h["id"] for h in like]
    assert [h["id"] for h in like] == [h["id"] for h in cli.json("search", "docs", json.dumps(q), "-k", "4")][1:]
    table = cli("search", "docs", "--like", "9", "-k", "2", "--filter", json.dumps({"must": [{"key": "even", "match": {"value": True}}]}))
    assert table.splitlines()[0].split() == ["ID", "SCORE", "PAYLOAD"] and len(table.splitlines()) == 3
    assert "exactly one of" in cli.invoke("search", "docs", json.dumps(q), "--like", "9").output
    assert "no point with id 12345" in cli.fails("search", "docs", "--like", "12345")
    assert cli.json("points", "delete", "docs", "58", "59") == {"deleted": 2}
    assert cli.json("points", "count", "docs") == {"count": 58}
    assert "give either IDS or --filter" in cli.invoke("points", "delete", "docs").output


def _write(tmp_path: pathlib.Path, vecs: np.ndarray) -> pathlib.Path:
    f = tmp_path / "again.jsonl"
    _jsonl(f, vecs)
    return f


def test_bad_names_and_server_errors_are_clear(cli: Cli, data: dict[str, Any]) -> None:
    for name in ("../etc", "a/b", "x y"):
        err = cli.fails("collections", "info", name)
        assert f"collection name {name!r} is invalid" in err and "not_found" not in err
    assert "collection_not_found" in cli.fails("search", "nope", "[1,2,3,4]")
    assert "dimension_mismatch" in cli.fails("search", "docs", "[1,2]")
    assert "VECTOR is not JSON" in cli.invoke("search", "docs", "[1,").output
    with vectron.Client(cli.env["VECTRON_URL"], api_key=data["key"]) as c:
        assert c.get_collection("docs").name == "docs"
