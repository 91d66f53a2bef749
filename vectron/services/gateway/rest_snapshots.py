"""The REST routes of collection snapshots (thin adapters over :class:`~.snapshots.Snapshots`).

* ``POST   /v1/collections/{c}/snapshots``               make one (every shard, consistent)
* ``GET    /v1/collections/{c}/snapshots``               list them
* ``GET    /v1/collections/{c}/snapshots/{name}``        download (streamed from disk)
* ``DELETE /v1/collections/{c}/snapshots/{name}``        delete one
* ``POST   /v1/collections/{new}/snapshots/restore``     restore an uploaded file into a NEW
  collection; the body is the file (``application/octet-stream``), streamed to disk, up to
  ``Snapshots.max_upload_bytes``. The API key is checked before the body is read.

The restore route reads its own body: the gateway's general body limit must not buffer
it (:data:`RESTORE_PATH_SUFFIX` tells the limit middleware which paths to leave alone).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vectron.errors import InvalidArgument, PayloadTooLarge
from vectron.limits import MAX_REPLICATION, MAX_SHARDS
from vectron.services.gateway import convert as c
from vectron.services.gateway import models as m
from vectron.services.gateway.snapshots import SnapshotInfo, Snapshots

__all__ = ["install", "RESTORE_PATH_SUFFIX", "SnapshotOut"]

RESTORE_PATH_SUFFIX = "/snapshots/restore"


class SnapshotOut(BaseModel):
    name: str
    collection: str
    created_at: str
    size: int = Field(description="bytes of the snapshot file")
    sha256: str = Field(description="SHA-256 of the whole file (also sent as the X-Vectron-Sha256 header on download)")
    points: int
    shards: int


class SnapshotResponse(BaseModel):
    snapshot: SnapshotOut


class SnapshotList(BaseModel):
    snapshots: list[SnapshotOut]


class RestoreResponse(BaseModel):
    collection: m.CollectionOut
    restored_points: int
    source_collection: str


def _out(s: SnapshotInfo) -> SnapshotOut:
    return SnapshotOut(name=s.name, collection=s.collection, created_at=m.ms_to_iso(s.created_at_ms), size=s.size,
                       sha256=s.sha256, points=s.points, shards=s.shards)


def install(app: FastAPI, snapshots: Snapshots, api_key: Any, errors: dict[int | str, dict[str, Any]]) -> None:
    """Add the snapshot routes to ``app`` (``api_key`` is the app's API key dependency)."""
    r = APIRouter(prefix="/v1/collections/{collection}/snapshots", tags=["snapshots"], responses=errors)
    s = snapshots

    @r.post("", status_code=201, response_model=SnapshotResponse)
    def create_snapshot(collection: str, key: str | None = Depends(api_key)) -> SnapshotResponse:
        return SnapshotResponse(snapshot=_out(s.create(key, collection)))

    @r.get("", response_model=SnapshotList)
    def list_snapshots(collection: str, key: str | None = Depends(api_key)) -> SnapshotList:
        return SnapshotList(snapshots=[_out(i) for i in s.list(key, collection)])

    @r.get("/{name}", response_class=FileResponse, responses={200: {"content": {"application/x-tar": {}}}})
    def download_snapshot(collection: str, name: str, key: str | None = Depends(api_key)) -> FileResponse:
        path, info = s.path(key, collection, name)
        return FileResponse(path, media_type="application/x-tar", filename=f"{name}.tar", headers={"X-Vectron-Sha256": info.sha256})

    @r.delete("/{name}", response_model=m.DroppedResponse)
    def delete_snapshot(collection: str, name: str, key: str | None = Depends(api_key)) -> m.DroppedResponse:
        s.delete(key, collection, name)
        return m.DroppedResponse()

    @r.post(
        "/restore", status_code=201, response_model=RestoreResponse,
        openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    async def restore_snapshot(
        collection: str,
        request: Request,
        shards: int | None = Query(default=None, ge=1, le=MAX_SHARDS, description="shards of the new collection (default: the snapshot's)"),
        replication_factor: int | None = Query(default=None, ge=1, le=MAX_REPLICATION),
        key: str | None = Depends(api_key),
    ) -> RestoreResponse:
        principal = await run_in_threadpool(s.gateway.authorize, key, write=True)  # before a byte of the body is read
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > s.max_upload_bytes:
            raise PayloadTooLarge(f"a snapshot upload is at most {s.max_upload_bytes} bytes", field="body")
        staging = await run_in_threadpool(s.staging)
        try:
            upload = staging / "upload.tar"
            size = 0
            fd = os.open(upload, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > s.max_upload_bytes:
                        raise PayloadTooLarge(f"a snapshot upload is at most {s.max_upload_bytes} bytes", field="body")
                    out.write(chunk)
            if size == 0:
                raise InvalidArgument("the body must be a snapshot file (application/octet-stream); it was empty", field="body")
            done = await run_in_threadpool(s.restore, principal, key, collection, upload, shards, replication_factor)
        finally:
            await run_in_threadpool(shutil.rmtree, staging, True)
        return RestoreResponse(collection=c.collection_out(done.collection), restored_points=done.points, source_collection=done.source)

    app.include_router(r)
