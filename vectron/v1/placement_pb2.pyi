from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HnswConfig(_message.Message):
    __slots__ = ("m", "ef_construct", "ef")
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCT_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    m: int
    ef_construct: int
    ef: int
    def __init__(self, m: _Optional[int] = ..., ef_construct: _Optional[int] = ..., ef: _Optional[int] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("worker_id", "grpc_address", "raft_host", "raft_port_min", "raft_port_max", "capacity", "live", "last_heartbeat_ms", "dead")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    GRPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_HOST_FIELD_NUMBER: _ClassVar[int]
    RAFT_PORT_MIN_FIELD_NUMBER: _ClassVar[int]
    RAFT_PORT_MAX_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    grpc_address: str
    raft_host: str
    raft_port_min: int
    raft_port_max: int
    capacity: int
    live: bool
    last_heartbeat_ms: int
    dead: bool
    def __init__(self, worker_id: _Optional[str] = ..., grpc_address: _Optional[str] = ..., raft_host: _Optional[str] = ..., raft_port_min: _Optional[int] = ..., raft_port_max: _Optional[int] = ..., capacity: _Optional[int] = ..., live: _Optional[bool] = ..., last_heartbeat_ms: _Optional[int] = ..., dead: _Optional[bool] = ...) -> None: ...

class ReplicaInfo(_message.Message):
    __slots__ = ("worker_id", "grpc_address", "raft_address")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    GRPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    grpc_address: str
    raft_address: str
    def __init__(self, worker_id: _Optional[str] = ..., grpc_address: _Optional[str] = ..., raft_address: _Optional[str] = ...) -> None: ...

class ShardInfo(_message.Message):
    __slots__ = ("shard_id", "replicas", "leader_worker_id", "leader_grpc_address")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    LEADER_WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_GRPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    shard_id: int
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaInfo]
    leader_worker_id: str
    leader_grpc_address: str
    def __init__(self, shard_id: _Optional[int] = ..., replicas: _Optional[_Iterable[_Union[ReplicaInfo, _Mapping]]] = ..., leader_worker_id: _Optional[str] = ..., leader_grpc_address: _Optional[str] = ...) -> None: ...

class PayloadIndexSpec(_message.Message):
    __slots__ = ("field", "type")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    field: str
    type: str
    def __init__(self, field: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("collection_id", "owner", "name", "dimension", "distance", "shard_count", "replication_factor", "hnsw", "epoch", "hash_scheme", "created_at_ms", "payload_indexes", "auto_index_off")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    HASH_SCHEME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    AUTO_INDEX_OFF_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    owner: str
    name: str
    dimension: int
    distance: str
    shard_count: int
    replication_factor: int
    hnsw: HnswConfig
    epoch: int
    hash_scheme: str
    created_at_ms: int
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexSpec]
    auto_index_off: bool
    def __init__(self, collection_id: _Optional[str] = ..., owner: _Optional[str] = ..., name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., shard_count: _Optional[int] = ..., replication_factor: _Optional[int] = ..., hnsw: _Optional[_Union[HnswConfig, _Mapping]] = ..., epoch: _Optional[int] = ..., hash_scheme: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndexSpec, _Mapping]]] = ..., auto_index_off: _Optional[bool] = ...) -> None: ...

