"""The REST edge of the gateway: a FastAPI app whose routes only call :class:`Gateway`
and render its answers as the response models (:mod:`.convert`).

Errors are mapped once, here, from each vectron.errors exception's
``http_status`` and ``to_dict()`` into ``{"error": {"code", "message", "field"?}}``;
request validation errors (bad JSON, wrong types, NaN, unknown fields) become
400 with the offending field. Before any route, :class:`~.edge.RequestGate` checks
the credential (before the body is read) and bounds the body (413, 408). ``/openapi.json`` and ``/docs`` describe every route.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vectron.errors import VectronError
from vectron.limits import MAX_INT_ID
from vectron.services.gateway import convert as c
from vectron.services.gateway import dashboard, rest_snapshots
from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway
from vectron.services.gateway.edge import EdgeLimits, RequestGate
from vectron.services.gateway.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from vectron.services.gateway.rest_search import FastSearch, error_response, searched
from vectron.services.gateway.snapshots import Snapshots

__all__ = ["create_app"]

log = logging.getLogger(__name__)


_session_scheme = HTTPBearer(auto_error=False, scheme_name="session", description="session JWT from /v1/users/login")
_key_scheme = HTTPBearer(auto_error=False, scheme_name="apiKey", description="API key vk_... from POST /v1/keys")


async def _session(creds: HTTPAuthorizationCredentials | None = Depends(_session_scheme)) -> str | None:
    return creds.credentials if creds else None


async def _api_key(creds: HTTPAuthorizationCredentials | None = Depends(_key_scheme)) -> str | None:
    # async: FastAPI would run a plain function on a worker thread (a hand-off per request)
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
            name = getattr(route, "name", None) or getattr(scope.get("endpoint"), "__name__", None) or _mount_name(scope) or "unmatched"
            # per collection only once answered: a failed request may name any string (unbounded series)
            collection = (scope.get("path_params") or {}).get("collection") if route is not None and status < 400 else None
            self.metrics.observe("rest", name, status, time.perf_counter() - start, collection)


def _mount_name(scope: Scope) -> str | None:
    """The name of the mount (static files) that served a request routes do not name."""
    app = scope.get("app")
    path = scope.get("path", "")
    for r in getattr(app, "routes", ()):
        prefix = getattr(r, "path", None)
        if isinstance(r, Mount) and prefix and (path == prefix or path.startswith(prefix + "/")):
            return r.name
    return None


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


def _client_address(request: Request) -> str:
    """The peer's address (never a header a client could forge)."""
    return request.client.host if request.client else ""


def _point_id(raw: str) -> int | str:
    """A path id: digits are an integer id (use POST .../points/get for a string id of digits)."""
    return int(raw) if raw.isdigit() and int(raw) < MAX_INT_ID else raw


