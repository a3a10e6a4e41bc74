"""Power-cut recovery: a damaged database is moved aside, never deleted, and its readable rows salvaged."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from buffer import CorruptDatabaseError, Lane, Outbox, OutboxSettings, State, Stored
from tests.buffer.conftest import ManualClock, rec

SETTINGS = OutboxSettings(maintain_interval_s=None)
ROWS = 1500


async def make_database(path: Path, clock: ManualClock) -> dict[str, Stored]:
    """A real outbox file with rows in every state; returns what it holds."""
    async with Outbox(path, settings=SETTINGS, clock=clock) as ob:
        await ob.put_many([rec(Lane(i % 3), payload=random.Random(i).randbytes(200)) for i in range(ROWS)])
        c = await ob.claim(max_count=300)
        assert c is not None
        await ob.ack(c.batch_id, c.ids[:250], {c.ids[250]: "bad"})
        await ob.claim(max_count=100)  # left in flight
        rows = {s.id: s for s in await ob.list(limit=10**6)}
    assert len(rows) == ROWS
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    return rows


def scribble(path: Path, pages: range, seed: int = 7) -> None:
    page_size = 1024
    rnd = random.Random(seed)
    with open(path, "r+b") as f:
        for p in pages:
            f.seek(p * page_size)
            f.write(rnd.randbytes(page_size))


def same_record(a: Stored, b: Stored) -> bool:
    return (a.id, a.seq, a.stream, a.lane, a.kind, a.payload, a.key, a.created_at) == (
        b.id,
        b.seq,
        b.stream,
        b.lane,
        b.kind,
        b.payload,
        b.key,
        b.created_at,
    )


async def check_recovered(path: Path, original: dict[str, Stored], clock: ManualClock, damaged: bytes) -> int:
    async with Outbox(path, settings=SETTINGS, clock=clock) as ob:
        rep = ob.recovery
        assert rep is not None
        assert rep.moved_to.exists() and rep.moved_to.name.startswith("outbox.db.corrupt-")
        assert rep.moved_to.read_bytes() == damaged  # moved aside untouched, never deleted
        salvaged = await ob.list(limit=10**6)
        assert len(salvaged) == rep.recovered_rows
        for s in salvaged:
            assert same_record(s, original[s.id])
            assert s.state is not State.INFLIGHT  # resumed
            if original[s.id].state in (State.DELIVERED, State.REJECTED):
                assert s.state is original[s.id].state
        st = await ob.stats()
        assert st.recovered_rows == rep.recovered_rows and st.inflight == 0
        assert str(rep.recovered_rows) in rep.alert_text()
        # the fresh database works and never reuses a sequence number
        new_seq = await ob.put(rec())
        assert new_seq > max(s.seq for s in original.values())
        c = await ob.claim(max_count=10**4, max_bytes=10**9)
        assert c is not None
    async with Outbox(path, settings=SETTINGS, clock=clock) as ob:
        assert ob.recovery is None  # healthy now
    return rep.recovered_rows


async def test_scribbled_pages_in_the_middle(db_path: Path, clock: ManualClock) -> None:
    original = await make_database(db_path, clock)
    pages = db_path.stat().st_size // 1024
    scribble(db_path, range(pages // 2, pages // 2 + 6))
    damaged = db_path.read_bytes()
    got = await check_recovered(db_path, original, clock, damaged)
    assert ROWS // 2 < got < ROWS


async def test_several_damaged_regions(db_path: Path, clock: ManualClock) -> None:
    original = await make_database(db_path, clock)
    pages = db_path.stat().st_size // 1024
    for i, start in enumerate((pages // 5, pages // 2, 4 * pages // 5)):
        scribble(db_path, range(start, start + 3), seed=i)
    damaged = db_path.read_bytes()
    got = await check_recovered(db_path, original, clock, damaged)
    assert ROWS // 2 < got < ROWS


async def test_truncated_file(db_path: Path, clock: ManualClock) -> None:
    original = await make_database(db_path, clock)
    with open(db_path, "r+b") as f:
        f.truncate(db_path.stat().st_size // 2)
    damaged = db_path.read_bytes()
    got = await check_recovered(db_path, original, clock, damaged)
    assert ROWS // 4 < got < ROWS


async def test_a_file_that_is_not_a_database(db_path: Path, clock: ManualClock) -> None:
    db_path.write_bytes(b"this is not SQLite\n" * 500)
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        assert ob.recovery is not None and ob.recovery.recovered_rows == 0
        assert ob.recovery.moved_to.read_bytes() == b"this is not SQLite\n" * 500
        assert await ob.put(rec()) >= 1


async def test_committed_rows_still_in_the_wal_are_salvaged(
    db_path: Path, clock: ManualClock, tmp_path: Path
) -> None:
    """A power cut leaves the WAL beside the file; the salvage reads it too."""
    original = await make_database(db_path, clock)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA wal_autocheckpoint = 0")
    con.execute("UPDATE records SET reason = 'in the wal' WHERE seq <= 10")
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    for suffix in ("", "-wal"):  # copy while the WAL is still live, as after a power cut
        shutil.copy(str(db_path) + suffix, snapshot / ("outbox.db" + suffix))
    con.close()
    db = snapshot / "outbox.db"
    pages = db.stat().st_size // 1024
    scribble(db, range(pages // 2, pages // 2 + 4))
    damaged = db.read_bytes()
    await check_recovered(db, original, clock, damaged)
    salvaged = sqlite3.connect(db)
    assert salvaged.execute("SELECT count(*) FROM records WHERE reason = 'in the wal'").fetchone()[0] == 10
    salvaged.close()


async def test_a_second_process_does_not_salvage_behind_the_owners_back(
    db_path: Path, clock: ManualClock
) -> None:
    await make_database(db_path, clock)
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as owner:
        assert owner.owner
        con = sqlite3.connect(db_path)  # move everything into the main file, so the damage is seen
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        pages = db_path.stat().st_size // 1024
        scribble(db_path, range(pages // 2, pages // 2 + 6))
        damaged = db_path.read_bytes()
        with pytest.raises(CorruptDatabaseError) as info:
            async with Outbox(db_path, settings=SETTINGS, clock=clock):
                pass
        assert info.value.hint and "stop the daemon" in info.value.hint
        assert db_path.read_bytes() == damaged
        assert list(db_path.parent.glob("*.corrupt-*")) == []


async def test_lookup_tables_that_disagree_with_the_records_are_rebuilt(
    db_path: Path, clock: ManualClock
) -> None:
    original = await make_database(db_path, clock)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("DELETE FROM queue WHERE k % 3 = 0")  # as if written by a buggy or interrupted tool
    con.execute("DELETE FROM ids WHERE h % 2 = 0")
    con.close()
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        assert ob.recovery is None
        for rid, s in original.items():
            got = await ob.get(rid)
            assert got is not None and got.seq == s.seq
        pending = {i for i, s in original.items() if s.state in (State.PENDING, State.INFLIGHT)}
        claimed: set[str] = set()
        while (c := await ob.claim(max_count=500)) is not None:
            claimed.update(c.ids)
        assert claimed == pending
