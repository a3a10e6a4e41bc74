"""Power-cut recovery: integrity check, moving a damaged file aside, salvaging readable rows.

Pure Python, best effort, in the spirit of ``sqlite3 .recover``: the damaged file is opened
read-only (its WAL is read too, nothing is checkpointed into it) and the ``records`` table is
walked in rowid (``seq``) order in chunks.  When a chunk hits a damaged page, the walker probes
forward (exponential steps, then a binary search) for the first sequence number that can be read
again, so every row on a readable leaf page is kept.  Rows whose columns do not make sense are
skipped.  The damaged file is never deleted or written to.

The walk only ever moves forward (a damaged page can hand back rows out of order, even a ``seq`` of
0: such rows are skipped, never followed back), so it ends.  It is bounded in time and can be
stopped from another thread (:class:`Guard`): past the time limit what is left is treated as
unreadable (and read from the raw pages as far as the limit allows); a stop request raises
:class:`Interrupted`, and the caller starts the salvage over on its next start.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from buffer import rawpages
from buffer.schema import rebuild_derived

_SALVAGE_COLUMNS = (
    "seq, id, stream, lane, kind, key, state, created_at, changed_at, attempts, batch_id, "
    "lease_until, revised, revised_at, reason, payload"
)
_CHUNK = 1000
_MAX_SEQ = (1 << 63) - 1


_PROGRESS_STEPS = 10_000  # SQLite virtual-machine steps between two looks at the guard


def _read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


class Interrupted(Exception):
    """The salvage (or the integrity check) was asked to stop; nothing it did is to be trusted."""


class Guard:
    """A stop request (set from another thread) and a time limit, asked between steps of the
    salvage and, through a progress handler, during every SQLite query it runs."""

    def __init__(
        self,
        stop: threading.Event | None = None,
        max_s: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stop = stop
        self._monotonic = monotonic
        self.max_s = max_s
        self._deadline = None if max_s is None else monotonic() + max_s
        self.timed_out = False

    def stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def expired(self) -> bool:
        if not self.timed_out and self._deadline is not None and self._monotonic() >= self._deadline:
            self.timed_out = True
        return self.timed_out

    def keep_going(self) -> bool:
        return not self.stopped() and not self.expired()

    def check(self) -> None:
        """Raise :class:`Interrupted` if a stop was requested."""
        if self.stopped():
            raise Interrupted("the salvage was stopped")

    def watch(self, con: sqlite3.Connection) -> None:
        """Interrupt ``con``'s running query when asked to stop or past the time limit."""
        con.set_progress_handler(lambda: 0 if self.keep_going() else 1, _PROGRESS_STEPS)


def problem(path: Path, guard: Guard | None = None) -> str | None:
    """``None`` when the database at ``path`` passes ``PRAGMA quick_check`` (or does not exist yet).

    With a ``guard``, a stop request interrupts the check (:class:`Interrupted`).
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        # Read-only: closing it must not checkpoint the WAL into a file that may be damaged.
        con = sqlite3.connect(_read_only_uri(path), uri=True, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        return str(exc)
    if guard is not None:
        con.set_progress_handler(lambda: 1 if guard.stopped() else 0, _PROGRESS_STEPS)
    try:
        rows = con.execute("PRAGMA quick_check").fetchall()
        if [tuple(r) for r in rows] == [("ok",)]:
            return None
        return "; ".join(str(r[0]) for r in rows[:5])
    except sqlite3.DatabaseError as exc:
        if guard is not None:
            guard.check()
        return str(exc)
    finally:
        con.close()


def aside_path(path: Path, now: float) -> Path:
    """Where :func:`move_aside` puts the database: ``<name>.corrupt-<UTC time>`` (a free name)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    return target


def move_aside(path: Path, now: float, target: Path | None = None) -> Path:
    """Rename the database (and its -wal/-shm) to ``target`` (default :func:`aside_path`); never delete."""
    if target is None:
        target = aside_path(path, now)
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            os.replace(side, Path(str(target) + suffix))
    return target


@dataclass(frozen=True, slots=True)
class Salvaged:
    rows: int
    unreadable_ranges: int
    skipped_rows: int
    seq_high: int
    detail: str


def _valid(row: Sequence[object]) -> bool:
    (
        seq,
        id_,
        stream,
        lane,
        kind,
        key,
        state,
        created_at,
        changed_at,
        attempts,
        batch_id,
        lease_until,
        revised,
        revised_at,
        reason,
        payload,
    ) = row
    return (
        isinstance(seq, int)
        and isinstance(id_, str)
        and bool(id_)
        and isinstance(stream, str)
        and isinstance(lane, int)
        and 0 <= lane <= 2
        and isinstance(kind, str)
        and (key is None or isinstance(key, str))
        and isinstance(state, int)
        and 0 <= state <= 3
        and isinstance(created_at, int | float)
        and isinstance(changed_at, int | float)
        and isinstance(attempts, int)
        and (batch_id is None or isinstance(batch_id, str))
        and (lease_until is None or isinstance(lease_until, int | float))
        and isinstance(revised, int)
        and (revised_at is None or isinstance(revised_at, int | float))
        and (reason is None or isinstance(reason, str))
        and isinstance(payload, bytes)
    )


