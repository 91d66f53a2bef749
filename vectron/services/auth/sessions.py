"""Session tokens: HS256 JWTs, and where their signing secret comes from.

A token carries ``sub`` (user id), ``iat``, ``exp``, ``iss`` and a unique
``jti``. Verification pins the algorithm to HS256 (so ``alg: none`` and any
other algorithm are refused), requires every claim, checks the issuer and the
expiry. Whether the user still exists and the session was not revoked is
checked by the auth service against the replicated state.

The secret comes from a file or an environment variable given to the daemon
(:func:`load_secret`); a single-node development setup may have one generated
in its data folder with 0600 permissions. It is never hard-coded.
"""

from __future__ import annotations

import logging
import os
import pathlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from vectron.errors import InvalidArgument, Unauthenticated
from vectron.services.auth.model import Session

__all__ = [
    "SECRET_ENV",
    "DEV_SECRET_FILE",
    "MIN_SECRET_BYTES",
    "TokenIssuer",
    "load_secret",
]

log = logging.getLogger(__name__)

SECRET_ENV = "VECTRON_AUTH_JWT_SECRET"
DEV_SECRET_FILE = "auth-jwt-secret"
MIN_SECRET_BYTES = 32
ALGORITHM = "HS256"
DEFAULT_ISSUER = "vectron-auth"


def load_secret(
    *,
    secret_file: str | os.PathLike[str] | None = None,
    env_var: str | None = SECRET_ENV,
    data_dir: str | os.PathLike[str] | None = None,
    allow_generate: bool = False,
) -> bytes:
    """The JWT signing secret: from ``secret_file``, else the ``env_var``, else (only if
    ``allow_generate``) a random one created once in ``data_dir`` with mode 0600.

    Raise InvalidArgument if none is available or it is shorter than 32 bytes.
    """
    secret: bytes | None = None
    source = ""
    if secret_file:
        path = pathlib.Path(secret_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise InvalidArgument(f"cannot read the JWT secret file {path}: {exc.strerror}", field="secret_file") from None
        source = str(path)
    elif env_var and os.environ.get(env_var):
        secret = os.environ[env_var].strip().encode()
        source = f"${env_var}"
    elif allow_generate and data_dir is not None:
        path = pathlib.Path(data_dir) / DEV_SECRET_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_hex(32).encode())
                out.flush()
                os.fsync(out.fileno())
            log.warning("generated a development JWT secret in %s (single node only)", path)
        if path.stat().st_mode & 0o077:
            raise InvalidArgument(f"{path} must not be readable by group or others (chmod 600)", field="secret_file")
        secret = path.read_bytes().strip()
        source = str(path)
    if not secret:
        raise InvalidArgument(
            f"no JWT secret: give a secret file or set ${env_var} (the same on every auth node)",
            field="secret_file",
        )
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidArgument(f"the JWT secret from {source} is shorter than {MIN_SECRET_BYTES} bytes", field="secret_file")
    return secret


@dataclass
class TokenIssuer:
    """Issues and verifies session JWTs (signature, algorithm, claims, expiry only)."""

    secret: bytes
    ttl_seconds: int = 3600
    issuer: str = DEFAULT_ISSUER
    leeway_seconds: int = 0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise InvalidArgument(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes", field="secret")

    def issue(self, user_id: str) -> tuple[str, Session]:
        now = int(self.clock())
        session = Session(user_id=user_id, jti=uuid.uuid4().hex, issued_at=now, expires_at=now + self.ttl_seconds)
        claims = {
            "sub": user_id,
            "iat": session.issued_at,
            "exp": session.expires_at,
            "iss": self.issuer,
            "jti": session.jti,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), session

    def verify(self, token: str) -> Session:
        """Check signature, algorithm, issuer and expiry; raise Unauthenticated otherwise."""
        if not token:
            raise Unauthenticated("a session token is required (authorization: Bearer <jwt>)")
        try:
            # exp is checked by hand against our clock (PyJWT would use the wall clock).
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["sub", "iat", "exp", "iss", "jti"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid session token: {exc}") from None
        try:
            exp = int(claims["exp"])
            iat = int(claims["iat"])
            sub = str(claims["sub"])
            jti = str(claims["jti"])
        except (TypeError, ValueError):
            raise Unauthenticated("invalid session token: malformed claims") from None
        if exp <= self.clock() - self.leeway_seconds:
            raise Unauthenticated("session token expired; log in again")
        if not sub or not jti:
            raise Unauthenticated("invalid session token: empty sub or jti")
        return Session(user_id=sub, jti=jti, issued_at=iat, expires_at=exp)
