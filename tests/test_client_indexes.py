"""Payload indexes through vectron.Client and `vectron collections index` against an
in-process gateway stack (real HTTP)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

import vectron
from tests.services.gateway.conftest import Stack, build_stack, stop_stack
from vectron import errors
from vectron.cli import main


@pytest.fixture
def stack(tmp_path: pathlib.Path) -> Iterator[Stack]:
    s = build_stack(tmp_path)
    yield s
    stop_stack(s)


def test_client_and_cli_payload_indexes(stack: Stack, tmp_path: pathlib.Path) -> None:
    key = stack.account()["key"]
    db = vectron.Client(stack.url, api_key=key)
    col = db.create_collection("docs", 3, shards=2, payload_indexes={"lang": "keyword"})
    assert col.payload_indexes == [{"field": "lang", "type": "keyword", "automatic": False}]
    assert db.create_payload_index("docs", "meta/n", "integer") is True
    assert db.create_payload_index("docs", "meta/n", "integer") is False
    assert [i["field"] for i in db.get_collection("docs").payload_indexes] == ["lang", "meta/n"]
    assert db.drop_payload_index("docs", "meta/n") is True and db.drop_payload_index("docs", "meta/n") is False
    with pytest.raises(errors.InvalidArgument) as err:
        db.create_payload_index("docs", "a..b", "keyword")
    assert err.value.field == "field"

    runner = CliRunner()
    env = {"VECTRON_URL": stack.url, "VECTRON_API_KEY": key, "VECTRON_CONFIG_DIR": str(tmp_path / "cfg")}

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert run("collections", "index", "create", "docs", "meta.lang", "--type", "keyword") == "created keyword index on docs.meta.lang\n"
    assert "already there" in run("collections", "index", "create", "docs", "meta.lang", "--type", "keyword")
    indexes = json.loads(run("collections", "info", "docs", "--output", "json"))["payload_indexes"]
    assert [i["field"] for i in indexes] == ["lang", "meta.lang"]
    assert run("collections", "index", "drop", "docs", "meta.lang") == "dropped the index on docs.meta.lang\n"
    result = runner.invoke(main, ["collections", "index", "create", "docs", "a..b", "--type", "bool"], env=env)
    assert result.exit_code == 1 and "field" in result.output and "Traceback" not in result.output
