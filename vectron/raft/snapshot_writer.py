"""The background snapshot writer: one snapshot file written off the Raft thread.

When the state machine supports :meth:`StateMachine.begin_snapshot`, its state
is fixed on the Raft thread (a pinned read transaction) and
:class:`BackgroundSnapshot` writes, fsyncs and renames the file into place on a
helper thread while the node keeps ticking (a long copy would otherwise stop
heartbeats and cost the group its leader). A snapshot installed from the leader
meanwhile wins: the background one is then discarded. pysyncobj's side of it
(reporting SERIALIZING meanwhile) is in ``pysyncobj_compat.SnapshotSerializer``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import BinaryIO

from vectron.raft.durable_file import fsync_dir
from vectron.raft.snapshot_file import LogEntryTuple, write_snapshot

__all__ = ["BackgroundSnapshot"]

logger = logging.getLogger(__name__)


class BackgroundSnapshot:
    """At most one snapshot of ``file_name`` being written on a helper thread."""

    def __init__(self, file_name: str, owner: str) -> None:
        self._file_name = file_name
        self._owner = owner
        self._thread: threading.Thread | None = None
        self._ok = False
        self._installs = 0
        self._rename_lock = threading.Lock()

    def start(
        self,
        write_image: Callable[[BinaryIO], None],
        last: LogEntryTuple,
        prev: LogEntryTuple,
        cluster: Sequence[str],
        image_applied_index: int = 0,
    ) -> None:
        """Write the snapshot on a new thread (see :meth:`running`, :meth:`succeeded`)."""
        installs = self._installs
        self._ok = False

        def run() -> None:
            tmp = self._file_name + ".tmp"
            try:
                write_snapshot(tmp, write_image, last, prev, cluster, image_applied_index)
                with self._rename_lock:
                    if self._installs != installs:
                        logger.info("background snapshot at %d discarded: a newer one was installed", last[1])
                        os.unlink(tmp)
                    else:
                        os.replace(tmp, self._file_name)
                        fsync_dir(self._file_name)
                        self._ok = True
            except Exception:
                logger.exception("background snapshot of %s failed", self._owner)

        self._thread = threading.Thread(target=run, name=f"raft-snapshot-{self._owner}", daemon=True)
        self._thread.start()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def succeeded(self) -> bool:
        """Whether the last snapshot started was written and renamed into place."""
        return self._ok

    def installing(self, install: Callable[[], bool]) -> bool:
        """Run ``install`` (a snapshot from the leader being put in place; True
        once it is) so that no background rename races it."""
        with self._rename_lock:
            done = install()
            if done:
                self._installs += 1
        return done

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
