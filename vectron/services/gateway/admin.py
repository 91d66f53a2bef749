"""The gateway's administration operations: shared by the REST routes under ``/v1/admin``
and the ``Admin*`` RPCs of the public gRPC service.

Who is an admin is decided by the auth service (the session's email is one of its
``--admin-emails``); this module adds what spans services: deleting a user drops
every collection they own (the placement driver drops the shards; the workers
remove their files on their next heartbeat), and a plan or account change is
forgotten at once by this gateway's key cache (within its TTL on the others).
"""

from __future__ import annotations

import logging
from typing import Protocol

from vectron.errors import NotFound
from vectron.services.auth.api_keys import ApiKeyCache
from vectron.services.auth.model import User
from vectron.services.gateway.routing import PlacementBackend, RoutingCache

__all__ = ["AdminBackend", "Admin"]

log = logging.getLogger(__name__)


class AdminBackend(Protocol):
    """What administration needs of the auth service (AuthClient has these methods)."""

    def admin_list_users(self, token: str, after: str = "", limit: int = 0) -> tuple[list[User], str]: ...

    def admin_set_plan(self, token: str, user: str, plan: str) -> User: ...

    def admin_set_disabled(self, token: str, user: str, disabled: bool) -> User: ...

    def admin_delete_user(self, token: str, user: str) -> User: ...


class Admin:
    """Administration over the auth service and the placement driver (see the module docstring).
    Every method takes the caller's session token, already checked for shape by the gateway."""

    def __init__(self, auth: AdminBackend, placement: PlacementBackend, routing: RoutingCache, keys: ApiKeyCache) -> None:
        self.auth = auth
        self.placement = placement
        self.routing = routing
        self.keys = keys

    def list_users(self, token: str, after: str = "", limit: int = 0) -> tuple[list[User], str]:
        return self.auth.admin_list_users(token, after, limit)

    def set_plan(self, token: str, user: str, plan: str) -> User:
        out = self.auth.admin_set_plan(token, user, plan)
        self.keys.invalidate()
        return out

    def set_disabled(self, token: str, user: str, disabled: bool) -> User:
        out = self.auth.admin_set_disabled(token, user, disabled)
        self.keys.invalidate()
        return out

    def delete_user(self, token: str, user: str) -> tuple[User, list[str]]:
        """Disable the account (no key works from then on), drop every collection it owns,
        then delete it. Safe to repeat (by user id) if a step failed."""
        target = self.set_disabled(token, user, True)
        dropped = []
        for info in self.placement.list_collections(target.user_id):
            try:
                self.placement.drop_collection(target.user_id, info.name)
                dropped.append(info.name)
            except NotFound:
                pass  # dropped meanwhile
            finally:
                self.routing.forget(target.user_id, info.name)
        deleted = self.auth.admin_delete_user(token, target.user_id)
        log.info("deleted user %s and their %d collection(s)", target.user_id, len(dropped))
        return deleted, sorted(dropped)
