"""Errors of the outbox.

The family root is :class:`OutboxError`; ``BufferError`` is kept as an alias so that
``buffer.errors.BufferError`` (the name the rest of the code base uses for this layer's family)
works, without code inside the package shadowing the builtin of the same name.
"""

from __future__ import annotations

import errno
import sqlite3

from hutgw_errors import HutError


class OutboxError(HutError):
    """Family root for the durable outbox."""


BufferError = OutboxError


class OutboxClosedError(OutboxError):
    """The outbox was used outside its ``async with`` block."""

    def __init__(self, message: str = "the outbox is not open") -> None:
        super().__init__(message, hint="this is a programming error: open the outbox with `async with` first")


class UnknownRecordError(OutboxError):
    """No record with that id is stored."""

    def __init__(self, record_id: str) -> None:
        super().__init__(
            f"no record with id {record_id!r} in the outbox",
            hint="the record may have been pruned after its retention period; check `hutgw buffer list`",
        )
        self.record_id = record_id


class InvalidRecordError(OutboxError):
    """A record handed to ``put`` has a field of the wrong type; nothing was stored."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(
            f"invalid record: {field}: {detail}", hint="this is a programming error in the caller"
        )
        self.field = field


class StorageError(OutboxError):
    """SQLite or the file system failed; the operation was not committed."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            message,
            hint=hint
            or "check the SD card (dmesg for I/O errors, `df -h`, read-only remount); the gateway keeps "
            "readings it could not store unacknowledged on the device where it can",
        )


class DiskFullError(StorageError):
    """The file system is full: nothing more can be committed."""

    def __init__(self, message: str = "the disk holding the outbox is full") -> None:
        super().__init__(
            message,
            hint="free space on the data partition (old logs, core dumps) or lower buffer.quota_mb so the "
            "daemon's periodic maintenance prunes delivered readings earlier; check `hutgw status`",
        )


class CorruptDatabaseError(StorageError):
    """The database file is damaged and could not be repaired in place."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint="stop the daemon and start it again: on start it moves the damaged file aside "
            "(outbox.db.corrupt-*) and salvages every readable row; replace the SD card if it recurs",
        )


class OutboxBusyError(StorageError):
    """Another process holds the database locked for longer than the busy timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint="another hutgw process (a CLI export?) is holding the outbox; wait for it to finish",
        )


_FULL = {sqlite3.SQLITE_FULL}
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def translate(exc: BaseException, doing: str) -> OutboxError:
    """Turn a sqlite3/OS error raised while ``doing`` something into the outbox family."""
    if isinstance(exc, OutboxError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(exc)
        if primary in _FULL or "database or disk is full" in text:
            return DiskFullError(f"{doing}: {text}")
        if primary in _CORRUPT or "malformed" in text or "not a database" in text:
            return CorruptDatabaseError(f"{doing}: {text}")
        if primary in _BUSY or "locked" in text:
            return OutboxBusyError(f"{doing}: {text}")
        return StorageError(f"{doing}: {text}")
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return DiskFullError(f"{doing}: {exc}")
        return StorageError(f"{doing}: {exc}")
    return StorageError(f"{doing}: {exc!r}")
