"""`vectrond --role ...` argument handling (no processes started)."""

from __future__ import annotations

from click.testing import CliRunner

from vectron.daemon import main, parse_roles


def test_unknown_roles_get_a_clear_error() -> None:
    # several roles in one process (gateway, all, auth,worker): tests/services/gateway/test_vectrond.py
    result = CliRunner().invoke(main, ["--role", "auht"])
    assert result.exit_code == 2 and "unknown role" in result.output
    assert parse_roles(" Auth ") == ["auth"]


def test_a_group_without_a_shared_secret_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VECTRON_AUTH_JWT_SECRET", raising=False)
    result = CliRunner().invoke(main, ["--role", "auth", "--data-dir", str(tmp_path), "--peers", "127.0.0.1:1"])
    assert result.exit_code == 2 and "JWT secret" in result.output
    assert not (tmp_path / "auth" / "auth-jwt-secret").exists()
