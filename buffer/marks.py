"""Two small files kept beside the outbox, so that what the database itself cannot say survives it.

``outbox.seq_high`` (JSON ``{"handed": n, "ceiling": m}``): ``handed`` is the highest sequence
number handed out when the file was written, ``ceiling`` a number no claimed row (so nothing the
county has seen) is above.  It is rewritten rarely: when the outbox opens and closes, on the first
put of a new outbox, and when a claim comes within half of :data:`SEQ_MARGIN` of the ceiling (then
the ceiling moves ``SEQ_MARGIN`` past the highest number handed out).  An outbox file that is
missing or empty while this file says numbers were handed out is a loss: the owner raises it (a
recovery report) and numbers on past the ceiling.

``outbox.db.recovery`` (JSON): a repair in progress (``phase`` ``salvaging``: the damaged file's new
name; found on start, the repair was interrupted and starts over) or finished but not yet reported
(``phase`` ``done``: the report, raised again on every start until the owner says it was reported).

Both are written atomically (a temporary file, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SEQ_MARGIN = 100_000
SALVAGING = "salvaging"
DONE = "done"


def seq_high_path(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.stem}.seq_high")


def recovery_path(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.name}.recovery")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash or power cut leaves the old or the new file."""
    tmp = path.with_name(f"{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _sync_folder(path.parent)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class SeqHigh:
    handed: int  # the highest sequence number handed out when written
    ceiling: int  # no claimed row is numbered above this


def read_seq_high(db_path: Path) -> SeqHigh | None:
    """``None`` when the file is missing or unreadable (the caller says so in the log)."""
    try:
        data = json.loads(seq_high_path(db_path).read_bytes())
        handed, ceiling = data["handed"], data["ceiling"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(handed, int) and isinstance(ceiling, int) and 0 <= handed <= ceiling):
        return None
    return SeqHigh(handed, ceiling)


def write_seq_high(db_path: Path, mark: SeqHigh) -> None:
    data = {"handed": mark.handed, "ceiling": mark.ceiling}
    write_atomic(seq_high_path(db_path), json.dumps(data).encode())


@dataclass(frozen=True, slots=True)
class RecoveryMark:
    phase: str  # SALVAGING or DONE
    at: float
    moved_to: str | None  # the damaged file's name (beside the outbox); None: nothing was moved
    old_size: int  # database + WAL bytes before the repair
    problem: str
    seq_floor: int = 0  # DONE: numbering goes on above this
    recovered_rows: int = 0
    unreadable_ranges: int = 0
    detail: str = ""


def read_recovery(db_path: Path) -> RecoveryMark | None:
    try:
        data = json.loads(recovery_path(db_path).read_bytes())
        mark = RecoveryMark(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        # A torn mark (the folder was not synced?): the repair it described cannot be trusted to
        # have finished, but its file name is lost too; what is left is checked again on open.
        return RecoveryMark(SALVAGING, 0.0, None, 0, "unreadable repair mark")
    if mark.phase not in (SALVAGING, DONE):
        return RecoveryMark(SALVAGING, mark.at, mark.moved_to, mark.old_size, mark.problem)
    return mark


def write_recovery(db_path: Path, mark: RecoveryMark) -> None:
    data = {
        "phase": mark.phase,
        "at": mark.at,
        "moved_to": mark.moved_to,
        "old_size": mark.old_size,
        "problem": mark.problem,
        "seq_floor": mark.seq_floor,
        "recovered_rows": mark.recovered_rows,
        "unreadable_ranges": mark.unreadable_ranges,
        "detail": mark.detail,
    }
    write_atomic(recovery_path(db_path), json.dumps(data).encode())
