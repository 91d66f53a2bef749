"""Authentication of internal RPC: who may call the auth, placement and worker services.

Every node of a cluster holds the cluster secret (``cluster-password``, what the
Raft groups already share). From it each caller derives short-lived tokens::

    v1.<node id, base64url>.<expiry, unix seconds>.<HMAC-SHA256 hex>

sent as the ``x-vectron-cluster-token`` metadata of every internal call (the MAC
key is derived from the secret with its own label, so a token never reveals what
Raft uses). A server checks it in :class:`InternalAuthInterceptor`, before the
handler runs and before the request message is deserialized: a call without a
valid token ends with ``UNAUTHENTICATED``. Only gRPC health stays open (load
balancers and readiness probes hold no secret); reflection is behind the token too
(the schemas are public in ``proto/``, but an internal port answers nothing to
strangers).

The node id in a token is the caller's claimed identity, vouched for by the
secret: a worker registers itself under its own id, and placement refuses to let
anyone else re-point that worker (:func:`caller_node_id`).

Clients get the credential where channels are opened
(:func:`vectron.services.channels.open_channel`): by default the one the process
was configured with, read from ``VECTRON_CLUSTER_PASSWORD`` and
``VECTRON_INTERNAL_NODE_ID`` (the daemon exports what it resolved from flags, TOML or a
generated secret, see :func:`export_credential`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from vectron.errors import Unauthenticated

__all__ = [
    "TOKEN_METADATA_KEY", "CLUSTER_PASSWORD_ENV", "NODE_ID_ENV", "OPEN_METHOD_PREFIXES", "TOKEN_TTL_SECONDS",
    "CLOCK_SKEW_SECONDS", "ClusterCredential", "InternalAuthInterceptor", "TokenClientInterceptor",
    "caller_node_id", "export_credential",
]

TOKEN_METADATA_KEY = "x-vectron-cluster-token"
CLUSTER_PASSWORD_ENV = "VECTRON_CLUSTER_PASSWORD"
NODE_ID_ENV = "VECTRON_INTERNAL_NODE_ID"  # not VECTRON_NODE_ID: that one is --node-id for child daemons
OPEN_METHOD_PREFIXES: tuple[str, ...] = ("/grpc.health.v1.Health/",)
TOKEN_TTL_SECONDS = 300
CLOCK_SKEW_SECONDS = 120
_KEY_LABEL = b"vectron internal rpc v1"
_VERSION = "v1"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _parse(token: str) -> tuple[str, int, str] | None:
    """(node id, expiry, MAC) of a well-formed token (signature not checked), else None."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not (parts[2].isascii() and parts[2].isdigit()) or len(parts[2]) > 12 \
            or not parts[3].isascii():
        return None
    try:
        node = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return node, int(parts[2]), parts[3]


@dataclass(frozen=True)
class ClusterCredential:
    """The cluster secret of this process and the node id its tokens claim."""

    secret: str = field(repr=False)
    node_id: str = "node"

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a cluster credential needs a non-empty secret")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClusterCredential | None:
        """The credential in ``VECTRON_CLUSTER_PASSWORD`` / ``VECTRON_INTERNAL_NODE_ID``, or None."""
        env = os.environ if environ is None else environ
        secret = env.get(CLUSTER_PASSWORD_ENV, "")
        return cls(secret, env.get(NODE_ID_ENV) or "node") if secret else None

    @functools.cached_property
    def _key(self) -> bytes:
        return hmac.new(self.secret.encode(), _KEY_LABEL, hashlib.sha256).digest()

    def _mac(self, node: str, expiry: int) -> str:
        return hmac.new(self._key, f"{_VERSION}\n{node}\n{expiry}".encode(), hashlib.sha256).hexdigest()

    def token(self, now: float | None = None, *, ttl: int = TOKEN_TTL_SECONDS) -> str:
        """A token for this node, valid ``ttl`` seconds from ``now``."""
        expiry = int((time.time() if now is None else now) + ttl)
        return f"{_VERSION}.{_b64(self.node_id)}.{expiry}.{self._mac(self.node_id, expiry)}"

    def verify(self, token: str | bytes | None, now: float | None = None) -> str:
        """The node id a valid ``token`` names; :class:`Unauthenticated` for a missing,
        malformed, forged or expired one (``CLOCK_SKEW_SECONDS`` tolerated either way)."""
        if not token:
            raise Unauthenticated(f"internal call without a cluster token ({TOKEN_METADATA_KEY})")
        if isinstance(token, bytes):
            token = token.decode(errors="replace")
        parsed = _parse(token)
        if parsed is None:
            raise Unauthenticated("malformed cluster token")
        node, expiry, mac = parsed
        if not hmac.compare_digest(self._mac(node, expiry), mac):
            raise Unauthenticated("cluster token not signed with this cluster's secret")
        t = time.time() if now is None else now
        if expiry < t - CLOCK_SKEW_SECONDS:
            raise Unauthenticated("cluster token expired")
        if expiry > t + TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("cluster token expires too far in the future")
        return node


def export_credential(secret: str, node_id: str) -> ClusterCredential:
    """Make ``secret`` and ``node_id`` this process's internal credential (what
    :meth:`ClusterCredential.from_env` and so every channel opened later use)."""
    os.environ[CLUSTER_PASSWORD_ENV] = secret
    os.environ[NODE_ID_ENV] = node_id
    return ClusterCredential(secret, node_id)


def caller_node_id(context: grpc.ServicerContext) -> str | None:
    """The node id of the token the current call carries (the interceptor has already
    checked its signature on an authenticated server), or None without one."""
    for key, value in context.invocation_metadata() or ():
        if key == TOKEN_METADATA_KEY:
            parsed = _parse(value if isinstance(value, str) else value.decode(errors="replace"))
            return parsed[0] if parsed else None
    return None


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind that ends the call UNAUTHENTICATED; it has no
    request deserializer, so the request bytes are never parsed."""

    def abort(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(abort)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(abort)
    return grpc.unary_unary_rpc_method_handler(abort)


class InternalAuthInterceptor(grpc.ServerInterceptor):
    """Refuses every call without a valid cluster token (``UNAUTHENTICATED``), except
    the methods under ``open_prefixes`` (gRPC health)."""

    def __init__(self, credential: ClusterCredential, open_prefixes: Sequence[str] = OPEN_METHOD_PREFIXES) -> None:
        self._credential = credential
        self._open = tuple(open_prefixes)

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method or ""
        if method.startswith(self._open):
            return continuation(handler_call_details)
        token = next((v for k, v in handler_call_details.invocation_metadata or () if k == TOKEN_METADATA_KEY), None)
        try:
            self._credential.verify(token)
        except Unauthenticated as exc:
            handler = continuation(handler_call_details)
            return None if handler is None else _refusal(handler, exc.message)
        return continuation(handler_call_details)


class TokenClientInterceptor(
    grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor,
):
    """Adds this node's cluster token to every call; a token is reused until half its
    lifetime has passed."""

    def __init__(self, credential: ClusterCredential) -> None:
        self._credential = credential
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def _current(self) -> str:
        now = time.time()
        with self._lock:
            if now >= self._renew_at:
                self._token = self._credential.token(now)
                self._renew_at = now + TOKEN_TTL_SECONDS / 2
            return self._token

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), (TOKEN_METADATA_KEY, self._current())]
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None
