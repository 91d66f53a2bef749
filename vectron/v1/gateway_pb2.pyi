from vectron.v1 import points_pb2 as _points_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Credentials(_message.Message):
    __slots__ = ("email", "password")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class UserView(_message.Message):
    __slots__ = ("id", "email", "created_at", "plan", "disabled")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    id: str
    email: str
    created_at: str
    plan: str
    disabled: bool
    def __init__(self, id: _Optional[str] = ..., email: _Optional[str] = ..., created_at: _Optional[str] = ..., plan: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class UserReply(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: UserView
    def __init__(self, user: _Optional[_Union[UserView, _Mapping]] = ...) -> None: ...

class LoginReply(_message.Message):
    __slots__ = ("token", "expires_at", "user")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: str
    user: UserView
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[str] = ..., user: _Optional[_Union[UserView, _Mapping]] = ...) -> None: ...

class ProfileRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KeyView(_message.Message):
    __slots__ = ("id", "name", "prefix", "plan", "scope", "created_at", "revoked", "revoked_at", "requests_per_second", "max_collections", "max_points", "max_dimension")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    prefix: str
    plan: str
    scope: str
    created_at: str
    revoked: bool
    revoked_at: str
    requests_per_second: int
    max_collections: int
    max_points: int
    max_dimension: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., prefix: _Optional[str] = ..., plan: _Optional[str] = ..., scope: _Optional[str] = ..., created_at: _Optional[str] = ..., revoked: _Optional[bool] = ..., revoked_at: _Optional[str] = ..., requests_per_second: _Optional[int] = ..., max_collections: _Optional[int] = ..., max_points: _Optional[int] = ..., max_dimension: _Optional[int] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("name", "plan", "scope")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    plan: str
    scope: str
    def __init__(self, name: _Optional[str] = ..., plan: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class CreateKeyReply(_message.Message):
    __slots__ = ("key", "api_key")
    KEY_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    api_key: KeyView
    def __init__(self, key: _Optional[str] = ..., api_key: _Optional[_Union[KeyView, _Mapping]] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKeysReply(_message.Message):
    __slots__ = ("api_keys",)
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[KeyView]
    def __init__(self, api_keys: _Optional[_Iterable[_Union[KeyView, _Mapping]]] = ...) -> None: ...

class RevokeKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class KeyReply(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: KeyView
    def __init__(self, api_key: _Optional[_Union[KeyView, _Mapping]] = ...) -> None: ...

class ListUsersSpec(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class AdminUsersReply(_message.Message):
    __slots__ = ("users", "next_after")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserView]
    next_after: str
    def __init__(self, users: _Optional[_Iterable[_Union[UserView, _Mapping]]] = ..., next_after: _Optional[str] = ...) -> None: ...

class SetPlanSpec(_message.Message):
    __slots__ = ("user", "plan")
    USER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    user: str
    plan: str
    def __init__(self, user: _Optional[str] = ..., plan: _Optional[str] = ...) -> None: ...

class SetDisabledSpec(_message.Message):
    __slots__ = ("user", "disabled")
    USER_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user: str
    disabled: bool
    def __init__(self, user: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class DeleteUserSpec(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: str
    def __init__(self, user: _Optional[str] = ...) -> None: ...

class AdminDeleteReply(_message.Message):
    __slots__ = ("user", "collections_dropped")
    USER_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    user: UserView
    collections_dropped: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user: _Optional[_Union[UserView, _Mapping]] = ..., collections_dropped: _Optional[_Iterable[str]] = ...) -> None: ...

class CollectionSpecHnsw(_message.Message):
    __slots__ = ("m", "ef_construct", "ef")
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCT_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    m: int
    ef_construct: int
    ef: int
    def __init__(self, m: _Optional[int] = ..., ef_construct: _Optional[int] = ..., ef: _Optional[int] = ...) -> None: ...

class PayloadIndexView(_message.Message):
    __slots__ = ("field", "type", "automatic")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    field: str
    type: str
    automatic: bool
    def __init__(self, field: _Optional[str] = ..., type: _Optional[str] = ..., automatic: _Optional[bool] = ...) -> None: ...

class CreateCollectionSpec(_message.Message):
    __slots__ = ("name", "dimension", "distance", "shards", "replication_factor", "hnsw", "payload_indexes", "auto_index_off")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    AUTO_INDEX_OFF_FIELD_NUMBER: _ClassVar[int]
    name: str
    dimension: int
    distance: str
    shards: int
    replication_factor: int
    hnsw: CollectionSpecHnsw
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexView]
    auto_index_off: bool
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., shards: _Optional[int] = ..., replication_factor: _Optional[int] = ..., hnsw: _Optional[_Union[CollectionSpecHnsw, _Mapping]] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndexView, _Mapping]]] = ..., auto_index_off: _Optional[bool] = ...) -> None: ...

