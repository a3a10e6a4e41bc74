"""Where an ack writes: a fresh batch answered in flight goes to ``done`` (records rows untouched);
re-sent batches, rejections and receipts finish the ``records`` row itself.  Both read the same."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from buffer import Lane, Outbox, OutboxSettings, State
from buffer.settings import DAY_S
from tests.buffer.conftest import ManualClock, rec

SETTINGS = OutboxSettings(maintain_interval_s=None, retention_s=DAY_S)


def raw(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def test_an_ack_of_a_fresh_batch_leaves_the_records_rows_alone(
    db_path: Path, clock: ManualClock
) -> None:
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        await ob.put_many([rec(Lane.CLINICAL) for _ in range(5)])
        before = raw(db_path, "SELECT * FROM records ORDER BY seq")
        c = await ob.claim()
        assert c is not None
        clock.advance(3)
        got = await ob.ack(c.batch_id, c.ids)
        assert got.delivered == 5
        assert raw(db_path, "SELECT * FROM records ORDER BY seq") == before  # not one row rewritten
        assert raw(db_path, "SELECT count(*), min(at) FROM done") == [(5, clock.now)]
        assert raw(db_path, "SELECT batch_id, n FROM acks") == [(c.batch_id, 5)]
        for i in c.ids:
            s = await ob.get(i)
            assert s is not None
            assert (s.state, s.batch_id, s.attempts) == (State.DELIVERED, c.batch_id, 1)
        assert [s.id for s in await ob.list(state=State.DELIVERED)] == c.ids
        assert (await ob.stats()).depth["clinical"]["delivered"] == 5
        assert await ob.claim() is None


async def test_late_acks_and_rejections_finish_the_records_row(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        await ob.put_many([rec(Lane.CLINICAL) for _ in range(4)])
        c = await ob.claim(lease_s=1)
        assert c is not None
        clock.advance(2)
        await ob.expire_leases()  # pending again, batch id kept: a late ack finishes the row itself
        got = await ob.ack(c.batch_id, c.ids[:3], {c.ids[3]: "out of range"})
        assert (got.delivered, got.rejected) == (3, 1)
        assert raw(db_path, "SELECT count(*) FROM done") == [(0,)]
        assert sorted(raw(db_path, "SELECT state FROM records")) == [(2,), (2,), (2,), (3,)]
        assert (await ob.get(c.ids[3])).reason == "out of range"  # type: ignore[union-attr]


async def test_revising_a_row_delivered_through_done_sends_it_again(
    db_path: Path, clock: ManualClock
) -> None:
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        r = rec(Lane.CLINICAL)
        await ob.put(r)
        c = await ob.claim()
        assert c is not None
        await ob.ack(c.batch_id, c.ids)
        await ob.revise(r.id, b"corrected", key="res-2")
        s = await ob.get(r.id)
        assert s is not None and s.state is State.PENDING and s.payload == b"corrected"
        assert raw(db_path, "SELECT count(*) FROM done") == [(0,)]
        assert raw(db_path, "SELECT count(*) FROM acks") == [(0,)]
        c2 = await ob.claim()
        assert c2 is not None and c2.ids == [r.id] and c2.items[0].payload == b"corrected"
        await ob.ack(c2.batch_id, c2.ids)
        s = await ob.get(r.id)
        assert s is not None and (s.state, s.batch_id, s.attempts) == (State.DELIVERED, c2.batch_id, 2)


async def test_retention_and_quota_prune_rows_from_both_stores(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        await ob.put_many([rec(Lane.TELEMETRY, kind="heart_rate") for _ in range(6)])
        fresh = await ob.claim(max_count=3)
        late = await ob.claim(max_count=3, lease_s=1)
        assert fresh is not None and late is not None
        await ob.ack(fresh.batch_id, fresh.ids)  # -> done
        clock.advance(2)
        await ob.expire_leases()
        await ob.ack(late.batch_id, late.ids)  # -> records state 2
        clock.advance(DAY_S + 1)
        kept = rec(Lane.CLINICAL)
        await ob.put(kept)
        c = await ob.claim()
        assert c is not None
        await ob.ack(c.batch_id, c.ids)  # -> done, recent: kept
        result = await ob.maintain()
        assert result.pruned == 6
        assert raw(db_path, "SELECT count(*) FROM records") == [(1,)]
        assert raw(db_path, "SELECT count(*) FROM done") == [(1,)]
        assert raw(db_path, "SELECT count(*) FROM acks") == [(1,)]
        assert (await ob.stats()).pruned == 6
        assert (await ob.get(kept.id)).state is State.DELIVERED  # type: ignore[union-attr]


async def test_a_schema_2_database_opens_and_upgrades(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        await ob.put(rec())
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("DROP INDEX done_b")
    con.execute("DROP TABLE done")
    con.execute("DROP TABLE acks")
    con.execute("UPDATE meta SET value = 2 WHERE name = 'schema_version'")
    con.close()
    async with Outbox(db_path, settings=SETTINGS, clock=clock) as ob:
        c = await ob.claim()
        assert c is not None
        await ob.ack(c.batch_id, c.ids)
        assert (await ob.stats()).depth["clinical"]["delivered"] == 1
    assert raw(db_path, "SELECT value FROM meta WHERE name = 'schema_version'") == [(3,)]
