"""``vectrond``'s flags: one vocabulary (``--auth-raft``, ``--placement-grpc``,
``--worker-grpc`` ...) for every role; the old single-role names stay as hidden
aliases, refused where they would be ambiguous."""

from __future__ import annotations

import pathlib

from click.testing import CliRunner

from vectron.daemon import main


def test_help_shows_one_vocabulary() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    for flag in ("--auth-raft", "--auth-grpc", "--auth-peers", "--placement-grpc", "--worker-grpc", "--placement-nodes",
                 "--public-grpc-listen", "--tls-cert", "--tls-ca"):
        assert flag in out, flag
    for old in ("--raft-addr", "--peers ", "--grpc-listen "):
        assert old not in out, old


def test_old_single_role_names_are_refused_for_several_roles(tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(main, ["--role", "all", "--data-dir", str(tmp_path / "d"), "--raft-addr", "127.0.0.1:1"])
    assert result.exit_code == 2 and "--raft-addr" in result.output and "--auth-raft" in result.output


def test_tls_flags_go_together(tmp_path: pathlib.Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "--tls-cert", str(cert)])
    assert result.exit_code == 2 and "--tls-key" in result.output
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "--tls-ca", str(cert)])
    assert result.exit_code == 2 and "--tls-ca needs" in result.output