class ShardView(_message.Message):
    __slots__ = ("shard_id", "replicas", "leader", "status", "points_count")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    shard_id: int
    replicas: _containers.RepeatedScalarFieldContainer[str]
    leader: str
    status: str
    points_count: int
    def __init__(self, shard_id: _Optional[int] = ..., replicas: _Optional[_Iterable[str]] = ..., leader: _Optional[str] = ..., status: _Optional[str] = ..., points_count: _Optional[int] = ...) -> None: ...

class CollectionView(_message.Message):
    __slots__ = ("name", "dimension", "distance", "shards", "replication_factor", "hnsw", "created_at", "points_count", "shard_status", "payload_indexes", "auto_index")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARD_STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    AUTO_INDEX_FIELD_NUMBER: _ClassVar[int]
    name: str
    dimension: int
    distance: str
    shards: int
    replication_factor: int
    hnsw: CollectionSpecHnsw
    created_at: str
    points_count: int
    shard_status: _containers.RepeatedCompositeFieldContainer[ShardView]
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexView]
    auto_index: bool
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., shards: _Optional[int] = ..., replication_factor: _Optional[int] = ..., hnsw: _Optional[_Union[CollectionSpecHnsw, _Mapping]] = ..., created_at: _Optional[str] = ..., points_count: _Optional[int] = ..., shard_status: _Optional[_Iterable[_Union[ShardView, _Mapping]]] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndexView, _Mapping]]] = ..., auto_index: _Optional[bool] = ...) -> None: ...

class CollectionReply(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionView
    def __init__(self, collection: _Optional[_Union[CollectionView, _Mapping]] = ...) -> None: ...

class ListCollectionsSpec(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CollectionsReply(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionView]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionView, _Mapping]]] = ...) -> None: ...

