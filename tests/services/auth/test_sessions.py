"""Where the session signing secret comes from."""

from __future__ import annotations

import os
import stat

import pytest

from vectron.errors import InvalidArgument
from vectron.services.auth.sessions import DEV_SECRET_FILE, SECRET_ENV, TokenIssuer, load_secret


def test_secret_from_file_then_env(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / "jwt.secret"
    path.write_text("f" * 40 + "\n")
    monkeypatch.setenv(SECRET_ENV, "e" * 40)
    assert load_secret(secret_file=path) == b"f" * 40
    assert load_secret() == b"e" * 40
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(InvalidArgument, match="shorter"):
        load_secret()
    with pytest.raises(InvalidArgument, match="cannot read"):
        load_secret(secret_file=tmp_path / "missing")


def test_no_secret_means_no_start_unless_generation_is_allowed(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(InvalidArgument, match="no JWT secret"):
        load_secret(data_dir=tmp_path)
    first = load_secret(data_dir=tmp_path, allow_generate=True)
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / DEV_SECRET_FILE).st_mode) == 0o600
    assert load_secret(data_dir=tmp_path, allow_generate=True) == first  # generated once, then reused
    os.chmod(tmp_path / DEV_SECRET_FILE, 0o644)
    with pytest.raises(InvalidArgument, match="chmod 600"):
        load_secret(data_dir=tmp_path, allow_generate=True)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        TokenIssuer(b"too short")
