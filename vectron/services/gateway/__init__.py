"""The gateway: the public REST and gRPC front door of Vectron.

Layers: ``models`` (the JSON shapes, pydantic), ``api`` (:class:`Gateway`, the
one internal API of operations), ``routing`` (routing tables, leader hints,
replica choice), ``shard_calls`` (retries, the deadline, fan-out, partial
writes), ``merge`` (sharded answers made whole), ``workers`` (the typed
:class:`WorkerClient` over gRPC or in-process), ``backends`` (the placement
client), ``convert`` (answers to response models), ``limits`` (per-account
token buckets charged by cost), ``admin`` (user administration across auth and
placement), ``edge`` (credentials before bodies, body and connection limits of
the REST server), ``rest`` and ``grpc_server`` (thin adapters), ``node``
(:func:`serve_gateway`).
"""

from vectron.services.gateway.api import Gateway, GatewayConfig, Principal
from vectron.services.gateway.limits import TokenBucketLimiter
from vectron.services.gateway.routing import RoutingCache

__all__ = ["Gateway", "GatewayConfig", "Principal", "RoutingCache", "TokenBucketLimiter"]
