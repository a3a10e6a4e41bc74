"""What is fsynced when: acknowledged records before put returns, the rest within unsynced_max_s.

The outbox commits with synchronous=NORMAL and fsyncs the write-ahead log from its own syncer task
(see buffer/outbox.py); ``OutboxStats.fsyncs`` and ``unsynced_commits`` show what it did.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from buffer import Lane, Outbox, OutboxSettings, State
from tests.buffer.conftest import ManualClock, rec

LAZY = OutboxSettings(maintain_interval_s=None, unsynced_max_s=60.0)


async def test_alerts_and_clinical_puts_return_fsynced(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        for lane in (Lane.ALERTS, Lane.CLINICAL):
            before = (await ob.stats()).fsyncs
            await ob.put(rec(lane))
            st = await ob.stats()
            assert st.unsynced_commits == 0
            assert st.fsyncs > before


async def test_telemetry_put_returns_committed_but_not_yet_fsynced(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        await ob.put(rec(Lane.CLINICAL))  # start from a synced state
        before = (await ob.stats()).fsyncs
        r = rec(Lane.TELEMETRY, kind="heart_rate")
        await ob.put(r)
        st = await ob.stats()
        assert st.fsyncs == before and st.unsynced_commits == 1
        # ... yet committed: another connection (another process) sees the row at once
        con = sqlite3.connect(db_path)
        assert con.execute("SELECT count(*) FROM records WHERE id = ?", (r.id,)).fetchone()[0] == 1
        con.close()


async def test_the_caller_decides_when_it_acknowledges(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        await ob.put(rec(Lane.TELEMETRY, kind="heart_rate"), durable=True)  # e.g. an HTTP 201 follows
        assert (await ob.stats()).unsynced_commits == 0
        await ob.put(rec(Lane.ALERTS), durable=False)
        assert (await ob.stats()).unsynced_commits == 1
        await ob.put_many([rec(Lane.TELEMETRY, kind="heart_rate"), rec(Lane.ALERTS)])  # one alert: durable
        assert (await ob.stats()).unsynced_commits == 0


async def test_claims_and_acks_are_not_fsynced_one_by_one(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        await ob.put_many([rec(Lane.CLINICAL) for _ in range(10)])
        before = (await ob.stats()).fsyncs
        for _ in range(5):
            c = await ob.claim(max_count=2)
            assert c is not None
            await ob.ack(c.batch_id, c.ids)
        st = await ob.stats()
        assert st.fsyncs == before and st.unsynced_commits == 10
        assert st.depth["clinical"]["delivered"] == 10


async def test_unsynced_commits_are_fsynced_within_the_limit(db_path: Path, clock: ManualClock) -> None:
    settings = OutboxSettings(maintain_interval_s=None, unsynced_max_s=0.2)
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        await ob.put(rec(Lane.TELEMETRY, kind="heart_rate"))
        deadline = time.monotonic() + 10
        while (await ob.stats()).unsynced_commits and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert (await ob.stats()).unsynced_commits == 0


async def test_concurrent_durable_puts_share_fsyncs(db_path: Path, clock: ManualClock) -> None:
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        before = (await ob.stats()).fsyncs
        async with asyncio.TaskGroup() as tg:
            for _ in range(50):
                tg.create_task(ob.put(rec(Lane.CLINICAL)))
        st = await ob.stats()
        assert st.unsynced_commits == 0
        assert st.fsyncs - before < 10  # not one per put


async def test_a_close_leaves_nothing_owed_and_a_reopen_sees_everything(
    db_path: Path, clock: ManualClock
) -> None:
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        ids = [r.id for r in [rec(Lane.TELEMETRY, kind="heart_rate") for _ in range(20)]]
        await asyncio.gather(*(ob.put(rec(Lane.TELEMETRY, id=i, kind="heart_rate")) for i in ids))
        assert (await ob.stats()).unsynced_commits > 0
    async with Outbox(db_path, settings=LAZY, clock=clock) as ob:
        for i in ids:
            got = await ob.get(i)
            assert got is not None and got.state is State.PENDING
