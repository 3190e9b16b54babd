"""Publishing a finished file under its final name: write to a temp name, sync, rename.

A rename alone is atomic but not durable: after a power cut the new name may point at a
file whose data never reached the disk. Syncing the file before the rename, and its folder
after it, makes a published file either complete or absent.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

__all__ = ["publish", "temp_path"]

logger = logging.getLogger(__name__)

_NO_DIR_SYNC = {errno.EINVAL, errno.ENOTSUP, errno.ENOSYS}
"""Errors of filesystems that cannot sync a folder (some FUSE and network mounts)."""


def temp_path(path: Path) -> Path:
    """The hidden per-process temp name beside ``path`` (cache builds remove leftovers)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def publish(tmp: Path, path: Path) -> None:
    """Sync ``tmp`` to disk, rename it to ``path``, then sync the folder holding both."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)  # flushes the file's data whichever descriptor wrote it
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _NO_DIR_SYNC:
            raise
        logger.debug("%s: the filesystem cannot sync a folder (%s)", folder, err.strerror)
    finally:
        os.close(fd)
