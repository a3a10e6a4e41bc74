"""Retention, per-kind TTL and the disk quota: what is pruned, dropped, kept and counted."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from buffer import DiskFullError, Lane, Outbox, OutboxError, OutboxSettings, State
from tests.buffer.conftest import ManualClock, rec

DAY = 86_400.0


async def deliver_all(ob: Outbox) -> None:
    while (c := await ob.claim(max_count=500)) is not None:
        await ob.ack(c.batch_id, c.ids)


async def test_retention_prunes_old_delivered_and_rejected_rows_only(
    db_path: Path, clock: ManualClock
) -> None:
    settings = OutboxSettings(maintain_interval_s=None, retention_s=7 * DAY)
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        await ob.put_many([old_ok := rec(), old_bad := rec(), old_pending := rec(stream="later")])
        c = await ob.claim(stream="readings")
        assert c is not None
        await ob.ack(c.batch_id, [old_ok.id], {old_bad.id: "invalid"})
        clock.advance(6 * DAY)
        await ob.put(recent := rec())
        c = await ob.claim(stream="readings")
        assert c is not None
        await ob.ack(c.batch_id, c.ids)
        clock.advance(1.5 * DAY)
        res = await ob.maintain()
        assert res.pruned == 2 and not res.overflow
        assert await ob.get(old_ok.id) is None and await ob.get(old_bad.id) is None
        assert (await ob.get(recent.id)).state is State.DELIVERED  # type: ignore[union-attr]
        assert (await ob.get(old_pending.id)).state is State.PENDING  # type: ignore[union-attr]
        assert (await ob.stats()).pruned == 2
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        assert (await ob.stats()).pruned == 2  # persistent counter


async def test_ttl_expires_undelivered_rows_per_kind_and_counts_them(
    db_path: Path, clock: ManualClock
) -> None:
    settings = OutboxSettings(maintain_interval_s=None, ttl_s_by_kind={"position": 3600, "heart_rate": 60})
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        pos = [rec(Lane.TELEMETRY, kind="position") for _ in range(3)]
        hr = [rec(Lane.TELEMETRY, kind="heart_rate") for _ in range(2)]
        bp = rec(Lane.CLINICAL, kind="blood_pressure")
        await ob.put_many([*pos, *hr, bp])
        clock.advance(120)
        await ob.put(fresh_hr := rec(Lane.TELEMETRY, kind="heart_rate"))
        res = await ob.maintain()
        assert dict(res.ttl_expired) == {"heart_rate": 2}
        clock.advance(3600)
        res = await ob.maintain()
        assert dict(res.ttl_expired) == {"position": 3, "heart_rate": 1}
        assert await ob.get(fresh_hr.id) is None
        assert (await ob.get(bp.id)) is not None  # no TTL for its kind
        st = await ob.stats()
        assert dict(st.ttl_expired) == {"heart_rate": 3, "position": 3} and st.ttl_expired_total == 6
        assert st.pending == 1


async def test_ttl_leaves_inflight_rows_to_their_ack(db_path: Path, clock: ManualClock) -> None:
    settings = OutboxSettings(maintain_interval_s=None, ttl_s_by_kind={"hr": 10})
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        await ob.put(r := rec(Lane.TELEMETRY, kind="hr"))
        c = await ob.claim(lease_s=1000)
        assert c is not None
        clock.advance(60)
        assert (await ob.maintain()).ttl_expired == {}
        assert (await ob.ack(c.batch_id, [r.id])).delivered == 1


class Overflow:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, int], str]] = []

    def __call__(self, dropped: Mapping[str, int], reason: str) -> None:
        self.calls.append((dict(dropped), reason))


def small_quota(quota: int) -> OutboxSettings:
    return OutboxSettings(maintain_interval_s=None, quota_bytes=quota, retention_s=365 * DAY)


async def fill(ob: Outbox, lane: Lane, kind: str, n: int) -> list[str]:
    rs = [rec(lane, kind=kind, payload=bytes(300)) for _ in range(n)]
    await ob.put_many(rs)
    return [r.id for r in rs]


async def test_quota_prunes_delivered_rows_first(db_path: Path, clock: ManualClock) -> None:
    over = Overflow()
    async with Outbox(db_path, settings=small_quota(10**9), clock=clock, on_overflow=over) as ob:
        delivered = await fill(ob, Lane.CLINICAL, "bp", 300)
        await deliver_all(ob)
        pending_tel = await fill(ob, Lane.TELEMETRY, "hr", 100)
        used = (await ob.stats()).used_bytes
    quota = used - 30_000  # a little over: pruning delivered rows is enough
    async with Outbox(db_path, settings=small_quota(quota), clock=clock, on_overflow=over) as ob:
        res = await ob.maintain()
        assert res.quota_pruned > 0 and res.dropped == {} and not res.overflow
        assert res.used_bytes <= quota
        left = {s.id for s in await ob.list(limit=10**6)}
        assert set(pending_tel) <= left
        gone = [i for i in delivered if i not in left]
        assert gone == delivered[: len(gone)]  # oldest first
        assert over.calls == []


async def test_quota_then_drops_the_oldest_telemetry_but_never_clinical(
    db_path: Path, clock: ManualClock
) -> None:
    over = Overflow()
    async with Outbox(db_path, settings=small_quota(10**9), clock=clock) as ob:
        await fill(ob, Lane.CLINICAL, "bp", 50)
        await deliver_all(ob)
        tel = await fill(ob, Lane.TELEMETRY, "hr", 300)
        clinical = await fill(ob, Lane.CLINICAL, "bp", 100)
        alerts = await fill(ob, Lane.ALERTS, "alert", 20)
        used = (await ob.stats()).used_bytes
    quota = used // 2
    async with Outbox(db_path, settings=small_quota(quota), clock=clock, on_overflow=over) as ob:
        res = await ob.maintain()
        assert res.quota_pruned == 50
        assert res.dropped.keys() == {"hr"} and 0 < res.dropped["hr"] < 300
        assert not res.overflow and res.used_bytes <= quota
        left = {s.id for s in await ob.list(limit=10**6)}
        assert set(clinical) | set(alerts) <= left
        dropped = [i for i in tel if i not in left]
        assert dropped == tel[: len(dropped)]  # oldest telemetry first
        assert over.calls and over.calls[0][0] == {"hr": res.dropped["hr"]}
        st = await ob.stats()
        assert dict(st.dropped) == dict(res.dropped) and not st.overflow


async def test_over_quota_with_only_clinical_left_signals_overflow_and_drops_nothing(
    db_path: Path, clock: ManualClock
) -> None:
    over = Overflow()
    async with Outbox(db_path, settings=small_quota(10**9), clock=clock) as ob:
        clinical = await fill(ob, Lane.CLINICAL, "bp", 200)
        alerts = await fill(ob, Lane.ALERTS, "alert", 20)
        await fill(ob, Lane.TELEMETRY, "hr", 10)
        used = (await ob.stats()).used_bytes
    async with Outbox(db_path, settings=small_quota(used // 3), clock=clock, on_overflow=over) as ob:
        res = await ob.maintain()
        assert res.overflow
        assert dict(res.dropped) == {"hr": 10}  # all telemetry went, and was counted
        left = {s.id for s in await ob.list(limit=10**6)}
        assert left == set(clinical) | set(alerts)
        assert len(over.calls) == 1
        dropped, reason = over.calls[0]
        assert dropped == {"hr": 10} and "alerts and clinical" in reason
        st = await ob.stats()
        assert st.overflow and st.dropped_total == 10
        # puts still succeed: an acknowledged clinical reading is never refused for quota
        await ob.put(rec(Lane.CLINICAL))
        res2 = await ob.maintain()
        assert res2.overflow and res2.dropped == {} and len(over.calls) == 2


async def test_the_owner_runs_maintenance_when_a_put_crosses_the_quota(
    db_path: Path, clock: ManualClock
) -> None:
    over = Overflow()
    settings = OutboxSettings(maintain_interval_s=3600, quota_bytes=150_000, retention_s=365 * DAY)
    async with Outbox(db_path, settings=settings, clock=clock, on_overflow=over) as ob:
        for _ in range(40):
            await fill(ob, Lane.TELEMETRY, "hr", 40)
        for _ in range(100):
            if over.calls:
                break
            await ob.stats()
            await asyncio.sleep(0.01)
        assert over.calls, "the maintenance task did not react to the quota"
        assert (await ob.stats()).dropped_total > 0


async def test_a_full_disk_refuses_puts_with_a_clear_error_and_loses_nothing(
    db_path: Path, clock: ManualClock
) -> None:
    settings = OutboxSettings(
        maintain_interval_s=None, hard_limit_bytes=200 * 1024, quota_bytes=150 * 1024, retention_s=0
    )
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        stored: list[str] = []
        with pytest.raises(DiskFullError) as info:
            for _ in range(1000):
                r = rec(Lane.CLINICAL, payload=bytes(300))
                await ob.put(r)
                stored.append(r.id)
        assert info.value.hint and "free space" in info.value.hint
        assert isinstance(info.value, OutboxError)
        assert len(stored) > 100
        assert {s.id for s in await ob.list(limit=10**6)} == set(stored)  # nothing refused was kept half-way
        await deliver_all(ob)
        clock.advance(1)
        res = await ob.maintain()
        assert res.pruned == len(stored)
        await ob.put(rec(payload=bytes(300)))  # freed pages are reused: writable again
