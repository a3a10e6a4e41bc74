"""Writing a file so that a crash or power cut leaves either the old file or the new one.

A file that already exists keeps its owner, group and mode: the config is installed
``root:hutgw 0640`` (docs/deployment.md) so that the service can read it, and a rewrite by
``hutgw enroll`` as root must not take that away.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _copy_owner(fd: int, old: os.stat_result) -> None:
    """The old file's owner and group (as root; otherwise at least the group when we are in it)."""
    if (old.st_uid, old.st_gid) == (os.geteuid(), os.getegid()):
        return
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:
        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, old.st_gid)


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path``: a synced temporary file beside it, then renamed over the old one.

    A new file gets ``mode`` whatever the umask; an existing one keeps its mode, owner and
    group (copied to the temporary file before the rename; the owner only when we may)."""
    try:
        old: os.stat_result | None = path.stat()
    except FileNotFoundError:
        old = None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    final_mode = (old.st_mode & 0o7777) if old is not None else mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
    try:
        try:
            if old is not None:
                _copy_owner(fd, old)
            os.fchmod(fd, final_mode)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def replace_keeping(tmp: Path, target: Path) -> None:
    """Rename a finished ``tmp`` over ``target``; when ``target`` exists, ``tmp`` first gets its
    owner, group and mode (for writers that stream into their temporary file: an export, a
    support bundle with ``--force``)."""
    try:
        old = target.stat()
    except FileNotFoundError:
        os.replace(tmp, target)
        return
    fd = os.open(tmp, os.O_RDONLY)
    try:
        _copy_owner(fd, old)
        os.fchmod(fd, old.st_mode & 0o7777)
    finally:
        os.close(fd)
    os.replace(tmp, target)