class CollectionName(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropReply(_message.Message):
    __slots__ = ("dropped",)
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    dropped: bool
    def __init__(self, dropped: _Optional[bool] = ...) -> None: ...

class PayloadIndexSpecRequest(_message.Message):
    __slots__ = ("collection", "field", "type")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    field: str
    type: str
    def __init__(self, collection: _Optional[str] = ..., field: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class PayloadIndexReply(_message.Message):
    __slots__ = ("changed",)
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    changed: bool
    def __init__(self, changed: _Optional[bool] = ...) -> None: ...

class UpsertPointsRequest(_message.Message):
    __slots__ = ("collection", "points")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    points: _containers.RepeatedCompositeFieldContainer[_points_pb2.Point]
    def __init__(self, collection: _Optional[str] = ..., points: _Optional[_Iterable[_Union[_points_pb2.Point, _Mapping]]] = ...) -> None: ...

class UpsertPointsReply(_message.Message):
    __slots__ = ("upserted",)
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    def __init__(self, upserted: _Optional[int] = ...) -> None: ...

class GetPointsRequest(_message.Message):
    __slots__ = ("collection", "ids", "with_vector", "without_payload", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    with_vector: bool
    without_payload: bool
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., with_vector: _Optional[bool] = ..., without_payload: _Optional[bool] = ..., consistency: _Optional[str] = ...) -> None: ...

class PointsReply(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_points_pb2.Point]
    def __init__(self, points: _Optional[_Iterable[_Union[_points_pb2.Point, _Mapping]]] = ...) -> None: ...

class DeletePointsRequest(_message.Message):
    __slots__ = ("collection", "ids", "filter_json")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    filter_json: str
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., filter_json: _Optional[str] = ...) -> None: ...

class CountReply(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class ScrollPointsRequest(_message.Message):
    __slots__ = ("collection", "filter_json", "limit", "offset", "with_vector", "without_payload", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter_json: str
    limit: int
    offset: _points_pb2.PointId
    with_vector: bool
    without_payload: bool
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., filter_json: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[_Union[_points_pb2.PointId, _Mapping]] = ..., with_vector: _Optional[bool] = ..., without_payload: _Optional[bool] = ..., consistency: _Optional[str] = ...) -> None: ...

class ScrollPointsReply(_message.Message):
    __slots__ = ("points", "next_offset")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_points_pb2.Point]
    next_offset: _points_pb2.PointId
    def __init__(self, points: _Optional[_Iterable[_Union[_points_pb2.Point, _Mapping]]] = ..., next_offset: _Optional[_Union[_points_pb2.PointId, _Mapping]] = ...) -> None: ...

class CountPointsRequest(_message.Message):
    __slots__ = ("collection", "filter_json", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter_json: str
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., filter_json: _Optional[str] = ..., consistency: _Optional[str] = ...) -> None: ...

class SetPayloadPointsRequest(_message.Message):
    __slots__ = ("collection", "ids", "payload_json", "overwrite")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    payload_json: str
    overwrite: bool
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., payload_json: _Optional[str] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class SearchPointsRequest(_message.Message):
    __slots__ = ("collection", "vector", "top_k", "filter_json", "ef", "score_threshold", "without_payload", "with_vector", "consistency", "allow_partial")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    collection: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    top_k: int
    filter_json: str
    ef: int
    score_threshold: float
    without_payload: bool
    with_vector: bool
    consistency: str
    allow_partial: bool
    def __init__(self, collection: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., top_k: _Optional[int] = ..., filter_json: _Optional[str] = ..., ef: _Optional[int] = ..., score_threshold: _Optional[float] = ..., without_payload: _Optional[bool] = ..., with_vector: _Optional[bool] = ..., consistency: _Optional[str] = ..., allow_partial: _Optional[bool] = ...) -> None: ...

class SearchPointsReply(_message.Message):
    __slots__ = ("results", "partial", "failed_shards")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    FAILED_SHARDS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_points_pb2.ScoredPoint]
    partial: bool
    failed_shards: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, results: _Optional[_Iterable[_Union[_points_pb2.ScoredPoint, _Mapping]]] = ..., partial: _Optional[bool] = ..., failed_shards: _Optional[_Iterable[int]] = ...) -> None: ...

class SearchBatchPointsRequest(_message.Message):
    __slots__ = ("collection", "searches")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SEARCHES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    searches: _containers.RepeatedCompositeFieldContainer[SearchPointsRequest]
    def __init__(self, collection: _Optional[str] = ..., searches: _Optional[_Iterable[_Union[SearchPointsRequest, _Mapping]]] = ...) -> None: ...

class SearchHits(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[_points_pb2.ScoredPoint]
    def __init__(self, hits: _Optional[_Iterable[_Union[_points_pb2.ScoredPoint, _Mapping]]] = ...) -> None: ...

class SearchBatchPointsReply(_message.Message):
    __slots__ = ("results", "partial", "failed_shards")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    FAILED_SHARDS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchHits]
    partial: bool
    failed_shards: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchHits, _Mapping]]] = ..., partial: _Optional[bool] = ..., failed_shards: _Optional[_Iterable[int]] = ...) -> None: ...
