"""`vectrond --role auth` argument handling (no processes started)."""

from __future__ import annotations

from click.testing import CliRunner

from vectron.daemon import main, parse_roles


def test_unknown_roles_get_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["--role", "auht"])
    assert result.exit_code == 2 and "unknown role" in result.output
    assert parse_roles(" Auth ") == ["auth"]


def test_an_auth_group_without_a_shared_secret_or_password_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VECTRON_AUTH_JWT_SECRET", raising=False)
    monkeypatch.delenv("VECTRON_CLUSTER_PASSWORD", raising=False)
    args = ["--role", "auth", "--data-dir", str(tmp_path), "--peers", "127.0.0.1:1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "JWT secret" in result.output
    assert not (tmp_path / "auth" / "auth-jwt-secret").exists()
    secret = tmp_path / "jwt.secret"
    secret.write_text("s" * 64)
    result = CliRunner().invoke(main, [*args, "--jwt-secret-file", str(secret)])
    assert result.exit_code == 2 and "cluster password" in result.output
