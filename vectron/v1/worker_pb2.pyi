from vectron.v1 import points_pb2 as _points_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Consistency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSISTENCY_DEFAULT: _ClassVar[Consistency]
    LINEARIZABLE: _ClassVar[Consistency]
    LEADER: _ClassVar[Consistency]
    ANY: _ClassVar[Consistency]
CONSISTENCY_DEFAULT: Consistency
LINEARIZABLE: Consistency
LEADER: Consistency
ANY: Consistency

class ShardRef(_message.Message):
    __slots__ = ("collection_id", "shard_id", "epoch")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    shard_id: int
    epoch: int
    def __init__(self, collection_id: _Optional[str] = ..., shard_id: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ("shard", "points", "request_id")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    points: _containers.RepeatedCompositeFieldContainer[_points_pb2.Point]
    request_id: str
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., points: _Optional[_Iterable[_Union[_points_pb2.Point, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("affected", "applied_index")
    AFFECTED_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    affected: int
    applied_index: int
    def __init__(self, affected: _Optional[int] = ..., applied_index: _Optional[int] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("shard", "ids", "with_vector", "without_payload", "consistency")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    with_vector: bool
    without_payload: bool
    consistency: Consistency
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., with_vector: _Optional[bool] = ..., without_payload: _Optional[bool] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_points_pb2.Point]
    def __init__(self, points: _Optional[_Iterable[_Union[_points_pb2.Point, _Mapping]]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("shard", "ids", "filter_json", "request_id")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    filter_json: str
    request_id: str
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., filter_json: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetPayloadRequest(_message.Message):
    __slots__ = ("shard", "ids", "payload_json", "overwrite", "request_id")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    payload_json: str
    overwrite: bool
    request_id: str
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., payload_json: _Optional[str] = ..., overwrite: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class SearchQuery(_message.Message):
    __slots__ = ("vector",)
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, vector: _Optional[_Iterable[float]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("shard", "queries", "k", "filter_json", "ef", "with_payload", "with_vector", "consistency")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    queries: _containers.RepeatedCompositeFieldContainer[SearchQuery]
    k: int
    filter_json: str
    ef: int
    with_payload: bool
    with_vector: bool
    consistency: Consistency
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., queries: _Optional[_Iterable[_Union[SearchQuery, _Mapping]]] = ..., k: _Optional[int] = ..., filter_json: _Optional[str] = ..., ef: _Optional[int] = ..., with_payload: _Optional[bool] = ..., with_vector: _Optional[bool] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class SearchResult(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[_points_pb2.ScoredPoint]
    def __init__(self, hits: _Optional[_Iterable[_Union[_points_pb2.ScoredPoint, _Mapping]]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResult, _Mapping]]] = ...) -> None: ...

class ScrollRequest(_message.Message):
    __slots__ = ("shard", "filter_json", "limit", "offset", "with_vector", "without_payload", "consistency")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    filter_json: str
    limit: int
    offset: _points_pb2.PointId
    with_vector: bool
    without_payload: bool
    consistency: Consistency
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., filter_json: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[_Union[_points_pb2.PointId, _Mapping]] = ..., with_vector: _Optional[bool] = ..., without_payload: _Optional[bool] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class ScrollResponse(_message.Message):
    __slots__ = ("points", "next_offset")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_points_pb2.Point]
    next_offset: _points_pb2.PointId
    def __init__(self, points: _Optional[_Iterable[_Union[_points_pb2.Point, _Mapping]]] = ..., next_offset: _Optional[_Union[_points_pb2.PointId, _Mapping]] = ...) -> None: ...

class CountRequest(_message.Message):
    __slots__ = ("shard", "filter_json", "consistency")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    filter_json: str
    consistency: Consistency
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., filter_json: _Optional[str] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class CountResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class PayloadIndexRequest(_message.Message):
    __slots__ = ("shard", "field", "type", "drop", "request_id")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    field: str
    type: str
    drop: bool
    request_id: str
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., field: _Optional[str] = ..., type: _Optional[str] = ..., drop: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class PayloadIndexesRequest(_message.Message):
    __slots__ = ("shard",)
    SHARD_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ...) -> None: ...

class PayloadIndexInfo(_message.Message):
    __slots__ = ("field", "type", "automatic")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    field: str
    type: str
    automatic: bool
    def __init__(self, field: _Optional[str] = ..., type: _Optional[str] = ..., automatic: _Optional[bool] = ...) -> None: ...

class PayloadIndexesResponse(_message.Message):
    __slots__ = ("indexes",)
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexInfo]
    def __init__(self, indexes: _Optional[_Iterable[_Union[PayloadIndexInfo, _Mapping]]] = ...) -> None: ...

class ShardStatus(_message.Message):
    __slots__ = ("collection_id", "shard_id", "epoch", "raft_address", "replicas", "role", "leader", "leader_grpc_address", "term", "commit_index", "applied_index", "point_count", "ready")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    LEADER_GRPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    shard_id: int
    epoch: int
    raft_address: str
    replicas: _containers.RepeatedScalarFieldContainer[str]
    role: str
    leader: str
    leader_grpc_address: str
    term: int
    commit_index: int
    applied_index: int
    point_count: int
    ready: bool
    def __init__(self, collection_id: _Optional[str] = ..., shard_id: _Optional[int] = ..., epoch: _Optional[int] = ..., raft_address: _Optional[str] = ..., replicas: _Optional[_Iterable[str]] = ..., role: _Optional[str] = ..., leader: _Optional[str] = ..., leader_grpc_address: _Optional[str] = ..., term: _Optional[int] = ..., commit_index: _Optional[int] = ..., applied_index: _Optional[int] = ..., point_count: _Optional[int] = ..., ready: _Optional[bool] = ...) -> None: ...

class ShardStatusRequest(_message.Message):
    __slots__ = ("collection_id",)
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    def __init__(self, collection_id: _Optional[str] = ...) -> None: ...

class ShardStatusResponse(_message.Message):
    __slots__ = ("worker_id", "shards")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardStatus]
    def __init__(self, worker_id: _Optional[str] = ..., shards: _Optional[_Iterable[_Union[ShardStatus, _Mapping]]] = ...) -> None: ...

class ExportShardRequest(_message.Message):
    __slots__ = ("shard",)
    SHARD_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class UpsertCmd(_message.Message):
    __slots__ = ("ids", "vectors", "payload_json")
    IDS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    vectors: bytes
    payload_json: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., vectors: _Optional[bytes] = ..., payload_json: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteCmd(_message.Message):
    __slots__ = ("ids", "filter_json", "by_filter")
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    BY_FILTER_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    filter_json: str
    by_filter: bool
    def __init__(self, ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., filter_json: _Optional[str] = ..., by_filter: _Optional[bool] = ...) -> None: ...

class SetPayloadCmd(_message.Message):
    __slots__ = ("ids", "payload_json", "overwrite")
    IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedCompositeFieldContainer[_points_pb2.PointId]
    payload_json: str
    overwrite: bool
    def __init__(self, ids: _Optional[_Iterable[_Union[_points_pb2.PointId, _Mapping]]] = ..., payload_json: _Optional[str] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class PayloadIndexCmd(_message.Message):
    __slots__ = ("field", "type", "drop")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    field: str
    type: str
    drop: bool
    def __init__(self, field: _Optional[str] = ..., type: _Optional[str] = ..., drop: _Optional[bool] = ...) -> None: ...

class ShardCommand(_message.Message):
    __slots__ = ("upsert", "delete", "set_payload", "payload_index")
    UPSERT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEX_FIELD_NUMBER: _ClassVar[int]
    upsert: UpsertCmd
    delete: DeleteCmd
    set_payload: SetPayloadCmd
    payload_index: PayloadIndexCmd
    def __init__(self, upsert: _Optional[_Union[UpsertCmd, _Mapping]] = ..., delete: _Optional[_Union[DeleteCmd, _Mapping]] = ..., set_payload: _Optional[_Union[SetPayloadCmd, _Mapping]] = ..., payload_index: _Optional[_Union[PayloadIndexCmd, _Mapping]] = ...) -> None: ...

class ShardError(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    field: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class ShardResult(_message.Message):
    __slots__ = ("error", "affected", "index")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    error: ShardError
    affected: int
    index: int
    def __init__(self, error: _Optional[_Union[ShardError, _Mapping]] = ..., affected: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...
