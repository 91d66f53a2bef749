"""Workers: host shard replicas (each shard a Raft group whose FSM is a store collection)
and serve point operations on them.

Layers, bottom up: ``fsm`` (:class:`ShardStateMachine`: a store Collection driven
by ``apply_batch`` with the dedup metadata), ``replicas`` (:class:`ReplicaHost`:
opening, reopening and dropping replicas), ``service`` (:class:`WorkerService`,
the internal API), ``grpc_server`` (the thin servicer, forwarding to shard
leaders), ``agent`` (registration, heartbeats, reconciliation with the
placement driver) and ``node`` (:func:`serve_worker`, what
``vectrond --role worker`` runs).
"""

from vectron.services.worker.agent import PlacementAgent
from vectron.services.worker.fsm import ShardStateMachine
from vectron.services.worker.replicas import ReplicaHost, ShardReplica
from vectron.services.worker.service import ShardKey, WorkerConfig, WorkerService, WriteResult

__all__ = [
    "PlacementAgent",
    "ReplicaHost",
    "ShardKey",
    "ShardReplica",
    "ShardStateMachine",
    "WorkerConfig",
    "WorkerService",
    "WriteResult",
]
