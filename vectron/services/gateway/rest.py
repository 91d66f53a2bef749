"""The REST edge of the gateway: a FastAPI app whose routes only call :class:`Gateway`
and render its answers as the response models (:mod:`.convert`).

Errors are mapped once, here, from each vectron.errors exception's
``http_status`` and ``to_dict()`` into ``{"error": {"code", "message", "field"?}}``;
request validation errors (bad JSON, wrong types, NaN, unknown fields) become
400 with the offending field; bodies over ``max_body_bytes`` become 413 before
they are parsed. ``/openapi.json`` and ``/docs`` describe every route.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vectron.errors import VectronError
from vectron.limits import MAX_INT_ID
from vectron.services.gateway import convert as c
from vectron.services.gateway import models as m
from vectron.errors import RateLimited
from vectron.services.gateway import dashboard
from vectron.services.gateway.api import Gateway
from vectron.services.gateway.metrics import CONTENT_TYPE_LATEST, GatewayMetrics

__all__ = ["create_app", "DEFAULT_MAX_BODY_BYTES"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 << 20

_session_scheme = HTTPBearer(auto_error=False, scheme_name="session", description="session JWT from /v1/users/login")
_key_scheme = HTTPBearer(auto_error=False, scheme_name="apiKey", description="API key vk_... from POST /v1/keys")


def _session(creds: HTTPAuthorizationCredentials | None = Depends(_session_scheme)) -> str | None:
    return creds.credentials if creds else None


def _api_key(creds: HTTPAuthorizationCredentials | None = Depends(_key_scheme)) -> str | None:
    return creds.credentials if creds else None


_POINT_ID_BRANCHES = {"constrained-int", "constrained-str"}  # how pydantic names the two arms of PointIdT


def _field_and_hint(error: Any) -> tuple[str | None, str]:
    """The field a validation error is about and what to do; a point id (either arm of the
    int | str union failing) gets the rule for ids instead of pydantic's per-arm message."""
    loc = tuple(error.get("loc", ()))
    if _POINT_ID_BRANCHES & set(loc):
        field = _field_of([p for p in loc if p not in _POINT_ID_BRANCHES])
        return field, (f"a point id is an integer from 0 to 2^64-1 or a string of 1 to 256 characters, "
                       f"got {error.get('input')!r}")
    return _field_of(loc), str(error.get("msg"))


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [p for p in loc if p not in ("body", "path", "query", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before the app parses them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        resp = _error(413, {"code": "payload_too_large", "message": f"request body is over {self.limit} bytes", "field": "body"})
        await send({"type": "http.response.start", "status": 413, "headers": resp.raw_headers})
        await send({"type": "http.response.body", "body": resp.body})


class _Observe:
    """Count requests and time them per route (a plain ASGI middleware: cheap)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            self.metrics.observe("rest", getattr(route, "name", None) or "unmatched", status, time.perf_counter() - start)


_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": m.ErrorResponse, "description": d}
    for s, d in (
        (400, "bad input (the field is named)"),
        (401, "missing, wrong or wrong kind of credential"),
        (403, "read-only key used for a write"),
        (404, "unknown collection or point"),
        (409, "already exists"),
        (413, "body, batch or payload too large"),
        (429, "rate limit or plan limit (Retry-After)"),
        (503, "a shard or group cannot answer"),
    )
}


def _fast(model: BaseModel, *, exclude_none: bool = False) -> Response:
    """The hot routes answer with pydantic-core's JSON directly (their response_model still
    documents the shape; FastAPI would otherwise validate the answer a second time)."""
    return Response(model.model_dump_json(exclude_none=exclude_none), media_type="application/json")


def _point_id(raw: str) -> int | str:
    """A path id: digits are an integer id (use POST .../points/get for a string id of digits)."""
    return int(raw) if raw.isdigit() and int(raw) < MAX_INT_ID else raw


def create_app(gateway: Gateway, *, metrics: GatewayMetrics | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The REST app over ``gateway`` (its routes only call the gateway's methods)."""
    metrics = metrics or GatewayMetrics()
    app = FastAPI(
        title="Vectron",
        version="1",
        description="A distributed vector database: collections of points (id, vector, JSON payload) searched by similarity.",
        docs_url=None,  # /docs and /redoc come from vendored assets: see dashboard.install
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=max_body_bytes)

    app.add_middleware(_Observe, metrics=metrics)

    @app.exception_handler(VectronError)
    async def on_vectron_error(request: Request, exc: VectronError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        if exc.http_status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return _error(exc.http_status, exc.to_dict(), headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
        if first.get("type") == "json_invalid" or tuple(first.get("loc", ())) == ("body",):
            content_type = request.headers.get("content-type", "")
            if "json" not in content_type.lower():
                got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
                message = f"send the body as JSON with the header `Content-Type: application/json` (this request had {got})"
            else:
                message = f"the body must be a JSON object: {first.get('msg')}"
            return _error(400, {"code": "invalid_json", "message": message, "field": "body"})
        field, hint = _field_and_hint(first)
        message = f"{field}: {hint}" if field else hint
        others = {_field_and_hint(e)[0] for e in errors} - {field}
        if others:
            message += f" (and {len(others)} more)"
        body = {"code": "invalid_argument", "message": message}
        if field:
            body["field"] = field
        return _error(400, body)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, {"code": code, "message": str(exc.detail)})

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s: unexpected error", request.method, request.url.path)
        return _error(500, {"code": "internal", "message": "internal error"})

    api = APIRouter(prefix="/v1", responses=_ERRORS)
    g = gateway

    # -- accounts ------------------------------------------------------------------------
    @api.post("/users/register", status_code=201, response_model=m.UserResponse, tags=["account"])
    def register(body: m.Credentials) -> m.UserResponse:
        return m.UserResponse(user=c.user_out(g.register(body)))

    @api.post("/users/login", response_model=m.LoginResponse, tags=["account"])
    def login(body: m.Credentials) -> m.LoginResponse:
        r = g.login(body)
        return m.LoginResponse(token=r.token, expires_at=m.ms_to_iso(r.expires_at_ms), user=c.user_out(r.user))

    @api.get("/user/profile", response_model=m.UserResponse, tags=["account"])
    def profile(token: str | None = Depends(_session)) -> m.UserResponse:
        return m.UserResponse(user=c.user_out(g.profile(token)))

    @api.post("/keys", status_code=201, response_model=m.CreatedKeyResponse, tags=["account"])
    def create_key(body: m.CreateKeyRequest, token: str | None = Depends(_session)) -> m.CreatedKeyResponse:
        created = g.create_key(token, body)
        return m.CreatedKeyResponse(key=created.key, api_key=c.key_out(created.info))

    @api.get("/keys", response_model=m.ApiKeyList, tags=["account"])
    def list_keys(token: str | None = Depends(_session)) -> m.ApiKeyList:
        return m.ApiKeyList(api_keys=[c.key_out(k) for k in g.list_keys(token)])

    @api.delete("/keys/{key_id}", response_model=m.ApiKeyResponse, tags=["account"])
    def revoke_key(key_id: str, token: str | None = Depends(_session)) -> m.ApiKeyResponse:
        return m.ApiKeyResponse(api_key=c.key_out(g.revoke_key(token, key_id)))

    # -- collections ---------------------------------------------------------------------
    @api.put("/collections/{collection}", status_code=201, response_model=m.CollectionResponse, response_model_exclude_none=True, tags=["collections"])
    def create_collection(collection: str, body: m.CreateCollectionRequest, key: str | None = Depends(_api_key)) -> m.CollectionResponse:
        return m.CollectionResponse(collection=c.collection_out(g.create_collection(key, collection, body)))

    @api.get("/collections", response_model=m.CollectionList, response_model_exclude_none=True, tags=["collections"])
    def list_collections(key: str | None = Depends(_api_key)) -> m.CollectionList:
        return m.CollectionList(collections=[c.collection_out(i) for i in g.list_collections(key)])

    @api.get("/collections/{collection}", response_model=m.CollectionResponse, tags=["collections"])
    def get_collection(collection: str, key: str | None = Depends(_api_key)) -> m.CollectionResponse:
        return m.CollectionResponse(collection=c.collection_detail_out(g.get_collection(key, collection)))

    @api.delete("/collections/{collection}", response_model=m.DroppedResponse, tags=["collections"])
    def drop_collection(collection: str, key: str | None = Depends(_api_key)) -> m.DroppedResponse:
        g.drop_collection(key, collection)
        return m.DroppedResponse()

    # -- payload indexes -----------------------------------------------------------------
    @api.put(
        "/collections/{collection}/index", status_code=201, response_model=m.PayloadIndexResponse, tags=["collections"],
        responses={200: {"model": m.PayloadIndexResponse, "description": "the index was already there"}},
    )
    def create_payload_index(
        collection: str, body: m.PayloadIndexIn, response: Response, key: str | None = Depends(_api_key)
    ) -> m.PayloadIndexResponse:
        created = g.create_payload_index(key, collection, body)
        if not created:
            response.status_code = 200
        return m.PayloadIndexResponse(field=body.field, type=body.type, created=created)

    @api.delete("/collections/{collection}/index/{field:path}", response_model=m.PayloadIndexDropped, tags=["collections"])
    def drop_payload_index(collection: str, field: str, key: str | None = Depends(_api_key)) -> m.PayloadIndexDropped:
        return m.PayloadIndexDropped(field=field, dropped=g.drop_payload_index(key, collection, field))

    # -- points --------------------------------------------------------------------------
    @api.post("/collections/{collection}/points", response_model=m.UpsertResponse, tags=["points"])
    def upsert(collection: str, body: m.UpsertRequest, key: str | None = Depends(_api_key)) -> m.UpsertResponse:
        return _fast(m.UpsertResponse(upserted=g.upsert(key, collection, body)))  # type: ignore[return-value]

    @api.get("/collections/{collection}/points/{point_id}", response_model=m.PointResponse, tags=["points"])
    def get_point(collection: str, point_id: str, key: str | None = Depends(_api_key)) -> m.PointResponse:
        return m.PointResponse(point=c.point_out(g.get_point(key, collection, _point_id(point_id))))

    @api.post("/collections/{collection}/points/get", response_model=m.PointsResponse, response_model_exclude_none=True, tags=["points"])
    def get_points(collection: str, body: m.GetPointsRequest, key: str | None = Depends(_api_key)) -> m.PointsResponse:
        points = m.PointsResponse(points=[c.point_out(p) for p in g.get_points(key, collection, body)])
        return _fast(points, exclude_none=True)  # type: ignore[return-value]

    @api.post("/collections/{collection}/points/delete", response_model=m.DeletedResponse, tags=["points"])
    def delete_points(collection: str, body: m.DeletePointsRequest, key: str | None = Depends(_api_key)) -> m.DeletedResponse:
        return m.DeletedResponse(deleted=g.delete_points(key, collection, body))

    @api.post("/collections/{collection}/points/scroll", response_model=m.ScrollResponse, response_model_exclude_none=True, tags=["points"])
    def scroll(collection: str, body: m.ScrollRequest, key: str | None = Depends(_api_key)) -> m.ScrollResponse:
        page = g.scroll(key, collection, body)
        out = m.ScrollResponse(points=[c.point_out(p) for p in page.points], next_offset=page.next_offset)
        return _fast(out, exclude_none=True)  # type: ignore[return-value]

    @api.post("/collections/{collection}/points/count", response_model=m.CountResponse, tags=["points"])
    def count(collection: str, body: m.CountRequest, key: str | None = Depends(_api_key)) -> m.CountResponse:
        return m.CountResponse(count=g.count(key, collection, body))

    @api.post("/collections/{collection}/points/payload", response_model=m.UpdatedResponse, tags=["points"])
    def set_payload(collection: str, body: m.SetPayloadRequest, key: str | None = Depends(_api_key)) -> m.UpdatedResponse:
        return m.UpdatedResponse(updated=g.set_payload(key, collection, body))

    @api.post("/collections/{collection}/points/search", response_model=m.SearchResponse, response_model_exclude_none=True, tags=["search"])
    def search(collection: str, body: m.SearchRequest, key: str | None = Depends(_api_key)) -> m.SearchResponse:
        return _fast(c.search_out(g.search(key, collection, body)), exclude_none=True)  # type: ignore[return-value]

    @api.post("/collections/{collection}/points/search/batch", response_model=m.SearchBatchResponse, response_model_exclude_none=True, tags=["search"])
    def search_batch(collection: str, body: m.SearchBatchRequest, key: str | None = Depends(_api_key)) -> m.SearchBatchResponse:
        return _fast(c.search_batch_out(g.search_batch(key, collection, body)), exclude_none=True)  # type: ignore[return-value]

    app.include_router(api)

    # -- operations ----------------------------------------------------------------------
    @app.get("/healthz", response_model=m.Health, tags=["operations"])
    def healthz() -> m.Health:
        return c.health_out(g.health())

    @app.get("/readyz", response_model=m.Health, tags=["operations"], responses={503: {"model": m.Health}})
    def readyz() -> Any:
        h = c.health_out(g.readiness())
        return h if h.status == "ready" else JSONResponse(h.model_dump(), status_code=503)

    @app.get("/metrics", tags=["operations"], response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    dashboard.install(app, g)
    return app
