"""Disk figures: bytes this process wrote (``/proc/self/io``) and the size of the database files;
fsync of the write-ahead log."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PROC_IO = Path("/proc/self/io")


def write_bytes(proc_io: Path = PROC_IO) -> int | None:
    """``write_bytes`` of this process (what it sent to the storage layer), ``None`` if unavailable."""
    try:
        text = proc_io.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "write_bytes":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def database_bytes(path: Path) -> int:
    """Size of the database file plus its write-ahead log (0 for files that do not exist)."""
    total = 0
    for p in (path, Path(str(path) + "-wal")):
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total


def free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged process may still write on ``folder``'s file system (``None``: unknown)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def fsync_wal(db_path: str) -> None:
    """fsync the write-ahead log: every commit written before this call is then durable.

    Safe while the database thread goes on appending (what is appended meanwhile may or may not be
    covered; the caller only counts commits that finished before the call).  Without a WAL file
    (checkpointed and removed on a close) the main file is synced instead.
    """
    for path in (db_path + "-wal", db_path):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return
