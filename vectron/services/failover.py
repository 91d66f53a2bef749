"""Calls to a replicated gRPC service that move to the next node when one is unavailable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import grpc

from vectron.errors import Indeterminate, Unavailable
from vectron.services.channels import open_channel
from vectron.services.grpc_errors import error_from_rpc_error, may_have_been_applied

S = TypeVar("S")
T = TypeVar("T")


class FailoverStubs(Generic[S]):
    """One stub per node address; ``call`` tries them in turn until one answers.

    Only UNAVAILABLE moves on (with a short backoff); any other status is the
    answer, turned back into the vectron.errors the server raised. The node
    that answered last is tried first next time. A call that is not idempotent
    (a write) is not sent again after a failure that may have reached the server
    (see :func:`may_have_been_applied`): it ends Indeterminate instead.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        make_stub: Callable[[grpc.Channel], S],
        *,
        timeout: float,
        what: str,
    ) -> None:
        if not addresses:
            raise ValueError(f"give at least one {what} node address")
        self._channels = [open_channel(a) for a in addresses]
        self._stubs = [make_stub(c) for c in self._channels]
        self._timeout = timeout
        self._what = what
        self._next = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def call(self, fn: Callable[[S, float], T], *, idempotent: bool = True) -> T:
        """``fn(stub, remaining_seconds)`` on the first node that answers within the timeout."""
        deadline = time.monotonic() + self._timeout
        with self._lock:
            start = self._next
        last: grpc.RpcError | None = None
        for attempt in range(3 * len(self._stubs)):
            i = (start + attempt) % len(self._stubs)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                out = fn(self._stubs[i], remaining)
                with self._lock:
                    self._next = i
                return out
            except grpc.RpcError as exc:
                if not idempotent and may_have_been_applied(exc):
                    raise Indeterminate(f"{self._what} call may have been applied: {exc.details()}") from None
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise error_from_rpc_error(exc) from None
                last = exc
                time.sleep(min(0.05 * (attempt + 1), 0.5))
        if last is not None:
            raise error_from_rpc_error(last) from None
        raise Unavailable(f"no {self._what} node answered in time")