class _Walker:
    def __init__(self, src: sqlite3.Connection, guard: Guard) -> None:
        self.src = src
        self.guard = guard

    def readable_from(self, seq: int) -> bool:
        """Reading from ``seq`` works and moves forward: no error, and the first row it returns (if
        any: the end of the table counts as readable) is numbered ``seq`` or higher."""
        try:
            rows = self.src.execute(
                f"SELECT {_SALVAGE_COLUMNS} FROM records NOT INDEXED WHERE seq >= ? ORDER BY seq LIMIT 1",
                (seq,),
            ).fetchall()
        except sqlite3.DatabaseError:
            self.guard.check()
            return False
        return not rows or (isinstance(rows[0][0], int) and rows[0][0] >= seq)

    def next_readable(self, lo: int) -> int | None:
        """The smallest start > ``lo + 1`` from which reading works again (``None``: nothing further,
        or the time limit is reached).

        Reading from ``lo + 1`` is known to fail (or not to move forward).
        """
        bad = lo + 1
        step = 1
        good = None
        while bad + step <= _MAX_SEQ:
            if not self.guard.keep_going():
                self.guard.check()
                return None
            if self.readable_from(bad + step):
                good = bad + step
                break
            bad += step
            step *= 2
        if good is None:
            return None
        while good - bad > 1:
            if not self.guard.keep_going():
                self.guard.check()
                break  # out of time: resume from the first start known to work
            mid = (bad + good) // 2
            if self.readable_from(mid):
                good = mid
            else:
                bad = mid
        return good


def salvage(
    src_path: Path, dst: sqlite3.Connection, *, page_size_hint: int = 1024, guard: Guard | None = None
) -> Salvaged:
    """Copy every readable row of ``src_path``'s ``records`` table into ``dst`` (schema already there).

    First through SQLite (rowid walk around damaged pages), then, for the sequence numbers SQLite
    could not reach, straight from the pages (:mod:`buffer.rawpages`).  ``guard``: a stop request
    raises :class:`Interrupted` (``dst`` then holds part of the rows: start over); past its time
    limit the salvage keeps what it has read so far.
    """
    guard = guard or Guard()
    try:
        src = sqlite3.connect(_read_only_uri(src_path), uri=True, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        walked = _Walked(0, [(1, _MAX_SEQ)], 0, 0, 0, f"SQLite could not open the damaged file: {exc}")
    else:
        try:
            guard.watch(src)
            walked = _walk(src, dst, guard)
            _copy_counters(src, dst)
        finally:
            src.close()
    guard.check()
    raw_rows = _from_pages(src_path, dst, walked.gaps, page_size_hint, guard) if walked.gaps else 0
    guard.check()
    _copy_leases(src_path, dst, guard)
    _copy_done(src_path, dst, page_size_hint, guard)
    guard.check()
    dst.execute("BEGIN IMMEDIATE")
    rebuild_derived(dst)  # also drops rows repeating an id (garbled copies)
    dst.execute("COMMIT")
    rows = int(dst.execute("SELECT count(*) FROM records").fetchone()[0])
    high = int(dst.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0])
    detail = f"{rows} rows copied, {len(walked.gaps)} unreadable ranges"
    if raw_rows:
        detail += f", {raw_rows} of them read from the raw pages"
    if walked.skipped:
        detail += f", {walked.skipped} garbled rows skipped"
    if walked.note:
        detail += f" ({walked.note})"
    if guard.timed_out:
        detail += (
            f"; stopped at the time limit ({guard.max_s:.0f} s): rows not reached by then were not "
            "copied (they are still in the file moved aside)"
        )
    return Salvaged(rows, len(walked.gaps), walked.skipped, max(high, walked.hwm), detail)


@dataclass(frozen=True, slots=True)
class _Walked:
    rows: int
    gaps: list[tuple[int, int]]  # inclusive seq ranges SQLite could not read
    skipped: int
    high: int
    hwm: int
    note: str = ""


_INSERT = f"INSERT OR IGNORE INTO records({_SALVAGE_COLUMNS}) VALUES ({','.join('?' * 16)})"


