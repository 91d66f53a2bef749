"""The placement driver: workers, collections, shards and the routing table, in an FSM
on its own Raft group.

Layers, bottom up: ``routing`` (the stable point id -> shard hash), ``storage``
(LMDB tables), ``commands`` (the stateless dispatcher of ``PlacementCommand``),
``fsm`` (the state machine), ``service`` (:class:`PlacementService`, the
internal API), ``grpc_server`` (the thin servicer) and ``node``
(:func:`serve_placement`, what ``vectrond --role placement`` runs).
"""

from vectron.services.placement.fsm import PlacementStateMachine
from vectron.services.placement.routing import HASH_SCHEME, group_by_shard, point_hash, shard_of
from vectron.services.placement.service import Liveness, PlacementConfig, PlacementService, choose_workers

__all__ = [
    "HASH_SCHEME",
    "Liveness",
    "PlacementConfig",
    "PlacementService",
    "PlacementStateMachine",
    "choose_workers",
    "group_by_shard",
    "point_hash",
    "shard_of",
]
