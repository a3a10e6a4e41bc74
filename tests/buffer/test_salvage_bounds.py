"""The repair of a damaged outbox ends, in bounded time, can be stopped, and an interrupted repair
starts over (and is reported) on the next start; numbers are never handed out twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from buffer import Lane, Outbox, OutboxSettings, marks, salvage, schema
from tests.buffer.conftest import ManualClock, rec

SETTINGS = OutboxSettings(maintain_interval_s=None)
PAGE = 1024


async def make_database(path: Path, rows: int, clock: ManualClock) -> int:
    """A real outbox file of ``rows`` records (some claimed: their numbers went to the county);
    returns the highest sequence number claimed."""
    async with Outbox(path, settings=SETTINGS, clock=clock) as ob:
        for start in range(0, rows, 2000):
            n = min(2000, rows - start)
            await ob.put_many(
                [rec(Lane(i % 3), payload=random.Random(start + i).randbytes(200)) for i in range(n)]
            )
        c = await ob.claim(max_count=500, max_bytes=10**9)
        assert c is not None
        return max(s.seq for s in c.items)


def records_leaves(path: Path) -> list[int]:
    con = sqlite3.connect(path)
    try:
        return [
            int(r[0])
            for r in con.execute(
                "SELECT pageno FROM dbstat WHERE name = 'records' AND pagetype = 'leaf' ORDER BY path"
            )
        ]
    finally:
        con.close()


def _varint_len(data: bytes | bytearray, at: int) -> int:
    for i in range(9):
        if data[at + i] < 0x80:
            return i + 1
    return 9


def zero_rowid(path: Path, pageno: int, *, from_end: int) -> None:
    """Rewrite the rowid of a cell of a table leaf as 0 (same varint length): SQLite then hands
    that row back, numbered 0, after rows numbered higher: out of order."""
    data = bytearray(path.read_bytes())
    base = (pageno - 1) * PAGE
    assert data[base] == 0x0D
    cells = int.from_bytes(data[base + 3 : base + 5], "big")
    at = base + 8 + 2 * (cells - from_end)
    cell = base + int.from_bytes(data[at : at + 2], "big")
    rowid_at = cell + _varint_len(data, cell)
    n = _varint_len(data, rowid_at)
    data[rowid_at : rowid_at + n] = b"\x80" * (n - 1) + b"\x00"
    path.write_bytes(bytes(data))


def scribble(path: Path, pageno: int) -> None:
    with open(path, "r+b") as f:
        f.seek((pageno - 1) * PAGE)
        f.write(b"\xff" * PAGE)


def fresh_destination(path: Path) -> sqlite3.Connection:
    dst = sqlite3.connect(path, isolation_level=None)
    schema.configure(dst, page_size=PAGE, wal_autocheckpoint=4000, journal_size_limit=1 << 23)
    return dst


def salvage_in_thread(src: Path, dst_path: Path, guard: salvage.Guard | None = None) -> salvage.Salvaged:
    """Run the salvage in a thread and give up after 30 s (the walk that went back and forth never
    ended: the test fails instead of hanging)."""
    out: list[salvage.Salvaged | BaseException] = []

    def work() -> None:
        dst = fresh_destination(dst_path)
        try:
            if guard is None:
                out.append(salvage.salvage(src, dst, page_size_hint=PAGE))
            else:
                out.append(salvage.salvage(src, dst, page_size_hint=PAGE, guard=guard))
        except BaseException as exc:  # handed to the test below
            out.append(exc)
        finally:
            dst.close()

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the salvage did not end within 30 s"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


async def test_rows_handed_back_out_of_order_do_not_send_the_walk_back(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A damaged page hands back a row numbered 0 just before a page that cannot be read: the walk
    used to go back to 0 and read the same rows again, forever."""
    db = tmp_path / "outbox.db"
    await make_database(db, 1500, clock)
    leaves = records_leaves(db)
    k = 10  # a leaf inside the first chunk the walk reads
    zero_rowid(db, leaves[k], from_end=2)  # the last row before the failure is numbered 0
    scribble(db, leaves[k + 1])
    got = salvage_in_thread(db, tmp_path / "fresh.db")
    assert got.rows > 1400  # everything but the two damaged leaves (and some via the raw pages)
    assert got.skipped_rows >= 1
    assert got.seq_high == 1500


