"""Proposing with retries: what a service does to get one write through a group."""

from __future__ import annotations

import logging
import time
import uuid

from vectron.errors import Indeterminate, Unavailable
from vectron.raft.protocol import Group

log = logging.getLogger(__name__)


def propose_with_retry(
    group: Group, body: bytes, *, timeout: float, what: str, request_id: str | None = None
) -> bytes:
    """Propose ``body``, retrying definite failures (no leader yet, ...) and open outcomes
    with the same request id (the FSM answers a repeat from its dedup record) until
    ``timeout`` seconds have passed; then the last error is raised — as Indeterminate
    if any attempt's outcome was open, since a later definite failure does not undo it."""
    request_id = request_id or uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    delay = 0.05
    maybe_applied = False
    while True:
        remaining = deadline - time.monotonic()
        try:
            return group.propose(body, request_id=request_id, timeout=max(0.1, min(remaining, 5.0)))
        except (Unavailable, Indeterminate) as exc:
            maybe_applied = maybe_applied or isinstance(exc, Indeterminate)
            if time.monotonic() + delay >= deadline:
                if maybe_applied and not isinstance(exc, Indeterminate):
                    raise Indeterminate(f"{what} write: an attempt may have been applied; last: {exc.message}") from None
                raise
            log.info("%s write %s: %s; retrying", what, request_id, exc)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