def create_app(
    gateway: Gateway, *, metrics: GatewayMetrics | None = None, limits: EdgeLimits | None = None,
    snapshots: Snapshots | None = None,
) -> FastAPI:
    """The REST app over ``gateway`` (its routes only call the gateway's methods);
    ``snapshots`` None: the snapshot routes answer 503."""
    metrics = metrics or GatewayMetrics()
    app = FastAPI(
        title="Vectron",
        version="1",
        description="A distributed vector database: collections of points (id, vector, JSON payload) searched by similarity.",
        docs_url=None,  # /docs and /redoc come from vendored assets: see dashboard.install
        redoc_url=None,
    )
    routes: dict[str, object] = {}  # filled below, once the search routes exist
    app.add_middleware(FastSearch, gateway=gateway, routes=routes)
    app.add_middleware(RequestGate, gateway=gateway, limits=limits or EdgeLimits())  # outside: credentials before bodies

    app.add_middleware(_Observe, metrics=metrics)

    @app.exception_handler(VectronError)
    async def on_vectron_error(request: Request, exc: VectronError) -> JSONResponse:
        return error_response(exc, f"{request.method} {request.url.path}")

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
        code = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        body = {"code": code, "message": str(exc.detail)}
        if exc.status_code in (408, 413):
            body["field"] = "body"
        return _error(exc.status_code, body, {"connection": "close"} if exc.status_code in (408, 413) else None)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s: unexpected error", request.method, request.url.path)
        return _error(500, {"code": "internal", "message": "internal error"})

    api = APIRouter(prefix="/v1", responses=_ERRORS)
    g = gateway

    # -- accounts ------------------------------------------------------------------------
    @api.post("/users/register", status_code=201, response_model=m.UserResponse, tags=["account"])
    def register(body: m.Credentials, request: Request) -> m.UserResponse:
        return m.UserResponse(user=c.user_out(g.register(body, _client_address(request))))

    @api.post("/users/login", response_model=m.LoginResponse, tags=["account"])
    def login(body: m.Credentials, request: Request) -> m.LoginResponse:
        r = g.login(body, _client_address(request))
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

    # -- administration (the session of an admin) ----------------------------------------
    @api.get("/admin/users", response_model=m.UserList, response_model_exclude_none=True, tags=["admin"])
    def admin_list_users(
        after: str = Query("", max_length=320), limit: int = Query(100, ge=1, le=1000), token: str | None = Depends(_session)
    ) -> m.UserList:
        users, nxt = g.admin.list_users(g.session(token), after, limit)
        return m.UserList(users=[c.user_out(u) for u in users], next_after=nxt or None)

    @api.put("/admin/users/{user}/plan", response_model=m.UserResponse, tags=["admin"])
    def admin_set_plan(user: str, body: m.SetPlanRequest, token: str | None = Depends(_session)) -> m.UserResponse:
        return m.UserResponse(user=c.user_out(g.admin.set_plan(g.session(token), user, body.plan)))

    @api.post("/admin/users/{user}/disable", response_model=m.UserResponse, tags=["admin"])
    def admin_disable(user: str, token: str | None = Depends(_session)) -> m.UserResponse:
        return m.UserResponse(user=c.user_out(g.admin.set_disabled(g.session(token), user, True)))

    @api.post("/admin/users/{user}/enable", response_model=m.UserResponse, tags=["admin"])
    def admin_enable(user: str, token: str | None = Depends(_session)) -> m.UserResponse:
        return m.UserResponse(user=c.user_out(g.admin.set_disabled(g.session(token), user, False)))

    @api.delete("/admin/users/{user}", response_model=m.DeletedUserResponse, tags=["admin"])
    def admin_delete_user(user: str, token: str | None = Depends(_session)) -> m.DeletedUserResponse:
        deleted, dropped = g.admin.delete_user(g.session(token), user)
        return m.DeletedUserResponse(user=c.user_out(deleted), collections_dropped=dropped)

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
    async def search(collection: str, body: m.SearchRequest, key: str | None = Depends(_api_key)) -> m.SearchResponse:
        result = await searched(g, key, collection, [body], lambda attempts: g.search(key, collection, body, attempts=attempts))
        return Response(c.search_json(result), media_type="application/json")  # type: ignore[return-value]

    @api.post("/collections/{collection}/points/search/batch", response_model=m.SearchBatchResponse, response_model_exclude_none=True, tags=["search"])
    async def search_batch(collection: str, body: m.SearchBatchRequest, key: str | None = Depends(_api_key)) -> m.SearchBatchResponse:
        result = await searched(g, key, collection, body.searches, lambda attempts: g.search_batch(key, collection, body, attempts=attempts))
        return Response(c.search_batch_json(result), media_type="application/json")  # type: ignore[return-value]

    app.include_router(api)
    routes.update({r.name: r for r in api.routes if getattr(r, "name", None) in ("search", "search_batch")})
    rest_snapshots.install(app, snapshots or Snapshots(gateway, None), _api_key, _ERRORS)

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