class RoutingTable(_message.Message):
    __slots__ = ("collection", "shards", "epoch")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    shards: _containers.RepeatedCompositeFieldContainer[ShardInfo]
    epoch: int
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[ShardInfo, _Mapping]]] = ..., epoch: _Optional[int] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("worker",)
    WORKER_FIELD_NUMBER: _ClassVar[int]
    worker: WorkerInfo
    def __init__(self, worker: _Optional[_Union[WorkerInfo, _Mapping]] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ("worker",)
    WORKER_FIELD_NUMBER: _ClassVar[int]
    worker: WorkerInfo
    def __init__(self, worker: _Optional[_Union[WorkerInfo, _Mapping]] = ...) -> None: ...

class ShardStats(_message.Message):
    __slots__ = ("collection_id", "shard_id", "role", "term", "applied_index", "point_count", "leader_raft_address")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    LEADER_RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    shard_id: int
    role: str
    term: int
    applied_index: int
    point_count: int
    leader_raft_address: str
    def __init__(self, collection_id: _Optional[str] = ..., shard_id: _Optional[int] = ..., role: _Optional[str] = ..., term: _Optional[int] = ..., applied_index: _Optional[int] = ..., point_count: _Optional[int] = ..., leader_raft_address: _Optional[str] = ...) -> None: ...

class ReplicaAssignment(_message.Message):
    __slots__ = ("collection", "shard_id", "raft_address", "replicas")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    shard_id: int
    raft_address: str
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaInfo]
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ..., shard_id: _Optional[int] = ..., raft_address: _Optional[str] = ..., replicas: _Optional[_Iterable[_Union[ReplicaInfo, _Mapping]]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("worker_id", "shards")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardStats]
    def __init__(self, worker_id: _Optional[str] = ..., shards: _Optional[_Iterable[_Union[ShardStats, _Mapping]]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("placement_version", "assignments")
    PLACEMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    placement_version: int
    assignments: _containers.RepeatedCompositeFieldContainer[ReplicaAssignment]
    def __init__(self, placement_version: _Optional[int] = ..., assignments: _Optional[_Iterable[_Union[ReplicaAssignment, _Mapping]]] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("owner", "name", "dimension", "distance", "shard_count", "replication_factor", "hnsw", "payload_indexes", "auto_index_off")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    AUTO_INDEX_OFF_FIELD_NUMBER: _ClassVar[int]
    owner: str
    name: str
    dimension: int
    distance: str
    shard_count: int
    replication_factor: int
    hnsw: HnswConfig
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexSpec]
    auto_index_off: bool
    def __init__(self, owner: _Optional[str] = ..., name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., shard_count: _Optional[int] = ..., replication_factor: _Optional[int] = ..., hnsw: _Optional[_Union[HnswConfig, _Mapping]] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndexSpec, _Mapping]]] = ..., auto_index_off: _Optional[bool] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("routing",)
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    routing: RoutingTable
    def __init__(self, routing: _Optional[_Union[RoutingTable, _Mapping]] = ...) -> None: ...

class CollectionRef(_message.Message):
    __slots__ = ("owner", "name")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    owner: str
    name: str
    def __init__(self, owner: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionRef
    def __init__(self, collection: _Optional[_Union[CollectionRef, _Mapping]] = ...) -> None: ...

class DropCollectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ("owner",)
    OWNER_FIELD_NUMBER: _ClassVar[int]
    owner: str
    def __init__(self, owner: _Optional[str] = ...) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class GetCollectionRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionRef
    def __init__(self, collection: _Optional[_Union[CollectionRef, _Mapping]] = ...) -> None: ...

class GetCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ...) -> None: ...

class GetRoutingTableRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionRef
    def __init__(self, collection: _Optional[_Union[CollectionRef, _Mapping]] = ...) -> None: ...

class GetRoutingTableResponse(_message.Message):
    __slots__ = ("routing",)
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    routing: RoutingTable
    def __init__(self, routing: _Optional[_Union[RoutingTable, _Mapping]] = ...) -> None: ...

class GetWorkerRequest(_message.Message):
    __slots__ = ("collection", "num", "str")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    STR_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionRef
    num: int
    str: str
    def __init__(self, collection: _Optional[_Union[CollectionRef, _Mapping]] = ..., num: _Optional[int] = ..., str: _Optional[str] = ...) -> None: ...

class GetWorkerResponse(_message.Message):
    __slots__ = ("grpc_address", "shard_id", "collection_id", "epoch")
    GRPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    grpc_address: str
    shard_id: int
    collection_id: str
    epoch: int
    def __init__(self, grpc_address: _Optional[str] = ..., shard_id: _Optional[int] = ..., collection_id: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class SetPayloadIndexRequest(_message.Message):
    __slots__ = ("collection", "index", "drop")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionRef
    index: PayloadIndexSpec
    drop: bool
    def __init__(self, collection: _Optional[_Union[CollectionRef, _Mapping]] = ..., index: _Optional[_Union[PayloadIndexSpec, _Mapping]] = ..., drop: _Optional[bool] = ...) -> None: ...

class SetPayloadIndexResponse(_message.Message):
    __slots__ = ("collection", "changed")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    changed: bool
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ...) -> None: ...

class RegisterWorkerCmd(_message.Message):
    __slots__ = ("worker",)
    WORKER_FIELD_NUMBER: _ClassVar[int]
    worker: WorkerInfo
    def __init__(self, worker: _Optional[_Union[WorkerInfo, _Mapping]] = ...) -> None: ...

