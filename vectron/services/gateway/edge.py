"""The REST edge's defences, before any route runs: credentials before bodies, bounded
bodies, and connections that cannot be held open for free.

:class:`RequestGate` (an ASGI middleware, outermost but one) classifies each
request by its path and, **before a byte of the body is read**:

* data routes (``/v1/collections/...``): the ``Authorization: Bearer vk_...``
  header must hold a well-formed API key, which is then checked against the
  gateway's key cache (the auth service on a miss): a missing, malformed,
  unknown, revoked or disabled key is refused (401/403) and the connection is
  closed, so an unauthenticated client never gets its body read;
* account and admin routes (``/v1/user``, ``/v1/keys``, ``/v1/admin``): a
  ``Bearer`` session token shaped like a JWT must be present (the route verifies it);
* everything else (register, login, health, docs) takes no credential.

The body is then read through a counting ``receive``: over the route's limit
(:data:`~vectron.limits.MAX_BODY_BYTES` for data routes,
:data:`~vectron.limits.MAX_OPEN_BODY_BYTES` for the others, which need no big
body) the request is refused with 413 as soon as the limit is crossed (a
declared ``Content-Length`` over it: before reading anything), and a body that
stops arriving for ``body_idle_timeout`` seconds is refused with 408.

:class:`GuardedHttpToolsProtocol` is uvicorn's httptools protocol with what it
lacks: a header timeout (a connection that has not sent complete request
headers within ``header_timeout`` seconds of opening, or of starting its next
request, is closed), a cap on header bytes, and caps on open connections, in
all and per client address (beyond them a new connection is closed at once). uvicorn's own
``limit_concurrency`` and ``timeout_keep_alive`` bound the rest
(see :func:`uvicorn_settings`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vectron.errors import VectronError
from vectron.limits import MAX_BODY_BYTES, MAX_OPEN_BODY_BYTES
from vectron.services.auth.api_keys import parse_key
from vectron.services.gateway.rest_snapshots import RESTORE_PATH_SUFFIX

__all__ = ["EdgeLimits", "RequestGate", "GuardedHttpToolsProtocol", "uvicorn_settings"]

log = logging.getLogger(__name__)

_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_DATA_PREFIX = "/v1/collections"
_SESSION_PREFIXES = ("/v1/user/", "/v1/keys", "/v1/admin/")


@dataclass(frozen=True)
class EdgeLimits:
    """Limits of the public REST server (one gateway)."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_open_body_bytes: int = MAX_OPEN_BODY_BYTES
    #: seconds without a new piece of a request body before it is refused (408)
    body_idle_timeout: float = 15.0
    #: seconds a connection may take to send complete request headers
    header_timeout: float = 10.0
    max_header_bytes: int = 64 << 10
    #: open connections, in all and from one client address; beyond, a new one is closed at once
    max_connections: int = 1000
    max_connections_per_address: int = 200
    #: seconds an idle kept-alive connection stays open
    keep_alive_timeout: float = 5.0


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class RequestGate:
    """Credentials before bodies, and bounded bodies (see the module docstring)."""

    def __init__(self, app: ASGIApp, gateway: Any, limits: EdgeLimits) -> None:
        self.app = app
        self.gateway = gateway
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limits.max_open_body_bytes
        if path.startswith(_DATA_PREFIX):
            limit = self.limits.max_body_bytes
            refusal = await self._check_key(_bearer(scope))
        elif path.startswith(_SESSION_PREFIXES):
            refusal = self._check_session(_bearer(scope))
        else:
            refusal = None
        if refusal is not None:
            await _answer(send, *refusal)
            return
        if path.endswith(RESTORE_PATH_SUFFIX):  # a snapshot upload: streamed to disk under its own limit
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, "payload_too_large", f"request body is over {limit} bytes", "body")
            return
        await self.app(scope, self._limited(receive, limit), send)

    def _check_session(self, token: str | None) -> tuple[int, str, str] | None:
        try:
            self.gateway.session(token)  # present, and not an API key
        except VectronError as exc:
            return exc.http_status, exc.code, exc.message
        if not _JWT_SHAPE.match(token or ""):
            return 401, "unauthenticated", "the session token is malformed; log in again"
        return None

    async def _check_key(self, key: str | None) -> tuple[int, str, str] | None:
        if key is not None and key.startswith("vk_") and parse_key(key) is None:
            return 401, "unauthenticated", "invalid or revoked API key"
        try:
            await run_in_threadpool(self.gateway.check_key, key)
        except VectronError as exc:
            return exc.http_status, exc.code, exc.message
        return None

    def _limited(self, receive: Receive, limit: int) -> Receive:
        size = 0
        timeout = self.limits.body_idle_timeout

        async def limited() -> Message:
            nonlocal size
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise HTTPException(408, f"the request body stopped arriving for {timeout:g} s") from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise HTTPException(413, f"request body is over {limit} bytes")
            return message

        return limited


async def _answer(send: Send, status: int, code: str, message: str, field: str | None = None) -> None:
    """A JSON error answered without reading the body; the connection is closed after it."""
    import json

    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    data = json.dumps({"error": body}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout, a header size cap and a
    connection cap (see the module docstring); the limits come from ``limits`` set on
    the class by :func:`uvicorn_settings`."""

    limits = EdgeLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_head = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        same = sum(1 for c in self.connections if getattr(c, "client", None) and c.client[0] == host)
        if len(self.connections) > self.limits.max_connections or same > self.limits.max_connections_per_address:
            transport.close()
            return
        self._start_head()

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _stop_head(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        was_in_head = self._in_head
        super().data_received(data)
        if was_in_head and self._in_head:  # the headers are still not complete
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head()

    def on_headers_complete(self) -> None:
        self._stop_head()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        super().connection_lost(exc)


def uvicorn_settings(limits: EdgeLimits) -> dict[str, Any]:
    """uvicorn.Config keyword arguments for a REST server with ``limits``."""
    protocol = type("GatewayHttpProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
    return {
        "http": protocol,
        # requests in progress beyond the connection cap: uvicorn answers 503
        "limit_concurrency": limits.max_connections + 1,
        "timeout_keep_alive": limits.keep_alive_timeout,
    }