async def test_out_of_order_rows_at_the_end_of_a_chunk_do_not_loop(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "outbox.db"
    await make_database(db, 3000, clock)
    for leaf in records_leaves(db)[5::40]:  # rows numbered 0 here and there, no failure at all
        zero_rowid(db, leaf, from_end=1)
    got = salvage_in_thread(db, tmp_path / "fresh.db")
    assert got.rows >= 3000 - 30
    assert got.seq_high == 3000


async def test_the_salvage_stops_at_its_time_limit(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "outbox.db"
    await make_database(db, 1500, clock)
    scribble(db, records_leaves(db)[100])
    now = [0.0]

    def monotonic() -> float:
        now[0] += 0.01  # every look at the clock: 10 ms
        return now[0]

    got = salvage_in_thread(db, tmp_path / "fresh.db", salvage.Guard(max_s=0.5, monotonic=monotonic))
    assert "time limit" in got.detail
    assert got.rows < 1500


async def test_a_stop_request_interrupts_the_salvage(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "outbox.db"
    await make_database(db, 1500, clock)
    scribble(db, records_leaves(db)[100])
    stop = threading.Event()
    stop.set()
    with pytest.raises(salvage.Interrupted):
        salvage_in_thread(db, tmp_path / "fresh.db", salvage.Guard(stop))


async def wait_for(predicate: object, timeout: float = 20.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.002)


async def test_an_open_cancelled_during_the_repair_returns_at_once_and_starts_over(
    db_path: Path, clock: ManualClock
) -> None:
    claimed = await make_database(db_path, 30_000, clock)
    scribble(db_path, records_leaves(db_path)[50])
    opening = asyncio.create_task(Outbox(db_path, settings=SETTINGS, clock=clock).__aenter__())
    mark = marks.recovery_path(db_path)
    await wait_for(lambda: mark.exists() and db_path.exists())
    assert marks.read_recovery(db_path) is not None
    assert marks.read_recovery(db_path).phase == marks.SALVAGING  # type: ignore[union-attr]
    t0 = time.monotonic()
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert time.monotonic() - t0 < 2.0  # the repair thread was stopped, not waited out
    assert marks.read_recovery(db_path).phase == marks.SALVAGING  # type: ignore[union-attr]
    # The next start repairs again from the file moved aside, and reports it.
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        rep = ob.recovery
        assert rep is not None and rep.moved_to is not None
        assert rep.recovered_rows > 29_000
        assert len(await ob.list(limit=10**6)) == rep.recovered_rows
        assert await ob.put(rec()) > claimed
        await ob.recovery_reported()
    moved = [p for p in db_path.parent.glob("outbox.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(moved) == 1  # one damaged file, kept


KILLED_OPENER = """
import asyncio, sys
from pathlib import Path
from buffer import Outbox, OutboxSettings
async def main() -> None:
    async with Outbox(Path(sys.argv[1]), settings=OutboxSettings(maintain_interval_s=None)):
        pass
asyncio.run(main())
"""


async def test_a_repair_killed_half_way_is_started_over_and_reported(
    db_path: Path, clock: ManualClock
) -> None:
    """SIGKILL during the repair left a half-filled new file that the next start took as healthy:
    no alert, and numbers handed out again."""
    claimed = await make_database(db_path, 30_000, clock)
    with open(db_path, "r+b") as f:
        f.truncate(db_path.stat().st_size // 2)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_OPENER, str(db_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        mark = marks.recovery_path(db_path)
        await wait_for(lambda: mark.exists() and db_path.exists() and db_path.stat().st_size > 0)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    assert marks.read_recovery(db_path) is not None
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        rep = ob.recovery
        assert rep is not None and rep.moved_to is not None and rep.moved_to.exists()
        assert rep.recovered_rows > 10_000
        assert await ob.put(rec()) > claimed  # never a number the county may have seen
        await ob.recovery_reported()
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        assert ob.recovery is None


async def test_a_missing_or_empty_outbox_that_existed_is_a_loss(db_path: Path, clock: ManualClock) -> None:
    claimed = await make_database(db_path, 1000, clock)
    seq_high = marks.read_seq_high(db_path)
    assert seq_high is not None and seq_high.handed == 1000 and seq_high.ceiling >= claimed
    for emptied in (False, True):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        if emptied:
            db_path.write_bytes(b"")
        async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
            rep = ob.recovery
            assert rep is not None and rep.moved_to is None and rep.recovered_rows == 0
            assert "outbox.seq_high" in rep.detail and "lost" in rep.alert_text()
            seq = await ob.put(rec())
            assert seq > seq_high.ceiling >= claimed
        async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
            assert ob.recovery == rep  # raised again until reported
            await ob.recovery_reported()
        async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
            assert ob.recovery is None
            assert await ob.put(rec()) == seq + 1
        seq_high = marks.read_seq_high(db_path)
        assert seq_high is not None and seq_high.handed == seq + 1


async def test_a_new_outbox_is_no_loss(db_path: Path, clock: ManualClock) -> None:
    for _ in range(2):
        async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
            assert ob.recovery is None
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        await ob.put(rec())
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        assert ob.recovery is None


async def test_seq_high_is_written_before_a_claim_hands_out_numbers_past_half_its_margin(
    db_path: Path, clock: ManualClock
) -> None:
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        await ob.put(rec())
        first = marks.read_seq_high(db_path)
        assert first is not None and first.handed == 1  # the first put is written down at once
        assert first.ceiling == 1 + marks.SEQ_MARGIN
        n = marks.SEQ_MARGIN // 2 + 10
        for start in range(0, n, 5000):
            await ob.put_many([rec(Lane.TELEMETRY, payload=b"x") for _ in range(min(5000, n - start))])
        assert marks.read_seq_high(db_path) == first  # puts alone do not write it
        c = await ob.claim(max_count=10)
        assert c is not None
        now = marks.read_seq_high(db_path)
        assert now is not None and now.handed == n + 1 and now.ceiling == n + 1 + marks.SEQ_MARGIN
