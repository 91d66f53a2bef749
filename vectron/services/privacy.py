"""Keeping a node's files private: its data folder holds bcrypt hashes, key hashes,
session secrets, the cluster password and every tenant's data.

:func:`make_private` is what the daemon runs at start: it sets the process umask
to 077 (everything created later, LMDB files, journals, snapshots, status files,
logs, generated secrets, is 0600 / 0700) and tightens what already exists under
the data folder (folders 0700, files 0600), e.g. state written by an older
version.
"""

from __future__ import annotations

import logging
import os
import stat

__all__ = ["make_private", "PRIVATE_UMASK"]

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077


def make_private(data_dir: str | os.PathLike[str]) -> int:
    """Set umask 077, create ``data_dir`` (0700) if missing and tighten everything in
    it; returns how many modes were changed. Symbolic links are not followed."""
    os.umask(PRIVATE_UMASK)
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    changed = 0
    for root, dirs, files in os.walk(data_dir):
        for name in (root, *(os.path.join(root, f) for f in files)):
            st = os.lstat(name)
            if stat.S_ISLNK(st.st_mode):
                continue
            want = 0o700 if stat.S_ISDIR(st.st_mode) else stat.S_IMODE(st.st_mode) & 0o700 or 0o600
            if stat.S_IMODE(st.st_mode) != want:
                os.chmod(name, want)
                changed += 1
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    if changed:
        log.info("tightened the modes of %d file(s)/folder(s) under %s (now owner only)", changed, data_dir)
    return changed
