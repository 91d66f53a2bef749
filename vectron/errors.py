"""The one exception hierarchy of Vectron.

Every error knows how it is shown at the edges: an HTTP status, a gRPC status
code (by name, so this module imports nothing of gRPC) and a short stable
``code`` string for JSON bodies. Services map errors once, from these
attributes; nothing below the edges knows about status codes.

::

    VectronError                      500  INTERNAL
    ├── InvalidArgument               400  INVALID_ARGUMENT   (.field names the bad input)
    │   ├── DimensionMismatch
    │   ├── InvalidFilter
    │   └── PayloadTooLarge           413
    ├── Unauthenticated               401  UNAUTHENTICATED
    ├── PermissionDenied              403  PERMISSION_DENIED
    ├── NotFound                      404  NOT_FOUND
    │   └── CollectionNotFound
    ├── AlreadyExists                 409  ALREADY_EXISTS
    │   └── CollectionAlreadyExists
    ├── StaleEpoch                    409  FAILED_PRECONDITION (routed with an old routing table)
    ├── ResourceExhausted             429  RESOURCE_EXHAUSTED
    │   └── RateLimited                                       (.retry_after seconds)
    ├── InsufficientCapacity          507  RESOURCE_EXHAUSTED (the cluster, not the caller: no worker can take a replica)
    ├── Unavailable                   503  UNAVAILABLE        (definite failure: nothing was applied)
    │   └── NotLeader                                         (.leader is the leader's address, if known)
    ├── PartialWrite                  as its cause (503)      (.written / .failed / .unknown point ids)
    ├── Indeterminate                 504  UNKNOWN            (the write may or may not have been applied)
    └── StorageError                  500  INTERNAL

Every constructor takes ``(message, *, field=None)`` plus optional extras, so
an error rebuilt from its ``code`` (``error_from_code``) is always possible.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "VectronError",
    "InvalidArgument",
    "DimensionMismatch",
    "InvalidFilter",
    "PayloadTooLarge",
    "Unauthenticated",
    "PermissionDenied",
    "NotFound",
    "CollectionNotFound",
    "AlreadyExists",
    "CollectionAlreadyExists",
    "StaleEpoch",
    "ResourceExhausted",
    "RateLimited",
    "InsufficientCapacity",
    "PartialWrite",
    "Unavailable",
    "NotLeader",
    "Indeterminate",
    "StorageError",
    "error_from_code",
]


class VectronError(Exception):
    """Base of every error Vectron raises on purpose."""

    http_status: int = 500
    grpc_code: str = "INTERNAL"
    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{"code", "message", "field"?}``."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidArgument(VectronError):
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"
    code = "invalid_argument"


class DimensionMismatch(InvalidArgument):
    code = "dimension_mismatch"


class InvalidFilter(InvalidArgument):
    code = "invalid_filter"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field or "filter")


class PayloadTooLarge(InvalidArgument):
    http_status = 413
    code = "payload_too_large"


class Unauthenticated(VectronError):
    http_status = 401
    grpc_code = "UNAUTHENTICATED"
    code = "unauthenticated"


class PermissionDenied(VectronError):
    http_status = 403
    grpc_code = "PERMISSION_DENIED"
    code = "permission_denied"


class NotFound(VectronError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    code = "not_found"


class CollectionNotFound(NotFound):
    code = "collection_not_found"


class AlreadyExists(VectronError):
    http_status = 409
    grpc_code = "ALREADY_EXISTS"
    code = "already_exists"


class CollectionAlreadyExists(AlreadyExists):
    code = "collection_already_exists"


class StaleEpoch(VectronError):
    """The caller routed with an older (or other) routing epoch than the shard's: refresh the table."""

    http_status = 409
    grpc_code = "FAILED_PRECONDITION"
    code = "stale_epoch"


class ResourceExhausted(VectronError):
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    code = "resource_exhausted"


class InsufficientCapacity(VectronError):
    """The cluster has no room (workers at their replica capacity or out of Raft ports):
    an operator's problem, not the caller's, so not a 429 that says "slow down"."""

    http_status = 507
    grpc_code = "RESOURCE_EXHAUSTED"
    code = "insufficient_capacity"


class RateLimited(ResourceExhausted):
    """Too many requests for this key; ``retry_after`` seconds until the next one is allowed."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class Unavailable(VectronError):
    """A definite failure: the request was not applied and may be retried."""

    http_status = 503
    grpc_code = "UNAVAILABLE"
    code = "unavailable"


class NotLeader(Unavailable):
    code = "not_leader"

    def __init__(self, message: str, *, leader: str | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.leader = leader


class PartialWrite(VectronError):
    """A write reached some shards and not others: ``written`` / ``failed`` name the point ids,
    ``unknown`` those of shards whose outcome is indeterminate (they may or may not be written).

    Its status is that of the shard failure that caused it (``cause``, usually
    503), or ``http_status`` when rebuilt from an answer; nothing is hidden.
    """

    http_status = 503
    grpc_code = "UNAVAILABLE"
    code = "partial_write"

    def __init__(
        self,
        message: str,
        *,
        written: list[Any] | None = None,
        failed: list[Any] | None = None,
        unknown: list[Any] | None = None,
        cause: VectronError | None = None,
        http_status: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.written = list(written or [])
        self.failed = list(failed or [])
        self.unknown = list(unknown or [])
        self.cause = cause
        if cause is not None:
            self.http_status, self.grpc_code = cause.http_status, cause.grpc_code
        if http_status is not None:
            self.http_status = http_status

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["written"] = self.written
        body["failed"] = self.failed
        body["unknown"] = self.unknown
        return body


class Indeterminate(VectronError):
    """The outcome is unknown: the write may or may not have taken effect."""

    http_status = 504
    grpc_code = "UNKNOWN"
    code = "indeterminate"


class StorageError(VectronError):
    code = "storage_error"


def _all_subclasses(cls: type[VectronError]) -> list[type[VectronError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_from_code(code: str, message: str, field: str | None = None) -> VectronError:
    """Rebuild an error from its ``code`` (e.g. one carried in an FSM result or an RPC)."""
    for cls in _all_subclasses(VectronError):
        if cls.code == code:
            return cls(message, field=field)
    return VectronError(message, field=field)
