"""Power-cut recovery: a damaged database is moved aside, never deleted, and its readable rows salvaged."""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


async def check_recovered(
    path: Path, original: dict[str, Stored], clock: ManualClock, damaged: bytes, *, resend_ok: bool = False
) -> int:
    """``resend_ok``: the damage may have taken the ``done`` rows of some delivered records (they sit
    on pages of their own): those records come back pending, to be sent again, never lost."""
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
            if original[s.id].state is State.DELIVERED and resend_ok:
                assert s.state in (State.DELIVERED, State.PENDING)
            elif original[s.id].state in (State.DELIVERED, State.REJECTED):
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
        assert ob.recovery == rep  # not reported yet: raised again on every start until it is
        await ob.recovery_reported()
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
    got = await check_recovered(db_path, original, clock, damaged, resend_ok=True)
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


async def test_a_torn_header_page_is_read_around_from_the_raw_pages(
    db_path: Path, clock: ManualClock
) -> None:
    """Page 1 (header and schema, rewritten at every checkpoint) destroyed: SQLite reads nothing."""
    original = await make_database(db_path, clock)
    scribble(db_path, range(0, 1))
    damaged = db_path.read_bytes()
    got = await check_recovered(db_path, original, clock, damaged)
    assert got >= ROWS - 10  # page 1 held no records; at most a stray leaf is lost


async def test_header_and_middle_pages_damaged(db_path: Path, clock: ManualClock) -> None:
    original = await make_database(db_path, clock)
    pages = db_path.stat().st_size // 1024
    scribble(db_path, range(0, 1))
    scribble(db_path, range(pages // 2, pages // 2 + 5), seed=3)
    damaged = db_path.read_bytes()
    got = await check_recovered(db_path, original, clock, damaged)
    assert ROWS // 2 < got < ROWS


def test_the_raw_page_reader_finds_exactly_the_rows_sqlite_sees(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA page_size = 1024")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA wal_autocheckpoint = 0")  # half of the rows stay in the WAL
    con.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c BLOB, d REAL, e INTEGER)")
    rnd = random.Random(5)
    rows = [
        (i, f"text-{i}-é", rnd.randbytes(rnd.choice([0, 10, 900, 3000])), i / 7, -(i**3))
        for i in range(1, 400)
    ]
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows[:200])
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows[200:])
    con.execute("UPDATE t SET b = 'changed' WHERE a = 5")
    from buffer.rawpages import table_rows

    found = {rowid: tuple(v) for rowid, v in table_rows(db, columns=5, page_size_hint=4096)}
    truth = {r[0]: r for r in con.execute("SELECT * FROM t")}
    con.close()
    assert {k: (k, *v[1:]) for k, v in found.items()} == truth  # the WAL copy of a page wins


def test_the_raw_page_reader_survives_garbage(tmp_path: Path) -> None:
    from buffer.rawpages import table_rows

    rnd = random.Random(11)
    for n in range(30):
        f = tmp_path / f"junk{n}.db"
        body = bytearray(rnd.randbytes(rnd.choice([0, 100, 1024, 5000, 20_000])))
        if n % 2 and len(body) > 100:
            body[:16] = b"SQLite format 3\x00"
            body[16:18] = (1024).to_bytes(2, "big")
            for p in range(0, len(body), 1024):  # many pages that claim to be table leaves
                body[p + (100 if p == 0 else 0)] = 0x0D
        f.write_bytes(bytes(body))
        for rowid, values in table_rows(f, columns=3, page_size_hint=1024):
            assert isinstance(rowid, int) and len(values) == 3


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=6000),
    leafy=st.booleans(),
    columns=st.integers(1, 16),
    wal=st.none() | st.binary(max_size=3000),
)
def test_the_raw_page_reader_never_raises_on_random_bytes(
    body: bytes, leafy: bool, columns: int, wal: bytes | None
) -> None:
    from buffer.rawpages import table_rows

    data = bytearray(body)
    if leafy and len(data) > 120:
        data[:16] = b"SQLite format 3\x00"
        data[16:18] = (512).to_bytes(2, "big")
        for p in range(0, len(data), 512):
            data[p + (100 if p == 0 else 0)] = 0x0D
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.db"
        f.write_bytes(bytes(data))
        if wal is not None:
            w = bytearray(wal)
            if len(w) >= 32:
                w[0:4] = (0x377F0682).to_bytes(4, "big")
                w[8:12] = (512).to_bytes(4, "big")
                for off in range(32, len(w) - 24, 512 + 24):  # frames with the header's salts
                    w[off + 8 : off + 16] = w[16:24]
            (Path(d) / "x.db-wal").write_bytes(bytes(w))
        for rowid, values in table_rows(f, columns=columns, page_size_hint=512):
            assert isinstance(rowid, int) and len(values) == columns