class CreateCollectionCmd(_message.Message):
    __slots__ = ("collection", "shards")
    class ShardPlacement(_message.Message):
        __slots__ = ("worker_ids",)
        WORKER_IDS_FIELD_NUMBER: _ClassVar[int]
        worker_ids: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, worker_ids: _Optional[_Iterable[str]] = ...) -> None: ...
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    shards: _containers.RepeatedCompositeFieldContainer[CreateCollectionCmd.ShardPlacement]
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[CreateCollectionCmd.ShardPlacement, _Mapping]]] = ...) -> None: ...

class DropCollectionCmd(_message.Message):
    __slots__ = ("owner", "name")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    owner: str
    name: str
    def __init__(self, owner: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SetWorkerDeadCmd(_message.Message):
    __slots__ = ("worker_id", "dead")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    dead: bool
    def __init__(self, worker_id: _Optional[str] = ..., dead: _Optional[bool] = ...) -> None: ...

class MoveReplicaCmd(_message.Message):
    __slots__ = ("collection_id", "shard_id", "from_worker_id", "to_worker_id")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TO_WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    shard_id: int
    from_worker_id: str
    to_worker_id: str
    def __init__(self, collection_id: _Optional[str] = ..., shard_id: _Optional[int] = ..., from_worker_id: _Optional[str] = ..., to_worker_id: _Optional[str] = ...) -> None: ...

class SetPayloadIndexCmd(_message.Message):
    __slots__ = ("owner", "name", "index", "drop")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    owner: str
    name: str
    index: PayloadIndexSpec
    drop: bool
    def __init__(self, owner: _Optional[str] = ..., name: _Optional[str] = ..., index: _Optional[_Union[PayloadIndexSpec, _Mapping]] = ..., drop: _Optional[bool] = ...) -> None: ...

class PlacementCommand(_message.Message):
    __slots__ = ("register_worker", "create_collection", "drop_collection", "set_worker_dead", "move_replica", "set_payload_index")
    REGISTER_WORKER_FIELD_NUMBER: _ClassVar[int]
    CREATE_COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DROP_COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SET_WORKER_DEAD_FIELD_NUMBER: _ClassVar[int]
    MOVE_REPLICA_FIELD_NUMBER: _ClassVar[int]
    SET_PAYLOAD_INDEX_FIELD_NUMBER: _ClassVar[int]
    register_worker: RegisterWorkerCmd
    create_collection: CreateCollectionCmd
    drop_collection: DropCollectionCmd
    set_worker_dead: SetWorkerDeadCmd
    move_replica: MoveReplicaCmd
    set_payload_index: SetPayloadIndexCmd
    def __init__(self, register_worker: _Optional[_Union[RegisterWorkerCmd, _Mapping]] = ..., create_collection: _Optional[_Union[CreateCollectionCmd, _Mapping]] = ..., drop_collection: _Optional[_Union[DropCollectionCmd, _Mapping]] = ..., set_worker_dead: _Optional[_Union[SetWorkerDeadCmd, _Mapping]] = ..., move_replica: _Optional[_Union[MoveReplicaCmd, _Mapping]] = ..., set_payload_index: _Optional[_Union[SetPayloadIndexCmd, _Mapping]] = ...) -> None: ...

class PlacementError(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    field: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class PlacementResult(_message.Message):
    __slots__ = ("error", "ok", "worker", "routing", "payload_index")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEX_FIELD_NUMBER: _ClassVar[int]
    error: PlacementError
    ok: bool
    worker: WorkerInfo
    routing: RoutingTable
    payload_index: SetPayloadIndexResponse
    def __init__(self, error: _Optional[_Union[PlacementError, _Mapping]] = ..., ok: _Optional[bool] = ..., worker: _Optional[_Union[WorkerInfo, _Mapping]] = ..., routing: _Optional[_Union[RoutingTable, _Mapping]] = ..., payload_index: _Optional[_Union[SetPayloadIndexResponse, _Mapping]] = ...) -> None: ...

class CollectionRecord(_message.Message):
    __slots__ = ("collection", "shards")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    shards: _containers.RepeatedCompositeFieldContainer[ShardInfo]
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[ShardInfo, _Mapping]]] = ...) -> None: ...
