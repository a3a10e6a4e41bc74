"""The durable, prioritised outbox.

``Outbox`` is an ``async with`` component owning one aiosqlite connection and two named tasks:
``outbox-writer`` (group commit) and, for the process that owns the database,
``outbox-maintain`` (retention, TTL, quota, lease expiry).  Every database operation is one
transaction run whole in aiosqlite's worker thread (see :mod:`buffer.store`), so concurrent
``put`` calls share a single ``executemany`` + ``COMMIT`` and a claim is atomic against other
claimers without any lock in Python.

Re-sending after a lost ack: when a lease runs out (or a batch is released, or the process
restarts), the batch's rows go back to *pending* but keep their ``batch_id``.  ``claim`` takes
rows in priority order; when the first row it meets belongs to such a batch it returns that whole
batch again under the same ``batch_id`` (``Claim.resent``), so the receiver can de-duplicate by
batch id.  A late ack of the original send still counts.

Its two jobs have two narrow interfaces (:mod:`buffer.ports`): ``Outbox.queue`` (the queue) and
``Outbox.records`` (the record log, read and revised), both this one outbox on its one connection.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import Any, TypeVar

import aiosqlite

from buffer import diskio, ids, marks, salvage, schema, store
from buffer.errors import InvalidRecordError, OutboxClosedError, OutboxError, translate
from buffer.ports import Queue, RecordLog
from buffer.record import Lane, Record, State, Stored
from buffer.results import AckResult, Claim, MaintenanceResult, OutboxStats, RecoveryReport
from buffer.settings import OutboxSettings

T = TypeVar("T")

OverflowCallback = Callable[[Mapping[str, int], str], None]

_LANE_NAMES = {lane: lane.name.lower() for lane in Lane}
_QUOTA_CHECK_EVERY = 32  # group commits between two looks at the used size
_DISK_LOOK_S = 1.0  # seconds between two looks at the file system's free space (statvfs)
_NEAR_FULL_BYTES = 64 * 1024 * 1024  # closer than this to keep_room_bytes: every put checks the room
_FAILURE_LOG_S = 60.0  # a failing put is logged once, then once a minute with a count
_PRUNE_CHUNK = 2000


@dataclass(slots=True)
class _Pending:
    """Records one put is waiting to see committed."""

    records: Sequence[Record]
    future: asyncio.Future[list[int]]
    durable: bool


class Outbox:
    """Durable outbox of opaque records in priority lanes (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        settings: OutboxSettings = OutboxSettings(),  # noqa: B008 - frozen
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
        on_overflow: OverflowCallback | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        self._clock = clock
        self._log = logger or logging.getLogger("hutgw.buffer")
        self._on_overflow = on_overflow
        self.recovery: RecoveryReport | None = None
        self.owner = False  # True when this process holds the outbox lock (the daemon)
        self._db: aiosqlite.Connection | None = None
        self._con: sqlite3.Connection | None = None
        self._st = store.StoreState()
        self._tg: asyncio.TaskGroup | None = None
        self._lock_fd: int | None = None
        self._queue: list[_Pending] = []
        self._queued_rows = 0
        self._wake = asyncio.Event()
        self._maintain_soon = asyncio.Event()
        self._closing = False
        self._open = False
        self._write_bytes0: int | None = None
        self._duplicates = 0
        self._stale_acks = 0
        self._lease_expired = 0
        self._puts = 0
        self._overflow = False
        self._resumed = 0
        self._recovered_seq_floor = 0
        self._maint_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._commit_started: float | None = None  # time.monotonic() of the commit in progress
        self._sync_started: float | None = None  # time.monotonic() of the fsync in progress
        self._sync_waiters: list[tuple[int, asyncio.Future[Any], Any]] = []
        self._sync_wake = asyncio.Event()
        self._sync_started_mark = 0  # write commits covered by the fsync in progress or done
        self._synced_mark = 0  # write commits covered by the last finished fsync
        self._unsynced_since: float | None = None  # oldest commit not covered by an fsync begun
        self._writer_done = False
        self._fsyncs = 0
        self._sync_task: asyncio.Task[None] | None = None
        self._seq_mark: marks.SeqHigh | None = None  # outbox.seq_high as last read or written
        self._seq_mark_logged_at: float | None = None
        self._disk_free: int | None = None
        self._disk_looked_at: float | None = None
        self._put_failure_logged_at: float | None = None
        self._put_failures_unlogged = 0

    # ------------------------------------------------------------------------ the two interfaces

    @property
    def queue(self) -> Queue:
        """This outbox as the queue (put, claim, ack, release, leases, export, stats)."""
        return self

    @property
    def records(self) -> RecordLog:
        """This outbox as the record log (get, history, unattributed, list, revise)."""
        return self

    # ---------------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Outbox:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.owner = self._take_lock()
        try:
            await self._open_db()
        except BaseException:
            await self._close_db()
            self._drop_lock()
            raise
        self._write_bytes0 = diskio.write_bytes()
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._writer_task = self._tg.create_task(self._writer(), name="outbox-writer")
        self._sync_task = self._tg.create_task(self._syncer(), name="outbox-sync")
        if self.owner and self.settings.maintain_interval_s is not None:
            self._maint_task = self._tg.create_task(
                self._maintainer(self.settings.maintain_interval_s), name="outbox-maintain"
            )
        self._open = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._open = False
        self._closing = True
        self._wake.set()
        try:
            if self._maint_task is not None:
                self._maint_task.cancel()  # the maintainer waits forever: stop it
            if self._tg is not None:
                await self._tg.__aexit__(None, None, None)
        finally:
            self._tg = None
            self._maint_task = None
            if self.owner and self._db is not None:
                await self._write_seq_mark()
            await self._close_db()
            self._drop_lock()

    def _take_lock(self) -> bool:
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _drop_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    async def _in_thread(self, fn: Callable[[salvage.Guard], T]) -> T:
        """Run ``fn(guard)`` in a worker thread; when this task is cancelled (the daemon is asked
        to stop while it starts), ask ``fn`` to stop through the guard and wait for it to return
        (it looks at the guard between steps and during every query), then pass the cancellation on."""
        stop = threading.Event()
        guard = salvage.Guard(stop, self.settings.salvage_max_s)
        work = asyncio.ensure_future(asyncio.to_thread(fn, guard))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.set()
            with contextlib.suppress(BaseException):
                await work
            raise

    async def _open_db(self) -> None:
        s = self.settings
        if self.owner:
            self._seq_mark = await asyncio.to_thread(marks.read_seq_high, self.path)
            mark = await asyncio.to_thread(marks.read_recovery, self.path)
            if mark is not None and mark.phase == marks.SALVAGING:
                await self._in_thread(functools.partial(self._recover_again, mark))
            elif mark is not None:  # repaired, but the report may never have reached anyone
                self._report_from(mark)
        existed = diskio.database_bytes(self.path) > 0
        if s.check_on_open:
            problem = await self._in_thread(functools.partial(salvage.problem, self.path))
            if problem is not None:
                if not self.owner:
                    raise translate(
                        sqlite3.DatabaseError(f"database disk image is malformed: {problem}"),
                        "opening the outbox",
                    )
                await self._in_thread(functools.partial(self._recover, problem))
        try:
            self._db = await aiosqlite.connect(str(self.path), isolation_level=None, timeout=s.busy_timeout_s)
            self._con = self._db._conn
            await self._run(
                "opening the outbox",
                functools.partial(
                    schema.configure,
                    page_size=s.page_size,
                    wal_autocheckpoint=s.wal_autocheckpoint_pages,
                    journal_size_limit=s.journal_size_limit_bytes,
                    synchronous="NORMAL",
                    max_page_count=s.max_page_count,
                ),
                durable=False,  # the opening is fsynced once, at its end
            )
            if await self._run(
                "opening the outbox", functools.partial(store.load, st=self._st), durable=False
            ):
                self._log.warning("outbox: id and queue tables disagreed with the records; rebuilt them")
            seq_mark = self._seq_mark
            fresh = self.recovery is None and self._st.next_seq == 1  # no number handed out yet
            if self.owner and fresh and seq_mark is not None and seq_mark.handed > 0:
                await asyncio.to_thread(self._lost, seq_mark, existed)
            if self.recovery is not None and self._st.next_seq <= self._recovered_seq_floor:
                self._st.next_seq = self._recovered_seq_floor + 1
                await self._run("opening the outbox", functools.partial(store.save_hwm_tx, st=self._st))
            if self.owner:
                self._resumed = await self._run(
                    "resuming in-flight batches", functools.partial(store.resume, st=self._st), durable=False
                )
                if self._resumed:
                    self._log.info(
                        "outbox: %d in-flight rows from the last run are pending again", self._resumed
                    )
            if self.owner:
                await self._write_seq_mark()
            await self._synced(self._st.write_commits)  # one fsync for the whole opening
        except sqlite3.Error as exc:
            raise translate(exc, "opening the outbox") from exc

    # ------------------------------------------------------------------ repair and loss (on open)
    #
    # A repair is written down before it starts (``outbox.db.recovery``, phase ``salvaging``) and
    # its report when it ends (phase ``done``): a repair the daemon was stopped or killed in starts
    # over on the next start, and its report is raised again on every start until the owner says
    # it was reported (:meth:`recovery_reported`).  See :mod:`buffer.marks`.

    def _recover(self, problem: str, guard: salvage.Guard) -> None:
        """Move the damaged file aside and salvage what can be read (runs in a worker thread)."""
        now = self._clock()
        target = salvage.aside_path(self.path, now)
        mark = marks.RecoveryMark(
            marks.SALVAGING, now, target.name, diskio.database_bytes(self.path), problem
        )
        marks.write_recovery(self.path, mark)
        moved = salvage.move_aside(self.path, now, target)
        self._log.error("outbox: database damaged (%s); moved aside to %s, salvaging", problem, moved)
        self._salvage(mark, guard)

    def _recover_again(self, mark: marks.RecoveryMark, guard: salvage.Guard) -> None:
        """A repair was interrupted (the daemon stopped or was killed during it): start it over
        from the file moved aside, into a new database in place of the partial one."""
        name = mark.moved_to
        moved = None if name is None or "/" in name else self.path.with_name(name)
        if moved is None or not moved.name.startswith(f"{self.path.name}.corrupt-") or not moved.exists():
            # Stopped before the file was moved (or the mark is unreadable): the damaged file, if
            # any, is still in place and the integrity check finds it again.
            marks.remove(marks.recovery_path(self.path))
            return
        self._log.warning(
            "outbox: the repair of %s was interrupted (stopped or killed); starting it over", moved.name
        )
        for suffix in ("", "-wal", "-shm"):  # the partial copy (the damaged file is never touched)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(self.path) + suffix)
        self._salvage(mark, guard)

    def _salvage(self, mark: marks.RecoveryMark, guard: salvage.Guard) -> None:
        assert mark.moved_to is not None
        moved = self.path.with_name(mark.moved_to)
        s = self.settings
        dst = sqlite3.connect(self.path, isolation_level=None, timeout=s.busy_timeout_s)
        try:
            schema.configure(
                dst,
                page_size=s.page_size,
                wal_autocheckpoint=s.wal_autocheckpoint_pages,
                journal_size_limit=s.journal_size_limit_bytes,
            )
            got = salvage.salvage(moved, dst, page_size_hint=s.page_size, guard=guard)
        finally:
            dst.close()
        # Rows lost with the damaged pages may have had sequence numbers above every recovered one;
        # skip past any number they could have used (and past anything claimed, per seq_high) so
        # the county never sees a number twice.
        floor = got.seq_high + mark.old_size // 64
        if self._seq_mark is not None:
            floor = max(floor, self._seq_mark.ceiling)
        done = marks.RecoveryMark(
            marks.DONE,
            mark.at,
            mark.moved_to,
            mark.old_size,
            mark.problem,
            seq_floor=floor,
            recovered_rows=got.rows,
            unreadable_ranges=got.unreadable_ranges,
            detail=got.detail,
        )
        marks.write_recovery(self.path, done)
        self._report_from(done)
        assert self.recovery is not None
        self._log.error("outbox: %s", self.recovery.alert_text())

    def _lost(self, seq_mark: marks.SeqHigh, existed: bool) -> None:
        """The database is new (no number handed out) but ``outbox.seq_high`` says this outbox
        handed out numbers: the file was emptied or removed.  A loss to report; numbering goes
        on past anything claimed (runs in a worker thread)."""
        what = "empty" if existed else "missing or empty (0 bytes)"
        detail = (
            f"{self.path.name} was {what} although this gateway had already numbered "
            f"{seq_mark.handed} records (outbox.seq_high): readings not yet delivered may be lost; "
            f"numbering goes on above {seq_mark.ceiling}"
        )
        mark = marks.RecoveryMark(
            marks.DONE, self._clock(), None, 0, detail, seq_floor=seq_mark.ceiling, detail=detail
        )
        marks.write_recovery(self.path, mark)
        self._report_from(mark)
        self._log.error("outbox: %s", detail)

    def _report_from(self, mark: marks.RecoveryMark) -> None:
        self._recovered_seq_floor = max(self._recovered_seq_floor, mark.seq_floor)
        self.recovery = RecoveryReport(
            moved_to=None if mark.moved_to is None else self.path.with_name(mark.moved_to),
            recovered_rows=mark.recovered_rows,
            unreadable_ranges=mark.unreadable_ranges,
            detail=mark.detail,
            at=mark.at,
        )

    async def recovery_reported(self) -> None:
        """The owner raised the alert for :attr:`recovery` (stored it): it is not raised again on
        the next start.  Until this is called, every start reports the same recovery again."""
        if self.owner and self.recovery is not None:
            await asyncio.to_thread(marks.remove, marks.recovery_path(self.path))

    # ------------------------------------------------------------------- outbox.seq_high (marks)

    def _seq_mark_due(self) -> bool:
        handed = self._st.next_seq - 1
        mark = self._seq_mark
        if mark is None:
            return True
        return handed > mark.ceiling - marks.SEQ_MARGIN // 2 or (mark.handed == 0 and handed > 0)

    async def _write_seq_mark(self, *, retry: bool = True) -> None:
        """Write ``outbox.seq_high`` (owner only): at open and close, and when :meth:`_seq_mark_due`.
        A failure (a full disk) is logged, and tried again, at most once a minute (``retry=False``:
        not before that minute is over); it changes nothing else."""
        handed = self._st.next_seq - 1
        old = self._seq_mark
        new = marks.SeqHigh(handed, max(handed + marks.SEQ_MARGIN, 0 if old is None else old.ceiling))
        if old == new:
            return
        failed_at = self._seq_mark_logged_at
        if not retry and failed_at is not None and time.monotonic() - failed_at < 60.0:
            return
        try:
            await asyncio.to_thread(marks.write_seq_high, self.path, new)
        except OSError as exc:
            self._seq_mark_logged_at = time.monotonic()
            self._log.warning("outbox: could not write %s: %s", marks.seq_high_path(self.path).name, exc)
            return
        self._seq_mark_logged_at = None
        self._seq_mark = new

    async def _close_db(self) -> None:
        if self._db is not None:
            db, self._db, self._con = self._db, None, None
            with contextlib.suppress(Exception):
                await db.close()

    async def _run(self, doing: str, fn: Callable[..., T], *args: Any, durable: bool = True) -> T:
        """Run ``fn(con, *args)`` whole in the database thread: one hop, one transaction.

        ``durable``: return only once what it committed is fsynced (see :meth:`_synced`).  Commits
        nobody was promised anything about (claims, acks, pruning) pass ``False``: they are synced
        within ``settings.unsynced_max_s``.
        """
        result, mark = await self._execute(doing, fn, *args)
        if durable and mark:
            await self._synced(mark)
        return result

    async def _synced(self, mark: int) -> None:
        """Return once an fsync that began after write commit number ``mark`` finished."""
        if mark <= self._synced_mark:
            return
        task = self._sync_task
        if task is None or task.done():  # opening or closing: no syncer, sync here
            mark = self._st.write_commits
            try:
                await asyncio.to_thread(diskio.fsync_wal, str(self.path))
            except OSError as exc:
                raise translate(exc, "syncing the outbox to disk") from exc
            self._synced_mark = max(self._synced_mark, mark)
            self._sync_started_mark = max(self._sync_started_mark, mark)
            self._fsyncs += 1
            if self._st.write_commits <= self._synced_mark:
                self._unsynced_since = None
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sync_waiters.append((mark, fut, None))
        self._sync_wake.set()
        await fut

    async def _execute(self, doing: str, fn: Callable[..., T], *args: Any) -> tuple[T, int]:
        """``fn``'s result and the number of the commit it made (0: it wrote nothing)."""
        db, con = self._db, self._con
        if db is None or con is None:
            raise OutboxClosedError()
        try:
            # aiosqlite's public methods run one statement per hop; its worker-thread entry point
            # lets a whole transaction run in one hop.
            result: tuple[T, int] = await db._execute(store.run, con, self._st, fn, *args)  # type: ignore[no-untyped-call]
        except OutboxError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise translate(exc, doing) from exc
        finally:
            if self._unsynced_since is None and self._st.write_commits > self._sync_started_mark:
                self._unsynced_since = time.monotonic()
                self._sync_wake.set()
        return result

    # ------------------------------------------------------------------------------------- syncer
    #
    # The connection commits with synchronous=NORMAL and this task fsyncs the write-ahead log in a
    # worker thread of its own, so the database thread goes on committing the next group while the
    # card flushes the last one; one fsync covers every commit that finished before it started.
    # Durable waiters are released by the first fsync that covers their commit; without durable
    # waiters the log is still fsynced once the oldest un-fsynced commit is unsynced_max_s old.

    async def _syncer(self) -> None:
        try:
            await self._sync_loop()
        finally:  # cancelled or failed: nobody may wait for an fsync that will never come
            for _, fut, _value in self._sync_waiters:
                if not fut.done():
                    fut.set_exception(OutboxClosedError())
            self._sync_waiters = []

    async def _sync_loop(self) -> None:
        db_path = str(self.path)
        while True:
            if not self._sync_waiters:
                since = self._unsynced_since
                if since is None:
                    if self._closing and self._writer_done:
                        return
                    self._sync_wake.clear()
                    await self._sync_wake.wait()
                    continue
                left = since + self.settings.unsynced_max_s - time.monotonic()
                if left > 0 and not (self._closing and self._writer_done):
                    self._sync_wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._sync_wake.wait(), left)
                    continue
            mark = self._st.write_commits
            if mark <= self._synced_mark:
                self._unsynced_since = None  # synced meanwhile (on open, by _synced)
            else:
                self._sync_started_mark = mark
                self._unsynced_since = None
                self._sync_started = time.monotonic()
                try:
                    await asyncio.to_thread(diskio.fsync_wal, db_path)
                except OSError as exc:
                    err = translate(exc, "syncing the outbox to disk")
                    self._log.error("outbox: %s", err)
                    self._sync_started_mark = self._synced_mark
                    self._unsynced_since = time.monotonic()
                    self._fail_waiters(mark, err)
                    await asyncio.sleep(min(1.0, self.settings.unsynced_max_s))
                    continue
                finally:
                    self._sync_started = None
                self._synced_mark = mark
                self._fsyncs += 1
            keep: builtins.list[tuple[int, asyncio.Future[Any], Any]] = []
            for m, fut, value in self._sync_waiters:
                if m <= self._synced_mark:
                    if not fut.done():
                        fut.set_result(value)
                else:
                    keep.append((m, fut, value))
            self._sync_waiters = keep

    def _fail_waiters(self, mark: int, err: Exception) -> None:
        keep: builtins.list[tuple[int, asyncio.Future[Any], Any]] = []
        for m, fut, value in self._sync_waiters:
            if m <= mark:
                if not fut.done():
                    fut.set_exception(err)
            else:
                keep.append((m, fut, value))
        self._sync_waiters = keep

    def _check_open(self) -> None:
        if not self._open or self._closing:
            raise OutboxClosedError()

    # ------------------------------------------------------------------------------ group commit

    async def put(self, record: Record, *, durable: bool | None = None) -> int:
        """Store one record; returns its sequence number once the row is committed.

        ``durable``: ``True`` returns only once the commit is fsynced (a power cut cannot undo it):
        use it for whatever is acknowledged to someone (an HTTP 201, a device told its reading was
        received).  ``False`` returns once the commit reached the operating system (a crash or kill
        of the process cannot undo it; a power cut can undo the last ``settings.unsynced_max_s``).
        ``None`` (default): durable for the lanes in ``settings.fsync_lanes`` (alerts, clinical).
        """
        return (await self._submit((record,), durable))[0]

    async def put_many(self, records: Sequence[Record], *, durable: bool | None = None) -> builtins.list[int]:
        """Store records in one transaction (see :meth:`put` for ``durable``)."""
        if not records:
            return []
        return await self._submit(tuple(records), durable)

    async def _submit(self, records: Sequence[Record], durable: bool | None) -> builtins.list[int]:
        self._check_open()
        for r in records:
            _validate(r)
        if durable is None:
            lanes = self.settings.fsync_lanes
            durable = any(r.lane in lanes for r in records)
        fut: asyncio.Future[builtins.list[int]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(records, fut, durable))
        self._queued_rows += len(records)
        self._wake.set()
        return await fut

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        wait_s = self.settings.group_commit_ms / 1000.0
        max_rows = self.settings.group_max_rows
        while True:
            if not self._queue:
                if self._closing:
                    self._writer_done = True
                    self._sync_wake.set()
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            # Let writers that are ready to run add their records to this group: keep yielding
            # while the group grows, for at most group_commit_ms.
            deadline = loop.time() + wait_s
            seen = self._queued_rows
            while seen < max_rows and wait_s > 0 and not self._closing:
                await asyncio.sleep(0)
                if self._queued_rows == seen or loop.time() >= deadline:
                    break
                seen = self._queued_rows
            group: builtins.list[_Pending] = []
            rows = 0
            while self._queue and (not group or rows + len(self._queue[0].records) <= max_rows):
                entry = self._queue.pop(0)
                group.append(entry)
                rows += len(entry.records)
            self._queued_rows -= rows
            self._commit_started = time.monotonic()
            try:
                await self._commit_group(group)
            finally:
                self._commit_started = None

    def health(self, *, stuck_after_s: float = 30.0) -> str | None:
        """``None`` while the group-commit writer runs and keeps up, else what is wrong (for the
        service watchdog): the writer task ended, or one commit has taken over ``stuck_after_s``
        (a hung SD card, a database locked by another process)."""
        if not self._open:
            return "outbox is closed"
        task = self._writer_task
        if task is None or task.done():
            return "outbox writer stopped"
        started = self._commit_started
        if started is not None and (waited := time.monotonic() - started) > stuck_after_s:
            return f"outbox writer stuck: one commit has not finished for {waited:.0f} s (storage hung?)"
        task = self._sync_task
        if task is None or task.done():
            return "outbox syncer stopped"
        started = self._sync_started
        if started is not None and (waited := time.monotonic() - started) > stuck_after_s:
            return f"outbox syncer stuck: one fsync has not finished for {waited:.0f} s (storage hung?)"
        return None

    def _keep_room(self) -> store.Room | None:
        """What a put must leave free (``None``: far from full, nothing to check).  The file
        system's free space is looked at once a second at most."""
        s = self.settings
        if not s.keep_room_bytes:
            return None
        now = time.monotonic()
        if self._disk_looked_at is None or now - self._disk_looked_at >= _DISK_LOOK_S:
            self._disk_looked_at = now
            self._disk_free = diskio.free_bytes(self.path.parent)
        free = self._disk_free
        if s.max_page_count is None and (free is None or free >= s.keep_room_bytes + _NEAR_FULL_BYTES):
            return None
        return store.Room(s.keep_room_bytes, free)

    def _log_put_failure(self, rows: int, err: OutboxError) -> None:
        """One line for the first failed put, then at most one a minute with how many failed since
        (a full disk fails every put: not a line, nor a traceback, per reading)."""
        now = time.monotonic()
        last = self._put_failure_logged_at
        if last is not None and now - last < _FAILURE_LOG_S:
            self._put_failures_unlogged += 1
            return
        more, self._put_failures_unlogged = self._put_failures_unlogged, 0
        self._put_failure_logged_at = now
        self._log.error(
            "outbox: could not store %d records: %s%s",
            rows,
            err,
            f" (and {more} more failed puts since the last line)" if more else "",
        )

    async def _commit_group(self, group: builtins.list[_Pending]) -> None:
        records = [r for p in group for r in p.records]
        try:
            seqs, mark = await self._execute(
                "storing records",
                functools.partial(
                    store.insert_group,
                    st=self._st,
                    hard_limit_bytes=self.settings.hard_limit_bytes,
                    keep_room=self._keep_room(),
                    records=records,
                    now=self._clock(),
                    measure=self._st.commits % _QUOTA_CHECK_EVERY == 0,
                ),
            )
        except Exception as exc:
            err = exc if isinstance(exc, OutboxError) else translate(exc, "storing records")
            self._log_put_failure(len(records), err)
            for p in group:
                if not p.future.done():
                    p.future.set_exception(err)
            return
        if self._put_failure_logged_at is not None:
            more, self._put_failures_unlogged = self._put_failures_unlogged, 0
            self._put_failure_logged_at = None
            self._log.warning(
                "outbox: storing records works again%s",
                f" ({more} more puts had failed since the last line)" if more else "",
            )
        self._puts += len(records)
        if self.owner and (self._seq_mark is None or self._seq_mark.handed == 0):
            await self._write_seq_mark(retry=False)  # once: this outbox now has numbered records
        # Lazy puts are answered now; durable ones when the syncer's next fsync covers this commit
        # (the writer goes on with the next group meanwhile).  mark 0: only duplicates, nothing
        # new; a durable caller then waits for whatever is committed so far (its earlier copy).
        if not mark:
            mark = self._st.write_commits
        i = 0
        for p in group:
            part = seqs[i : i + len(p.records)]
            i += len(p.records)
            dups = sum(1 for s in part if s < 0)
            if dups:
                self._duplicates += dups
            result = [abs(s) for s in part]
            if p.future.done():
                continue
            if p.durable and mark > self._synced_mark:
                task = self._sync_task
                if task is None or task.done():
                    try:
                        await self._synced(mark)
                    except OutboxError as exc:
                        p.future.set_exception(exc)
                    else:
                        p.future.set_result(result)
                    continue
                self._sync_waiters.append((mark, p.future, result))
                self._sync_wake.set()
            else:
                p.future.set_result(result)
        if self._st.used_bytes > self.settings.quota_bytes:
            self._maintain_soon.set()

    # ----------------------------------------------------------------------------- claim and ack

    async def claim(
        self,
        *,
        stream: str | None = None,
        max_count: int = 500,
        max_bytes: int = 256_000,
        lease_s: float = 30.0,
    ) -> Claim | None:
        """Lease the highest-priority pending rows (one stream) as a batch; ``None`` if none pending."""
        self._check_open()
        if max_count < 1 or max_bytes < 1:
            raise ValueError("max_count and max_bytes must be >= 1")
        now = self._clock()
        got = await self._run(
            "claiming a batch",
            functools.partial(
                store.claim,
                st=self._st,
                stream=stream,
                max_count=max_count,
                max_bytes=max_bytes,
                lease_until=now + lease_s,
                new_batch_id=ids.batch_id(now),
            ),
            durable=False,
        )
        if got is None:
            return None
        if self.owner and self._seq_mark_due():  # before anyone sends these numbers
            await self._write_seq_mark(retry=False)
        items = store.claimed_items(got.rows, got.batch_id)
        return Claim(got.batch_id, got.stream, items, now + lease_s, got.resent)

    async def ack(
        self, batch_id: str, accepted: Iterable[str], rejected: Mapping[str, str] | None = None
    ) -> AckResult:
        """Accepted ids -> delivered, rejected -> rejected (with reason), the rest of the batch -> pending.

        A row revised while in flight goes back to pending with its new payload instead.  An
        unknown or already answered batch id is ignored (counted in ``stale_acks``).
        """
        self._check_open()
        got = await self._run(
            "recording an ack",
            functools.partial(
                store.ack,
                st=self._st,
                batch_id=batch_id,
                accepted=set(accepted),
                rejected=dict(rejected or {}),
                now=self._clock(),
            ),
            durable=False,
        )
        if got.stale:
            self._stale_acks += 1
            self._log.info("outbox: ack for unknown or answered batch %s ignored", batch_id)
        return AckResult(got.delivered, got.rejected, got.requeued, got.unknown_ids, got.stale)

    async def release(self, batch_id: str) -> int:
        """Give an in-flight batch back (publish failed); it is re-sent later under the same id."""
        self._check_open()
        return await self._run(
            "releasing a batch",
            functools.partial(store.release, st=self._st, batch_id=batch_id),
            durable=False,
        )

    async def expire_leases(self) -> int:
        """In-flight rows whose lease ran out go back to pending, keeping their batch id."""
        self._check_open()
        n = await self._run(
            "expiring leases",
            functools.partial(store.expire_leases, st=self._st, now=self._clock()),
            durable=False,
        )
        if n:
            self._lease_expired += n
            self._log.info("outbox: %d in-flight rows had no ack in time; they will be re-sent", n)
        return n

    async def inflight_batches(self) -> builtins.list[tuple[str, str, int, State, float | None]]:
        """(batch_id, stream, rows, state, lease_until) of batches in flight or waiting to be re-sent."""
        self._check_open()
        rows = await self._run("listing batches", store.inflight_batches)
        return [(b, s, n, schema.CODE_STATE[st], lease) for b, s, n, st, lease in rows]

    # ------------------------------------------------------------------------ revise and receipts

    async def revise(self, id: str, payload: bytes, *, key: str | EllipsisType | None = ...) -> None:
        """Replace a record's payload (and key); it is delivered again under the same id.

        Pending: updated in place.  Delivered or rejected: updated and pending again.  In flight:
        updated now and back to pending when its batch is answered (never marked delivered by the
        ack of the old payload).  Unknown id: :class:`~buffer.errors.UnknownRecordError`.
        """
        self._check_open()
        if not isinstance(payload, bytes):
            raise InvalidRecordError("payload", "must be bytes")
        if key is not ... and key is not None and not isinstance(key, str):
            raise InvalidRecordError("key", "must be a string or None")
        await self._run(
            "revising a record",
            functools.partial(
                store.revise,
                st=self._st,
                record_id=id,
                payload=payload,
                key=None if isinstance(key, EllipsisType) else key,
                set_key=not isinstance(key, EllipsisType),
                now=self._clock(),
            ),
        )

    async def mark_delivered(self, ids: Iterable[str], *, exported_at: float | None = None) -> int:
        """Mark rows delivered from an import receipt; rows revised after ``exported_at`` stay pending."""
        self._check_open()
        return await self._run(
            "marking records delivered",
            functools.partial(
                store.mark_delivered,
                st=self._st,
                ids=builtins.list(ids),
                now=self._clock(),
                exported_at=exported_at,
            ),
        )

    # ----------------------------------------------------------------------------------- reading

    async def get(self, id: str) -> Stored | None:
        self._check_open()
        return await self._run("reading a record", functools.partial(store.get, record_id=id))

    async def history(
        self, key: str, *, since: float | None = None, limit: int = 100, kinds: Sequence[str] | None = None
    ) -> builtins.list[Stored]:
        """A resident's records (every state but rejected), newest first.

        Telemetry rows are found among the newest ``settings.history_telemetry_rows`` records only.
        """
        self._check_open()
        return await self._run(
            "reading history",
            functools.partial(
                store.history,
                st=self._st,
                key=key,
                since=since,
                limit=limit,
                kinds=None if kinds is None else tuple(kinds),
                telemetry_scan_rows=self.settings.history_telemetry_rows,
            ),
        )

    async def unattributed(
        self, *, stream: str | None = None, since: float | None = None, limit: int = 100
    ) -> builtins.list[Stored]:
        """Records without a key (readings nobody is attributed to yet), newest first."""
        self._check_open()
        return await self._run(
            "listing unattributed records",
            functools.partial(store.unkeyed, stream=stream, since=since, limit=limit),
        )

    async def list(
        self,
        *,
        state: State | None = None,
        stream: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Stored]:
        """Rows filtered by state/stream/kind: pending in claim order, others by sequence number."""
        self._check_open()
        code = None if state is None else schema.STATE_CODE[State(state)]
        return await self._run(
            "listing records",
            functools.partial(store.listing, state=code, stream=stream, kind=kind, limit=limit),
        )

    async def export_pending(self, *, since: float | None = None) -> AsyncIterator[Stored]:
        """Every undelivered (pending or in-flight) row in sequence order; marks nothing."""
        self._check_open()
        after = 0
        while True:
            page = await self._run(
                "exporting records",
                functools.partial(
                    store.undelivered_page, after_seq=after, since=since, limit=self.settings.read_chunk_rows
                ),
            )
            if not page:
                return
            for item in page:
                yield item
            after = page[-1].seq

    # ----------------------------------------------------------------------- stats and upkeep

    async def stats(self) -> OutboxStats:
        self._check_open()
        snap = await self._run("reading outbox statistics", functools.partial(store.snapshot, st=self._st))
        depth: dict[str, dict[str, int]] = {
            _LANE_NAMES[lane]: {state.value: 0 for state in State} for lane in Lane
        }
        for (lane, code), n in snap.depth.items():
            depth[_LANE_NAMES[Lane(lane)]][schema.CODE_STATE[code].value] = n
        now = self._clock()
        wb = diskio.write_bytes()
        dropped = {k: v for (name, k), v in snap.counters.items() if name == "dropped"}
        ttl = {k: v for (name, k), v in snap.counters.items() if name == "ttl_expired"}
        return OutboxStats(
            depth=depth,
            oldest_pending_age_s=None
            if snap.oldest_pending_created is None
            else max(0.0, now - snap.oldest_pending_created),
            bytes_on_disk=diskio.database_bytes(self.path),
            used_bytes=snap.used_bytes,
            quota_bytes=self.settings.quota_bytes,
            bytes_written=None if wb is None or self._write_bytes0 is None else wb - self._write_bytes0,
            seq_high=snap.seq_high,
            pruned=snap.counters.get(("pruned", ""), 0),
            dropped=dropped,
            ttl_expired=ttl,
            lease_expired=self._lease_expired,
            duplicates=self._duplicates,
            stale_acks=self._stale_acks,
            recovered_rows=None if self.recovery is None else self.recovery.recovered_rows,
            overflow=self._overflow,
            puts=self._puts,
            commits=self._st.commits,
            fsyncs=self._fsyncs,
            unsynced_commits=self._st.write_commits - self._synced_mark,
        )

    async def maintain(self) -> MaintenanceResult:
        """Lease expiry, retention prune, per-kind TTL expiry, quota enforcement (in that order).

        Work is done in short transactions so that puts keep flowing in between.
        """
        self._check_open()
        s = self.settings
        lease_expired = await self.expire_leases()
        now = self._clock()
        pruned = 0
        while True:
            got = await self._run(
                "pruning delivered records",
                functools.partial(
                    store.prune_finished, st=self._st, before=now - s.retention_s, limit=_PRUNE_CHUNK
                ),
                durable=False,
            )
            pruned += got.rows
            if got.rows < _PRUNE_CHUNK:
                break
        ttl: Counter[str] = Counter()
        for kind, ttl_s in s.ttl_s_by_kind.items():
            while True:
                got = await self._run(
                    "expiring records",
                    functools.partial(
                        store.expire_ttl, st=self._st, kind=kind, before=now - ttl_s, limit=_PRUNE_CHUNK
                    ),
                    durable=False,
                )
                ttl.update(got.by_kind)
                if got.rows < _PRUNE_CHUNK:
                    break
        if ttl:
            self._log.warning("outbox: expired undelivered records past their time to live: %s", dict(ttl))
        quota_pruned, dropped, used = await self._enforce_quota()
        overflow = used > s.quota_bytes
        self._overflow = overflow
        if dropped or overflow:
            if overflow:
                reason = (
                    f"outbox over its quota ({used} > {s.quota_bytes} bytes) with only alerts and clinical "
                    "readings left: nothing more can be dropped"
                )
            else:
                reason = f"outbox over its quota: dropped the oldest telemetry ({sum(dropped.values())} rows)"
            self._log.error("outbox: %s", reason)
            if self._on_overflow is not None:
                try:
                    self._on_overflow(dict(dropped), reason)
                except Exception:
                    self._log.exception("outbox: overflow callback failed")
        return MaintenanceResult(
            pruned=pruned,
            ttl_expired=dict(ttl),
            quota_pruned=quota_pruned,
            dropped=dict(dropped),
            lease_expired=lease_expired,
            used_bytes=used,
            overflow=overflow,
        )

    async def _enforce_quota(self) -> tuple[int, Counter[str], int]:
        s = self.settings
        used = await self._run("measuring the outbox", store.used_bytes)
        pruned = 0
        dropped: Counter[str] = Counter()
        if used <= s.quota_bytes:
            return pruned, dropped, used
        target = int(s.quota_bytes * s.quota_low_water)
        for step in (store.prune_oldest_finished, store.drop_oldest_telemetry):
            while used > target:
                rows = max(1, sum(self._st.depth.values()))
                per_row = max(1, used // rows)
                limit = max(50, min(_PRUNE_CHUNK, (used - target) // per_row + 1))
                got = await self._run(
                    "enforcing the quota", functools.partial(step, st=self._st, limit=limit)
                )
                used = got.used_bytes
                if step is store.prune_oldest_finished:
                    pruned += got.rows
                else:
                    dropped.update(got.by_kind)
                if got.rows < limit:
                    break
        self._st.used_bytes = used
        return pruned, dropped, used

    async def _maintainer(self, interval_s: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._maintain_soon.wait(), timeout=interval_s)
            self._maintain_soon.clear()
            try:
                await self.maintain()
            except OutboxClosedError:
                return
            except OutboxError as exc:
                self._log.error("outbox: maintenance failed: %s", exc)


def _validate(r: Record) -> None:
    if not isinstance(r, Record):
        raise InvalidRecordError("record", f"expected buffer.record.Record, got {type(r).__name__}")
    if not isinstance(r.id, str) or not r.id:
        raise InvalidRecordError("id", "must be a non-empty string")
    if not isinstance(r.stream, str) or not r.stream:
        raise InvalidRecordError("stream", "must be a non-empty string")
    if not isinstance(r.lane, Lane):
        try:
            Lane(r.lane)
        except (ValueError, TypeError):
            raise InvalidRecordError("lane", f"{r.lane!r} is not a Lane") from None
    if not isinstance(r.kind, str):
        raise InvalidRecordError("kind", "must be a string")
    if not isinstance(r.payload, bytes):
        raise InvalidRecordError("payload", "must be bytes")
    if r.key is not None and not isinstance(r.key, str):
        raise InvalidRecordError("key", "must be a string or None")
