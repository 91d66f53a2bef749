"""Plain data of the gateway: the request and response bodies of the public API.

These pydantic models are the JSON shapes of the REST routes (and so the
OpenAPI document); the gRPC adapter converts its messages to and from the same
models, so both edges share one validation and one internal API.
"""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from vectron.limits import (
    HNSW_LIMITS,
    MAX_BATCH_POINTS,
    MAX_DIMENSION,
    MAX_EF,
    MAX_INT_ID,
    MAX_K,
    MAX_REPLICATION,
    MAX_SCROLL_LIMIT,
    MAX_SEARCH_BATCH,
    MAX_SHARDS,
    MAX_STR_ID_BYTES,
)
from vectron.services.gateway.filter_doc import FilterT

__all__ = [
    "PointIdT",
    "ErrorBody",
    "ErrorResponse",
    "Credentials",
    "UserOut",
    "UserResponse",
    "LoginResponse",
    "ApiKeyOut",
    "CreateKeyRequest",
    "CreatedKeyResponse",
    "UserList",
    "SetPlanRequest",
    "DeletedUserResponse",
    "ApiKeyList",
    "ApiKeyResponse",
    "HnswIn",
    "PayloadIndexIn",
    "PayloadIndexOut",
    "PayloadIndexResponse",
    "PayloadIndexDropped",
    "CreateCollectionRequest",
    "ShardOut",
    "CollectionOut",
    "CollectionResponse",
    "CollectionList",
    "DroppedResponse",
    "PointIn",
    "UpsertRequest",
    "UpsertResponse",
    "PointOut",
    "PointResponse",
    "GetPointsRequest",
    "PointsResponse",
    "DeletePointsRequest",
    "DeletedResponse",
    "ScrollRequest",
    "ScrollResponse",
    "CountRequest",
    "CountResponse",
    "SetPayloadRequest",
    "UpdatedResponse",
    "SearchRequest",
    "Hit",
    "SearchResponse",
    "SearchBatchRequest",
    "SearchBatchResponse",
    "Health",
    "ms_to_iso",
]

PointIdT = Annotated[StrictInt, Field(ge=0, lt=MAX_INT_ID)] | Annotated[StrictStr, Field(min_length=1, max_length=MAX_STR_ID_BYTES)]
Consistency = Literal["linearizable", "leader", "any"]
Scope = Literal["read-write", "read-only"]
Distance = Literal["cosine", "dot", "euclid"]  # the values of vectron.limits.Distance
IndexType = Literal["keyword", "integer", "float", "bool"]  # vectron.store.payload_index.INDEX_TYPES
MAX_PAYLOAD_INDEXES = 64  # payload indexes declared with a new collection
#: a finite float (NaN and infinities are refused); integers are accepted as floats
Component = StrictFloat