def _walk(src: sqlite3.Connection, dst: sqlite3.Connection, guard: Guard) -> _Walked:
    walker = _Walker(src, guard)
    # Lets SQLite read a file shorter than its header says (a truncated file) instead of refusing
    # it outright; nothing is written through this read-only connection.
    src.execute("PRAGMA writable_schema = ON")
    try:
        src.execute(f"SELECT {_SALVAGE_COLUMNS} FROM records LIMIT 0").fetchall()
    except sqlite3.DatabaseError as exc:
        guard.check()
        return _Walked(0, [(1, _MAX_SEQ)], 0, 0, _meta_hwm(src), f"the records table cannot be read: {exc}")
    # ``lo`` (the last sequence number read) only ever grows: every turn of the loop either reads
    # rows past it or probes forward past it, so the walk ends.
    lo = 0
    rows_done = 0
    skipped = 0
    gaps: list[tuple[int, int]] = []
    high = 0
    while True:
        guard.check()
        if guard.expired():
            gaps.append((lo + 1, _MAX_SEQ))
            break
        start = lo
        batch: list[tuple[object, ...]] = []
        returned = 0
        failed = False
        try:
            cur = src.execute(
                f"SELECT {_SALVAGE_COLUMNS} FROM records NOT INDEXED WHERE seq > ? ORDER BY seq LIMIT ?",
                (lo, _CHUNK),
            )
            for row in cur:
                returned += 1
                seq = row[0]
                if not isinstance(seq, int) or seq <= lo:
                    skipped += 1  # a damaged page handed back a row out of order: never step back
                    continue
                lo = seq
                if _valid(row):
                    batch.append(tuple(row))
                else:
                    skipped += 1
        except sqlite3.DatabaseError:
            failed = True
        guard.check()
        if batch:
            dst.execute("BEGIN IMMEDIATE")
            before = dst.total_changes
            dst.executemany(_INSERT, batch)
            rows_done += dst.total_changes - before
            dst.execute("COMMIT")
            high = max(high, int(batch[-1][0]))  # type: ignore[call-overload]
        if not failed and returned == 0:
            break  # the end of the table
        if lo > start:
            continue  # went forward: read on (after a failure, from the last good row)
        if guard.expired():
            continue  # the loop's top records what is left as unreadable
        # The first row after ``lo`` cannot be read (or comes back out of order): skip to the next
        # sequence number from which reading works and moves forward.
        nxt = walker.next_readable(lo)
        if nxt is None:
            gaps.append((lo + 1, _MAX_SEQ))
            break
        gaps.append((lo + 1, nxt - 1))
        lo = nxt - 1
    return _Walked(rows_done, gaps, skipped, high, _meta_hwm(src))


def _from_pages(
    src_path: Path, dst: sqlite3.Connection, gaps: list[tuple[int, int]], page_size_hint: int, guard: Guard
) -> int:
    """Rows read from the raw pages whose seq falls in a gap; of several copies, the latest changed."""
    best: dict[int, tuple[object, ...]] = {}
    try:
        for rowid, values in rawpages.table_rows(
            src_path, columns=16, page_size_hint=page_size_hint, keep_going=guard.keep_going
        ):
            if values[0] is not None or not any(a <= rowid <= b for a, b in gaps):
                continue
            row = (rowid, *values[1:])
            if not _valid(row):
                continue
            old = best.get(rowid)
            if old is None or (row[8], row[9]) > (old[8], old[9]):
                best[rowid] = row
    except OSError:
        return 0
    if not best:
        return 0
    dst.execute("BEGIN IMMEDIATE")
    before = dst.total_changes
    dst.executemany(_INSERT, [best[k] for k in sorted(best)])
    added = dst.total_changes - before
    dst.execute("COMMIT")
    return added


def _meta_hwm(src: sqlite3.Connection) -> int:
    try:
        row = src.execute("SELECT value FROM meta WHERE name = 'seq_hwm'").fetchone()
    except sqlite3.DatabaseError:
        return 0
    if row is None or not isinstance(row[0], int):
        return 0
    return int(row[0])


