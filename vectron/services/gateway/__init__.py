"""The gateway: the public REST and gRPC front door of Vectron.

Layers: ``models`` (the JSON shapes, pydantic), ``api`` (:class:`Gateway`, the
one internal API: auth, plans, routing, scatter-gather), ``backends``
(placement and worker clients), ``limits`` (per-key token buckets), ``rest``
and ``grpc_server`` (thin adapters), ``node`` (:func:`serve_gateway`).
"""

from vectron.services.gateway.api import Gateway, GatewayConfig, Principal, RoutingCache
from vectron.services.gateway.limits import TokenBucketLimiter

__all__ = ["Gateway", "GatewayConfig", "Principal", "RoutingCache", "TokenBucketLimiter"]
