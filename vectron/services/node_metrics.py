"""Prometheus metrics of the roles running in this process, read at scrape time.

Owns :class:`NodeCollector`: a custom ``prometheus_client`` collector that, on each
scrape, reads ``RaftGroup.status()`` of every Raft group replica this process hosts
(the auth and placement groups, every shard replica of its worker) and the worker's
replica count and disk usage. Nothing is updated on the hot paths: a scrape costs one
``status()`` call per replica and one walk of the worker's data folder.

Series (``group`` is ``auth``, ``placement`` or ``shard``; shard series also carry
``collection`` (the name), ``collection_id`` and ``shard``):

* ``vectron_raft_role{role}`` 1 for the replica's current role
* ``vectron_raft_term``, ``vectron_raft_commit_index``, ``vectron_raft_applied_index``
* ``vectron_raft_apply_lag_entries`` committed entries not yet applied here
* ``vectron_raft_follower_lag_entries`` on a leader, entries its slowest follower lacks
* ``vectron_raft_log_entries`` entries in the in-memory log (since the last compaction)
* ``vectron_raft_elections_total``, ``vectron_raft_leader_changes_total``,
  ``vectron_raft_snapshot_installs_total`` since this process started
* ``vectron_collection_points`` points held by each shard replica
* ``vectron_worker_replicas``, ``vectron_worker_disk_bytes``
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["NodeCollector", "GroupSample", "folder_bytes"]

log = logging.getLogger(__name__)

_GAUGES = {
    "term": ("vectron_raft_term", "Current Raft term of this replica"),
    "commit_index": ("vectron_raft_commit_index", "Highest log index known committed"),
    "applied_index": ("vectron_raft_applied_index", "Highest log index applied to the state machine"),
    "follower_lag": ("vectron_raft_follower_lag_entries", "On a leader: committed entries its slowest follower lacks"),
    "log_size": ("vectron_raft_log_entries", "Entries in the Raft log since the last compaction"),
}
_COUNTERS = {
    "elections": ("vectron_raft_elections", "Elections this replica started (became a candidate)"),
    "leader_changes": ("vectron_raft_leader_changes", "Times this replica saw a new leader"),
    "snapshot_installs": ("vectron_raft_snapshot_installs", "Snapshots restored into this replica's state machine"),
}
_ROLES = ("leader", "follower", "candidate", "stopped", "unknown")


@dataclass(frozen=True)
class GroupSample:
    """One Raft group replica: its labels and its ``status()``."""

    group: str
    collection: str
    collection_id: str
    shard: str
    status: dict[str, Any]


def folder_bytes(root: str | os.PathLike[str]) -> int:
    """Bytes used by the files under ``root`` (files vanishing meanwhile are skipped)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


def _safe_status(group: Any) -> dict[str, Any]:
    try:
        return dict(group.status())
    except Exception:
        return {}


class NodeCollector(Collector):
    """Collects the Raft and worker series of this process's parts (see the module docstring).

    ``parts`` returns the running parts by role (``auth``, ``placement``, ``worker``),
    as :class:`~vectron.services.runner.RunningNode` keeps them."""

    def __init__(self, parts: Callable[[], dict[str, Any]]) -> None:
        self._parts = parts

    def samples(self) -> Iterator[GroupSample]:
        parts = self._parts()
        for name in ("auth", "placement"):
            part = parts.get(name)
            if part is not None:
                yield GroupSample(name, "", "", "", _safe_status(part.group))
        worker = parts.get("worker")
        if worker is not None:
            for replica in worker.host.replicas():
                cid, shard = replica.key
                status = _safe_status(replica.group)
                try:
                    status["points"] = replica.fsm.point_count()
                except Exception:
                    pass
                yield GroupSample("shard", replica.collection.name, cid, str(shard), status)

    def collect(self) -> Iterable[Any]:
        labels = ["group", "collection", "collection_id", "shard"]
        role = GaugeMetricFamily("vectron_raft_role", "1 for this replica's current Raft role", labels=[*labels, "role"])
        gauges = {k: GaugeMetricFamily(n, h, labels=labels) for k, (n, h) in _GAUGES.items()}
        apply_lag = GaugeMetricFamily("vectron_raft_apply_lag_entries", "Committed entries not yet applied here", labels=labels)
        counters = {k: CounterMetricFamily(n, h, labels=labels) for k, (n, h) in _COUNTERS.items()}
        points = GaugeMetricFamily("vectron_collection_points", "Points held by this shard replica", labels=labels)
        for s in self.samples():
            values = [s.group, s.collection, s.collection_id, s.shard]
            st = s.status
            if not st:
                continue
            current = str(st.get("role") or "unknown")
            for r in _ROLES:
                role.add_metric([*values, r], 1.0 if r == current else 0.0)
            for key, family in gauges.items():
                if key in st:
                    family.add_metric(values, float(st[key] or 0))
            if "commit_index" in st and "applied_index" in st:
                apply_lag.add_metric(values, float(max(0, int(st["commit_index"]) - int(st["applied_index"]))))
            for key, family in counters.items():
                if key in st:
                    family.add_metric(values, float(st[key] or 0))
            if "points" in st:
                points.add_metric(values, float(st["points"]))
        yield role
        yield from gauges.values()
        yield apply_lag
        yield from counters.values()
        yield points
        worker = self._parts().get("worker")
        if worker is not None:
            replicas = GaugeMetricFamily("vectron_worker_replicas", "Shard replicas hosted by this worker", labels=["worker"])
            replicas.add_metric([worker.worker_id], len(worker.host.replicas()))
            disk = GaugeMetricFamily("vectron_worker_disk_bytes", "Bytes on disk under this worker's data folder", labels=["worker"])
            disk.add_metric([worker.worker_id], folder_bytes(worker.host.root.parent))
            yield replicas
            yield disk
