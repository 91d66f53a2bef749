"""The worker's link to the placement driver: register, heartbeat, reconcile replicas.

Every ``interval`` seconds the agent sends a heartbeat (with per-shard stats)
to EVERY placement node it knows, so that whichever node leads the placement
group has fresh liveness. Each answer carries the worker's assignments and the
placement version they reflect; the agent keeps the newest version seen and
reconciles its replicas against that answer only (an answer older than what
it already applied is ignored, so a lagging placement follower never makes it
drop a replica). The newest version is kept in ``state_file`` too, so a worker
restarted while only a lagging placement node answers does not act on older
placement than it had seen before. A ``NOT_FOUND`` answer (placement does not know this worker)
makes it register again.

Two threads: one only heartbeats; the other applies the newest answer (opening a
big replica takes seconds) and makes the groups this worker leads match their
assignments (``ReplicaHost.converge_members``). A heartbeat never waits for
either, so a busy worker is never mistaken for a dead one.
"""

from __future__ import annotations

import logging
import os
import pathlib
import threading
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc

from vectron.raft.durable_file import write_atomic
from vectron.services.channels import open_channel
from vectron.services.worker.replicas import ReplicaHost
from vectron.v1 import placement_pb2, placement_pb2_grpc

__all__ = ["PlacementAgent"]

log = logging.getLogger(__name__)


class PlacementAgent:
    def __init__(
        self,
        worker: placement_pb2.WorkerInfo,
        placement_addresses: Sequence[str],
        host: ReplicaHost,
        stats: Callable[[], list[placement_pb2.ShardStats]],
        *,
        interval: float = 1.0,
        rpc_timeout: float = 3.0,
        state_file: str | os.PathLike[str] | None = None,
    ) -> None:
        if not placement_addresses:
            raise ValueError("at least one placement address is required")
        self.worker = worker
        self.host = host
        self._stats = stats
        self.interval = interval
        self.rpc_timeout = rpc_timeout
        self._channels = {a: open_channel(a) for a in placement_addresses}
        self._stubs = {a: placement_pb2_grpc.PlacementServiceStub(c) for a, c in self._channels.items()}
        self._pool = futures.ThreadPoolExecutor(max_workers=len(self._stubs), thread_name_prefix="heartbeat")
        self.registered = False
        self._state_file = pathlib.Path(state_file) if state_file is not None else None
        self.placement_version = self._load_version()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._apply_thread: threading.Thread | None = None
        self._pending: placement_pb2.HeartbeatResponse | None = None  # newest answer not yet applied
        self._pending_lock = threading.Lock()
        self._answered = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="placement-agent", daemon=True)
        self._thread.start()
        self._apply_thread = threading.Thread(target=self._apply_loop, name="placement-apply", daemon=True)
        self._apply_thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in (self._thread, self._apply_thread):
            if thread is not None:
                thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for channel in self._channels.values():
            channel.close()

    def _run(self) -> None:
        """Heartbeats only: opening or dropping replicas (seconds, for a big shard) and
        membership changes run on the apply thread, so they never make this worker look
        silent to the placement leader (which would declare it dead)."""
        while not self._stop.is_set():
            try:
                reply = self.heartbeat_once()
                if reply is not None:
                    with self._pending_lock:
                        self._pending = reply
                    self._answered.set()
            except Exception:
                if self._stop.is_set():  # stopping: its pool and channels are closing under it
                    break
                log.exception("placement agent round failed")
            self._stop.wait(self.interval)

    def _apply_loop(self) -> None:
        while not self._stop.is_set():
            self._answered.wait(self.interval)
            self._answered.clear()
            with self._pending_lock:
                reply, self._pending = self._pending, None
            try:
                if reply is not None:
                    self.apply(reply)
                self.host.converge_members(timeout=max(self.interval * 5, 2.0))
            except Exception:
                log.exception("applying placement failed")

    def run_once(self) -> bool:
        """One round, synchronously: heartbeat, then apply the answer.
        Returns whether assignments were applied this round."""
        reply = self.heartbeat_once()
        if reply is None:
            return False
        self.apply(reply)
        return True

    def heartbeat_once(self) -> placement_pb2.HeartbeatResponse | None:
        """Register if needed and heartbeat every placement node; returns the newest
        answer if it is not older than what this worker has seen (its version is kept)."""
        if not self.registered and not self._register():
            return None
        request = placement_pb2.HeartbeatRequest(worker_id=self.worker.worker_id, shards=self._stats())
        calls = {a: self._pool.submit(stub.Heartbeat, request, timeout=self.rpc_timeout) for a, stub in self._stubs.items()}
        best: placement_pb2.HeartbeatResponse | None = None
        for address, call in calls.items():
            try:
                reply = call.result()
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    self.registered = False
                log.debug("heartbeat to %s failed: %s", address, exc.code())
                continue
            if best is None or reply.placement_version > best.placement_version:
                best = reply
        if best is None or best.placement_version < self.placement_version:
            return None
        if best.placement_version != self.placement_version:
            self._save_version(best.placement_version)
        self.placement_version = best.placement_version
        return best

    def apply(self, reply: placement_pb2.HeartbeatResponse) -> None:
        """Open, update and drop replicas as the answer assigns them."""
        opened, dropped = self.host.reconcile(list(reply.assignments))
        if opened or dropped:
            log.info("placement v%d: opened %s, dropped %s", reply.placement_version, opened, dropped)

    def _load_version(self) -> int:
        if self._state_file is None:
            return 0
        try:
            return int(self._state_file.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            log.warning("ignoring a malformed %s", self._state_file)
            return 0

    def _save_version(self, version: int) -> None:
        if self._state_file is None:
            return
        write_atomic(str(self._state_file), f"{version}\n".encode())

    def _register(self) -> bool:
        for address, stub in self._stubs.items():
            try:
                stub.RegisterWorker(placement_pb2.RegisterWorkerRequest(worker=self.worker), timeout=max(self.rpc_timeout, 10.0))
            except grpc.RpcError as exc:
                log.info("registering with %s failed: %s %s", address, exc.code(), exc.details())
                continue
            self.registered = True
            log.info("registered worker %s with the placement driver via %s", self.worker.worker_id, address)
            return True
        return False
