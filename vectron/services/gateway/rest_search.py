"""The REST search routes' fast path: what a search costs the gateway besides the search.

Owns: :func:`searched` (answer searches on the event loop when every shard is
a worker in this process that answers at once, else on a worker thread with
retries), :func:`error_response` (a vectron error as the REST error body, for
the app's exception handler and this module alike) and :class:`FastSearch`, an
ASGI middleware that answers ``POST /v1/collections/{c}/points/search[/batch]``
without FastAPI's per-request machinery: the body validated by pydantic-core
straight from its JSON bytes, the API key read from the header, the answer
rendered by orjson (:mod:`.convert`). A body that does not validate goes on to
the FastAPI route (same body), which renders the 400 as every route does; the
routes stay what ``/openapi.json`` documents.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence

from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vectron.errors import NotLeader, RateLimited, Unavailable, VectronError
from vectron.services.gateway import convert as c
from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway
from vectron.services.gateway.results import SearchResult

__all__ = ["FastSearch", "error_response", "searched"]

log = logging.getLogger(__name__)

_PATH = re.compile(r"^/v1/collections/([^/]+)/points/search(/batch)?$")
_JSON = [(b"content-type", b"application/json")]


def error_response(exc: VectronError, where: str = "") -> JSONResponse:
    """``{"error": {...}}`` with the error's HTTP status (and Retry-After on a rate limit)."""
    headers = None
    if exc.http_status == 429:  # every 429 says when to come back (plan limits: a minute)
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after if isinstance(exc, RateLimited) else 60)))}
    if exc.http_status >= 500:
        log.warning("%s: %s", where, exc.message)
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status, headers=headers)


async def searched(
    g: Gateway, key: str | None, name: str, reqs: Sequence[m.SearchRequest], call: Callable[[int | None], SearchResult]
) -> SearchResult:
    """``call(attempts)`` on the event loop when every shard is answered at once in this
    process (``Gateway.searches_at_once``: no thread hand-off), else (or when that one
    attempt found a shard unable to answer after all) on a worker thread with retries."""
    if g.searches_at_once(key, name, reqs):
        try:
            return call(1)
        except (Unavailable, NotLeader):
            pass
    return await run_in_threadpool(call, None)


def _bearer(scope: Scope) -> str | None:
    for k, v in scope.get("headers") or ():
        if k == b"authorization":
            scheme, _, token = v.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


class FastSearch:
    """See the module docstring. ``routes`` names the route objects the metrics report."""

    def __init__(self, app: ASGIApp, gateway: Gateway, routes: dict[str, object]) -> None:
        self.app = app
        self.g = gateway
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope.get("path", "")) if scope["type"] == "http" and scope.get("method") == "POST" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        name, batch = match.group(1), bool(match.group(2))
        try:
            if batch:
                breq = m.SearchBatchRequest.model_validate_json(body)
                reqs = breq.searches
            else:
                req = m.SearchRequest.model_validate_json(body)
                reqs = [req]
        except ValidationError:
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)  # the route renders the 400
            return
        scope["route"] = self.routes["search_batch" if batch else "search"]
        key = _bearer(scope)
        try:
            if batch:
                result = await searched(self.g, key, name, reqs, lambda a: self.g.search_batch(key, name, breq, attempts=a))
                out = c.search_batch_json(result)
            else:
                result = await searched(self.g, key, name, reqs, lambda a: self.g.search(key, name, req, attempts=a))
                out = c.search_json(result)
        except VectronError as exc:
            resp = error_response(exc, f"POST {scope['path']}")
            await send({"type": "http.response.start", "status": resp.status_code, "headers": resp.raw_headers})
            await send({"type": "http.response.body", "body": resp.body})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [*_JSON, (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