def ms_to_iso(ms: int) -> str:
    """Milliseconds since the epoch as an ISO 8601 UTC timestamp (``...Z``)."""
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _In(BaseModel):
    """Request bodies: unknown fields and NaN/inf are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    written: list[PointIdT] | None = Field(default=None, description="partial upsert: ids that were written")
    failed: list[PointIdT] | None = Field(default=None, description="partial upsert: ids that were not written")
    unknown: list[PointIdT] | None = Field(
        default=None, description="partial upsert: ids of shards whose outcome is unknown (written or not)"
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


# -- accounts ------------------------------------------------------------------------------


class Credentials(_In):
    email: StrictStr = Field(max_length=320)
    password: StrictStr = Field(max_length=1024)


class UserOut(BaseModel):
    id: str
    email: str
    created_at: str
    plan: str = Field(default="free", description="the account's plan (every key of the account has it); set by an admin")
    disabled: bool = False


class UserResponse(BaseModel):
    user: UserOut


class LoginResponse(BaseModel):
    token: str
    expires_at: str
    user: UserOut


class PlanOut(BaseModel):
    requests_per_second: int
    max_collections: int
    max_points: int
    max_dimension: int


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    plan: str
    limits: PlanOut
    scope: str
    created_at: str
    revoked: bool = False
    revoked_at: str | None = None


class CreateKeyRequest(_In):
    name: StrictStr = Field(min_length=1, max_length=100)
    plan: Any = Field(
        default=None,
        description="refused (400): a key has its account's plan, which only an admin sets (PUT /v1/admin/users/{user}/plan)",
        json_schema_extra={"deprecated": True},
    )
    scope: Scope | None = None


class CreatedKeyResponse(BaseModel):
    key: str = Field(description="the full API key, shown this once")
    api_key: ApiKeyOut


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


class ApiKeyResponse(BaseModel):
    api_key: ApiKeyOut


# -- administration ------------------------------------------------------------------------


class UserList(BaseModel):
    users: list[UserOut]
    next_after: str | None = Field(default=None, description="pass as `after` for the next page; absent on the last")


class SetPlanRequest(_In):
    plan: Literal["free", "pro", "unlimited"]


class DeletedUserResponse(BaseModel):
    user: UserOut
    collections_dropped: list[str]


# -- collections ---------------------------------------------------------------------------


class HnswIn(_In):
    m: StrictInt | None = Field(default=None, ge=HNSW_LIMITS["m"][0], le=HNSW_LIMITS["m"][1])
    ef_construct: StrictInt | None = Field(default=None, ge=HNSW_LIMITS["ef_construct"][0], le=HNSW_LIMITS["ef_construct"][1])
    ef: StrictInt | None = Field(default=None, ge=HNSW_LIMITS["ef"][0], le=HNSW_LIMITS["ef"][1])


class PayloadIndexIn(_In):
    field: StrictStr = Field(description="dotted payload path, like a filter key: 'a.b'")
    type: IndexType


class PayloadIndexOut(BaseModel):
    field: str
    type: str
    automatic: bool = Field(default=False, description="built by the store because filters used the field")


class PayloadIndexResponse(BaseModel):
    field: str
    type: str
    created: bool = Field(description="false: the index was already there (200)")


class PayloadIndexDropped(BaseModel):
    field: str
    dropped: bool = Field(description="false: no index was declared on the field")


class CreateCollectionRequest(_In):
    dimension: StrictInt = Field(ge=1, le=MAX_DIMENSION)
    distance: Distance = "cosine"
    shards: StrictInt | None = Field(default=None, ge=1, le=MAX_SHARDS)
    replication_factor: StrictInt | None = Field(default=None, ge=1, le=MAX_REPLICATION)
    hnsw: HnswIn | None = None
    payload_indexes: list[PayloadIndexIn] | None = Field(default=None, max_length=MAX_PAYLOAD_INDEXES)
    auto_index: StrictBool = Field(default=True, description="index the payload fields filters use, automatically")


class ReplicaOut(BaseModel):
    worker_id: str
    grpc_address: str
    raft_address: str


class ShardOut(BaseModel):
    shard_id: int
    replicas: list[ReplicaOut]
    leader: str | None = None
    status: str = "unknown"
    points_count: int | None = None


class CollectionOut(BaseModel):
    name: str
    dimension: int
    distance: str
    shards: int
    replication_factor: int
    hnsw: dict[str, int]
    created_at: str
    payload_indexes: list[PayloadIndexOut] = Field(default_factory=list)
    auto_index: bool = True
    points_count: int | None = None
    shard_status: list[ShardOut] | None = None


class CollectionResponse(BaseModel):
    collection: CollectionOut


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class DroppedResponse(BaseModel):
    dropped: bool = True


# -- points --------------------------------------------------------------------------------


class PointIn(_In):
    id: PointIdT
    vector: list[Component] = Field(min_length=1)
    payload: dict[str, Any] | None = None


class UpsertRequest(_In):
    points: list[PointIn] = Field(min_length=1)


class UpsertResponse(BaseModel):
    upserted: int


class PointOut(BaseModel):
    id: PointIdT
    vector: list[float] | None = None
    payload: dict[str, Any] | None = None


class PointResponse(BaseModel):
    point: PointOut


class GetPointsRequest(_In):
    ids: list[PointIdT] = Field(min_length=1, max_length=MAX_BATCH_POINTS)
    with_vector: StrictBool = False
    with_payload: StrictBool = True
    consistency: Consistency | None = None


class PointsResponse(BaseModel):
    points: list[PointOut]


class DeletePointsRequest(_In):
    ids: list[PointIdT] | None = Field(default=None, max_length=MAX_BATCH_POINTS)
    filter: FilterT | None = None


class DeletedResponse(BaseModel):
    deleted: int


class ScrollRequest(_In):
    filter: FilterT | None = None
    limit: StrictInt = Field(default=100, ge=1, le=MAX_SCROLL_LIMIT)
    offset: PointIdT | None = None
    with_vector: StrictBool = False
    with_payload: StrictBool = True
    consistency: Consistency | None = None


class ScrollResponse(BaseModel):
    points: list[PointOut]
    next_offset: PointIdT | None = None


class CountRequest(_In):
    filter: FilterT | None = None
    consistency: Consistency | None = None


class CountResponse(BaseModel):
    count: int


class SetPayloadRequest(_In):
    ids: list[PointIdT] = Field(min_length=1, max_length=MAX_BATCH_POINTS)
    payload: dict[str, Any]
    overwrite: StrictBool = False


class UpdatedResponse(BaseModel):
    updated: int


class SearchRequest(_In):
    vector: list[Component] = Field(min_length=1)
    top_k: StrictInt = Field(default=10, ge=1, le=MAX_K)
    filter: FilterT | None = None
    ef: StrictInt | None = Field(default=None, ge=1, le=MAX_EF)
    score_threshold: StrictFloat | None = None
    with_payload: StrictBool = True
    with_vector: StrictBool = False
    consistency: Consistency | None = None
    allow_partial: StrictBool = Field(default=False, description="answer from the shards that can, and say so")


class Hit(BaseModel):
    id: PointIdT
    score: float
    payload: dict[str, Any] | None = None
    vector: list[float] | None = None


class SearchResponse(BaseModel):
    results: list[Hit]
    partial: bool = False
    failed_shards: list[int] = Field(default_factory=list)


class SearchBatchRequest(_In):
    searches: list[SearchRequest] = Field(min_length=1, max_length=MAX_SEARCH_BATCH)


class SearchBatchResponse(BaseModel):
    results: list[list[Hit]]
    partial: bool = False
    failed_shards: list[int] = Field(default_factory=list)


class Health(BaseModel):
    status: str
    checks: dict[str, bool] = Field(default_factory=dict)
