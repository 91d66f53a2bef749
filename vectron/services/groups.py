"""Starting the Raft group of a control-plane service (auth, placement) over its LMDB FSM."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from vectron.errors import InvalidArgument
from vectron.raft import LmdbStateMachine, RaftConfig, RaftGroup

F = TypeVar("F", bound=LmdbStateMachine)


def start_service_group(
    make_fsm: Callable[[str], F],
    data_dir: str,
    raft_address: str,
    peers: Sequence[str],
    cluster_password: str,
    raft_options: dict[str, Any] | None = None,
) -> tuple[F, RaftGroup]:
    """Open the FSM in ``data_dir/state`` and its group replica (journal and snapshots in
    ``data_dir/raft``); the FSM is closed again if the group cannot start."""
    if not cluster_password:
        raise InvalidArgument("a cluster password is required (VECTRON_CLUSTER_PASSWORD)", field="cluster_password")
    os.makedirs(data_dir, exist_ok=True)
    fsm = make_fsm(os.path.join(data_dir, "state"))
    try:
        group = RaftGroup(
            fsm,
            RaftConfig(
                self_address=raft_address,
                peers=[raft_address, *peers],
                data_dir=os.path.join(data_dir, "raft"),
                password=cluster_password,
                **(raft_options or {}),
            ),
        )
    except BaseException:
        fsm.close()
        raise
    return fsm, group
