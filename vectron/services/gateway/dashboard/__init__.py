"""The gateway's web console at ``/dashboard`` and its offline API docs.

It owns the static files shipped in ``static/`` (the console's HTML/JS/CSS and the
vendored Swagger UI and ReDoc assets, with their licenses), the routes that serve them,
and one read-only JSON route for the console's cluster view, ``GET /dashboard/api/cluster``:
a thin adapter over the gateway (readiness checks and the placement driver's worker list),
for a signed-in user. Everything else the console shows comes from the public REST API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway
from vectron.services.gateway.dashboard.docs import docs_router, install_openapi

__all__ = ["install", "STATIC_DIR", "ClusterResponse", "WorkerOut"]

STATIC_DIR = Path(__file__).parent / "static"

#: the console loads nothing but its own files and talks only to this gateway
_CONSOLE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
_session_scheme = HTTPBearer(auto_error=False, scheme_name="session", description="session JWT from /v1/users/login")


class WorkerOut(BaseModel):
    worker_id: str
    grpc_address: str
    raft_host: str
    raft_ports: str
    capacity: int
    live: bool
    last_heartbeat: str | None = None


class ClusterResponse(BaseModel):
    status: str
    checks: dict[str, bool]
    workers: list[WorkerOut]


def _console_router(gateway: Gateway) -> APIRouter:
    router = APIRouter()
    index = STATIC_DIR / "index.html"

    @router.get("/dashboard", include_in_schema=False)
    def dashboard_redirect() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    @router.get("/dashboard/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=_CONSOLE_HEADERS)

    @router.get(
        "/dashboard/api/cluster", response_model=ClusterResponse, tags=["operations"],
        responses={401: {"model": m.ErrorResponse}, 503: {"model": m.ErrorResponse}},
    )
    def cluster(creds: HTTPAuthorizationCredentials | None = Depends(_session_scheme)) -> ClusterResponse:
        """Readiness checks and the workers the placement driver knows (for the console's cluster view)."""
        gateway.profile(creds.credentials if creds else None)  # a signed-in user only
        health = gateway.readiness()
        workers = [
            WorkerOut(
                worker_id=w.worker_id, grpc_address=w.grpc_address, raft_host=w.raft_host,
                raft_ports=f"{w.raft_port_min}-{w.raft_port_max}", capacity=w.capacity, live=w.live,
                last_heartbeat=m.ms_to_iso(w.last_heartbeat_ms) if w.last_heartbeat_ms else None,
            )
            for w in sorted(gateway.placement.list_workers(), key=lambda w: w.worker_id)  # type: ignore[attr-defined]
        ]
        return ClusterResponse(status=health.status, checks=health.checks, workers=workers)

    return router


def install(app: FastAPI, gateway: Gateway) -> None:
    """Serve the console, its static files and the offline ``/docs`` and ``/redoc`` on ``app``."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard_static")
    app.include_router(_console_router(gateway))
    app.include_router(docs_router(app.openapi_url or "/openapi.json", app.title))
    install_openapi(app)