def _copy_counters(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    try:
        rows = src.execute("SELECT name, kind, value FROM counters").fetchall()
    except sqlite3.DatabaseError:
        return
    good = [r for r in rows if isinstance(r[0], str) and isinstance(r[1], str) and isinstance(r[2], int)]
    dst.execute("BEGIN IMMEDIATE")
    dst.executemany(
        "INSERT INTO counters(name, kind, value) VALUES (?, ?, ?) "
        "ON CONFLICT(name, kind) DO UPDATE SET value = value + excluded.value",
        good,
    )
    dst.execute("COMMIT")


def _copy_leases(src_path: Path, dst: sqlite3.Connection, guard: Guard) -> None:
    """Best effort: batches in flight (``leases``, ``flight``) for the salvaged pending rows, so that
    the owner's resume sends them again under their old batch ids.  Unreadable: they go out in new
    batches instead (the receiver still de-duplicates them by reading id)."""
    try:
        src = sqlite3.connect(_read_only_uri(src_path), uri=True, isolation_level=None, timeout=10.0)
    except sqlite3.Error:
        return
    try:
        guard.watch(src)
        src.execute("PRAGMA writable_schema = ON")
        leases = src.execute("SELECT b, batch_id, lease_until FROM leases").fetchall()
        flight = src.execute("SELECT seq, b FROM flight").fetchall()
    except sqlite3.DatabaseError:
        return
    finally:
        src.close()
    leases = [
        r for r in leases if isinstance(r[0], int) and isinstance(r[1], str) and isinstance(r[2], float)
    ]
    flight = [r for r in flight if isinstance(r[0], int) and isinstance(r[1], int)]
    dst.execute("BEGIN IMMEDIATE")
    dst.executemany("INSERT OR IGNORE INTO leases(b, batch_id, lease_until) VALUES (?, ?, ?)", leases)
    dst.executemany("INSERT OR IGNORE INTO flight(seq, b) VALUES (?, ?)", flight)
    dst.execute("COMMIT")  # rebuild_derived then drops flight rows without a pending record


def _copy_done(src_path: Path, dst: sqlite3.Connection, page_size_hint: int, guard: Guard) -> None:
    """Best effort: which salvaged rows an ack delivered (``acks``, ``done``), through SQLite, else
    from the raw pages (the newest copy of each row).  A ``done`` row older than its record's last
    change is a stale copy (the record was revised after that ack) and is dropped, as is one for a
    record that was not salvaged; such records are sent again (the receiver de-duplicates them)."""
    acks: dict[int, tuple[object, ...]] = {}
    done: dict[int, tuple[object, ...]] = {}
    try:
        src = sqlite3.connect(_read_only_uri(src_path), uri=True, isolation_level=None, timeout=10.0)
        try:
            guard.watch(src)
            src.execute("PRAGMA writable_schema = ON")
            acks = {int(r[0]): tuple(r) for r in src.execute("SELECT b, batch_id, at, n FROM acks")}
            done = {int(r[0]): tuple(r) for r in src.execute("SELECT seq, b, at FROM done")}
        finally:
            src.close()
    except sqlite3.Error:
        guard.check()
        acks, done = _done_from_pages(src_path, page_size_hint, guard)
    good_acks = [
        r
        for r in acks.values()
        if isinstance(r[1], str) and isinstance(r[2], int | float) and isinstance(r[3], int)
    ]
    good_done = [r for r in done.values() if isinstance(r[1], int) and isinstance(r[2], int | float)]
    dst.execute("BEGIN IMMEDIATE")
    dst.executemany("INSERT OR IGNORE INTO acks(b, batch_id, at, n) VALUES (?, ?, ?, ?)", good_acks)
    dst.executemany("INSERT OR IGNORE INTO done(seq, b, at) VALUES (?, ?, ?)", good_done)
    dst.execute(
        "DELETE FROM done WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.seq = done.seq AND r.state = 0 "
        "AND r.batch_id IS NULL AND r.changed_at <= done.at AND coalesce(r.revised_at, 0) <= done.at)"
    )
    dst.execute("COMMIT")  # rebuild_derived then drops acks without done rows, flight rows of done ones


def _done_from_pages(
    src_path: Path, page_size_hint: int, guard: Guard
) -> tuple[dict[int, tuple[object, ...]], dict[int, tuple[object, ...]]]:
    """``acks`` rows (4 values: b, text, real, int) and ``done`` rows (3 values: seq, int, real) read
    from the raw pages; of several copies of a row, the one with the latest time.  (A REAL without
    a fraction is stored as an integer; ``leases`` rows, also 3 values, have text second.)"""
    acks: dict[int, tuple[object, ...]] = {}
    done: dict[int, tuple[object, ...]] = {}
    try:
        for columns, into in ((4, acks), (3, done)):
            for rowid, values in rawpages.table_rows(
                src_path, columns=columns, page_size_hint=page_size_hint, keep_going=guard.keep_going
            ):
                if values[0] is not None:
                    continue
                row = (rowid, *values[1:])
                if columns == 4 and not (isinstance(row[1], str) and isinstance(row[3], int)):
                    continue
                if columns == 3 and not isinstance(row[1], int):
                    continue
                if not isinstance(row[2], int | float):  # a whole REAL is stored as an integer
                    continue
                old = into.get(rowid)
                if old is None or row[2] > old[2]:  # type: ignore[operator]
                    into[rowid] = row
    except OSError:
        return {}, {}
    return acks, done
