"""The outbox API contract: states, lanes, batches, leases, revisions, receipts, stats."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from buffer import (
    AckResult,
    BufferError,
    InvalidRecordError,
    Lane,
    Outbox,
    OutboxClosedError,
    OutboxError,
    OutboxSettings,
    Record,
    State,
    UnknownRecordError,
)
from hutgw_errors import HutError
from tests.buffer.conftest import ManualClock, rec


async def test_put_returns_increasing_sequence_numbers_and_stores_the_record(outbox: Outbox) -> None:
    a, b = rec(), rec(Lane.TELEMETRY, kind="heart_rate", key=None, payload=b"\x00\xff")
    sa = await outbox.put(a)
    sb = await outbox.put(b)
    assert sb > sa >= 1
    got = await outbox.get(b.id)
    assert got is not None
    assert (got.id, got.seq, got.stream, got.lane, got.kind, got.payload, got.key) == (
        b.id,
        sb,
        "readings",
        Lane.TELEMETRY,
        "heart_rate",
        b"\x00\xff",
        None,
    )
    assert (got.state, got.attempts, got.batch_id, got.reason) == (State.PENDING, 0, None, None)
    assert await outbox.get("no-such-id") is None


async def test_concurrent_puts_share_group_commits(outbox: Outbox) -> None:
    records = [rec() for _ in range(64)]
    seqs = await asyncio.gather(*(outbox.put(r) for r in records))
    assert sorted(seqs) == seqs == list(range(seqs[0], seqs[0] + 64))
    st = await outbox.stats()
    assert st.puts == 64
    assert st.commits < 64  # concurrent writers shared transactions


async def test_put_many_and_duplicate_ids_are_idempotent(outbox: Outbox) -> None:
    first = rec()
    seqs = await outbox.put_many([first, rec(), rec()])
    again = await outbox.put(Record(first.id, "other", Lane.ALERTS, "x", b"different"))
    assert again == seqs[0]
    twice = await outbox.put_many([(dup := rec()), dup])
    assert twice[0] == twice[1]
    assert len(await outbox.list(limit=100)) == 4
    got = await outbox.get(first.id)
    assert got is not None and got.payload == first.payload and got.lane == first.lane
    st = await outbox.stats()
    assert st.duplicates == 2
    assert st.seq_high == 4  # no sequence number was spent on a duplicate


async def test_invalid_records_are_refused_before_anything_is_stored(outbox: Outbox) -> None:
    with pytest.raises(InvalidRecordError, match="payload"):
        await outbox.put(Record("x", "readings", Lane.CLINICAL, "k", "not bytes"))  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError, match="lane"):
        await outbox.put(Record("x", "readings", 7, "k", b""))  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError, match="id"):
        await outbox.put(Record("", "readings", Lane.CLINICAL, "k", b""))
    assert await outbox.list() == []


async def test_errors_belong_to_the_buffer_family() -> None:
    assert BufferError is OutboxError
    assert issubclass(UnknownRecordError, OutboxError) and issubclass(OutboxError, HutError)
    err = UnknownRecordError("abc")
    assert err.hint and "abc" in str(err)


async def test_claim_drains_lanes_in_priority_order_and_keeps_order_within_a_lane(outbox: Outbox) -> None:
    backlog = []
    for i in range(30):  # telemetry first (oldest), then clinical, alerts arrive last
        backlog.append(rec(Lane.TELEMETRY, kind="heart_rate"))
        if i % 3 == 0:
            backlog.append(rec(Lane.CLINICAL))
        if i % 10 == 9:
            backlog.append(rec(Lane.ALERTS, kind="alert"))
    await outbox.put_many(backlog)
    order: list[Record | str] = []
    while (c := await outbox.claim(max_count=7)) is not None:
        order.extend(s.id for s in c.items)
        await outbox.ack(c.batch_id, c.ids)
    expected = [r.id for lane in Lane for r in backlog if r.lane == lane]
    assert order == expected


async def test_an_alert_overtakes_a_backlog(outbox: Outbox) -> None:
    await outbox.put_many([rec(Lane.TELEMETRY, kind="heart_rate") for _ in range(200)])
    alert = rec(Lane.ALERTS, kind="alert", stream="alerts")
    await outbox.put(alert)
    c = await outbox.claim(max_count=50)
    assert c is not None and c.stream == "alerts" and c.ids == [alert.id]


async def test_a_claim_holds_one_stream_and_respects_count_and_bytes(outbox: Outbox) -> None:
    await outbox.put_many(
        [rec(payload=b"x" * 100) for _ in range(5)]
        + [rec(stream="alerts", payload=b"y" * 100) for _ in range(5)]
    )
    c = await outbox.claim(max_count=3)
    assert c is not None and len(c.items) == 3 and {s.stream for s in c.items} == {"readings"}
    c2 = await outbox.claim(max_bytes=250)
    assert c2 is not None and len(c2.items) == 2 and c2.stream == "readings"
    c3 = await outbox.claim(stream="alerts", max_bytes=1)  # one oversized item still goes
    assert c3 is not None and len(c3.items) == 1 and c3.stream == "alerts"
    for item in c.items:
        assert item.state is State.INFLIGHT and item.batch_id == c.batch_id and item.attempts == 1
    assert len({c.batch_id, c2.batch_id, c3.batch_id}) == 3
    assert await outbox.claim(stream="nowhere") is None


async def test_concurrent_claimers_never_share_a_row(outbox: Outbox) -> None:
    records = [rec(Lane(i % 3)) for i in range(300)]
    await outbox.put_many(records)
    claims = await asyncio.gather(*(outbox.claim(max_count=25) for _ in range(20)))
    got = [s.id for c in claims if c is not None for s in c.items]
    assert len(got) == len(set(got)) == 300
    assert await outbox.claim() is None
    assert (await outbox.stats()).inflight == 300


async def test_ack_delivers_rejects_and_requeues_the_rest(outbox: Outbox, clock: ManualClock) -> None:
    a, b, c_, d = rec(), rec(), rec(), rec()
    await outbox.put_many([a, b, c_, d])
    c = await outbox.claim()
    assert c is not None and c.ids == [a.id, b.id, c_.id, d.id]
    clock.advance(5)
    res = await outbox.ack(c.batch_id, [a.id, "stranger"], {b.id: "systolic out of range"})
    assert res == AckResult(delivered=1, rejected=1, requeued=2, unknown_ids=1, stale=False)
    ga, gb, gc = await outbox.get(a.id), await outbox.get(b.id), await outbox.get(c_.id)
    assert ga is not None and ga.state is State.DELIVERED and ga.payload == a.payload
    assert gb is not None and gb.state is State.REJECTED and gb.reason == "systolic out of range"
    assert gc is not None and gc.state is State.PENDING and gc.batch_id is None
    again = await outbox.claim()
    assert again is not None and again.ids == [c_.id, d.id] and again.batch_id != c.batch_id
    assert not again.resent
    assert [s.attempts for s in again.items] == [2, 2]


async def test_stale_and_unknown_acks_are_ignored_and_counted(outbox: Outbox) -> None:
    await outbox.put(r := rec())
    c = await outbox.claim()
    assert c is not None
    assert (await outbox.ack(c.batch_id, [r.id])).delivered == 1
    assert (await outbox.ack(c.batch_id, [r.id])).stale
    assert (await outbox.ack("never-issued", [r.id])).stale
    assert (await outbox.stats()).stale_acks == 2
    got = await outbox.get(r.id)
    assert got is not None and got.state is State.DELIVERED


async def test_release_gives_the_batch_back_and_it_is_resent_under_the_same_id(outbox: Outbox) -> None:
    await outbox.put_many([rec(), rec()])
    c = await outbox.claim()
    assert c is not None
    assert await outbox.release(c.batch_id) == 2
    assert await outbox.release(c.batch_id) == 0
    again = await outbox.claim()
    assert again is not None and again.batch_id == c.batch_id and again.ids == c.ids and again.resent


async def test_expired_lease_resends_the_same_batch_id(outbox: Outbox, clock: ManualClock) -> None:
    await outbox.put_many(first := [rec(), rec(), rec()])
    c = await outbox.claim(lease_s=30)
    assert c is not None
    clock.advance(29)
    assert await outbox.expire_leases() == 0
    clock.advance(2)
    newer = rec()
    await outbox.put(newer)
    assert await outbox.expire_leases() == 3
    assert [b[0] for b in await outbox.inflight_batches()] == [c.batch_id]
    again = await outbox.claim(max_count=500)
    assert again is not None and again.resent
    assert again.batch_id == c.batch_id and again.ids == [
        r.id for r in first
    ]  # the newer row is not mixed in
    assert [s.attempts for s in again.items] == [2, 2, 2]
    rest = await outbox.claim()
    assert rest is not None and rest.ids == [newer.id]
    assert (await outbox.stats()).lease_expired == 3


async def test_a_late_ack_of_an_expired_batch_still_counts(outbox: Outbox, clock: ManualClock) -> None:
    await outbox.put(r := rec())
    c = await outbox.claim(lease_s=1)
    assert c is not None
    clock.advance(2)
    await outbox.expire_leases()
    res = await outbox.ack(c.batch_id, [r.id])
    assert res.delivered == 1 and not res.stale
    assert await outbox.claim() is None


async def test_an_alert_overtakes_an_expired_telemetry_batch(outbox: Outbox, clock: ManualClock) -> None:
    await outbox.put_many([rec(Lane.TELEMETRY, kind="hr") for _ in range(3)])
    c = await outbox.claim(lease_s=1)
    assert c is not None
    clock.advance(2)
    await outbox.expire_leases()
    await outbox.put(alert := rec(Lane.ALERTS, kind="alert"))
    first = await outbox.claim()
    assert first is not None and first.ids == [alert.id]
    second = await outbox.claim()
    assert second is not None and second.batch_id == c.batch_id


async def test_resending_with_a_smaller_limit_frees_the_rest(outbox: Outbox) -> None:
    await outbox.put_many(rs := [rec() for _ in range(4)])
    c = await outbox.claim()
    assert c is not None
    await outbox.release(c.batch_id)
    part = await outbox.claim(max_count=2)
    assert part is not None and part.batch_id == c.batch_id and part.ids == [rs[0].id, rs[1].id]
    rest = await outbox.claim()
    assert rest is not None and rest.batch_id != c.batch_id and rest.ids == [rs[2].id, rs[3].id]


async def test_revise_a_pending_record_updates_it_in_place(outbox: Outbox) -> None:
    await outbox.put(r := rec(key=None))
    await outbox.revise(r.id, b"assigned", key="res-9")
    got = await outbox.get(r.id)
    assert got is not None and (got.payload, got.key, got.state) == (b"assigned", "res-9", State.PENDING)
    await outbox.revise(r.id, b"again")  # key unchanged when not given
    got = await outbox.get(r.id)
    assert got is not None and got.key == "res-9"


async def test_revise_a_delivered_record_sends_it_again(outbox: Outbox) -> None:
    await outbox.put(r := rec(key=None))
    c = await outbox.claim()
    assert c is not None
    await outbox.ack(c.batch_id, [r.id])
    await outbox.revise(r.id, b"now attributed", key="res-2")
    c2 = await outbox.claim()
    assert c2 is not None and c2.ids == [r.id] and c2.items[0].payload == b"now attributed"
    assert c2.items[0].seq == c.items[0].seq  # same record, same sequence number


async def test_revise_an_inflight_record_is_not_lost_to_the_old_ack(outbox: Outbox) -> None:
    await outbox.put_many([r := rec(key=None), other := rec()])
    c = await outbox.claim()
    assert c is not None
    await outbox.revise(r.id, b"v2", key="res-3")
    res = await outbox.ack(c.batch_id, [r.id, other.id])
    assert (res.delivered, res.requeued) == (1, 1)
    got = await outbox.get(r.id)
    assert got is not None and got.state is State.PENDING and got.payload == b"v2" and got.batch_id is None
    c2 = await outbox.claim()
    assert c2 is not None and c2.ids == [r.id] and c2.items[0].payload == b"v2"
    await outbox.ack(c2.batch_id, [r.id])
    got = await outbox.get(r.id)
    assert got is not None and got.state is State.DELIVERED


async def test_revise_an_inflight_record_then_lease_expiry_sends_it_in_a_new_batch(
    outbox: Outbox, clock: ManualClock
) -> None:
    await outbox.put_many([r := rec(), other := rec()])
    c = await outbox.claim(lease_s=1)
    assert c is not None
    await outbox.revise(r.id, b"v2")
    clock.advance(2)
    await outbox.expire_leases()
    fresh = await outbox.claim()  # the revised row left the old batch; it is older, so it goes first
    assert fresh is not None and fresh.batch_id != c.batch_id and not fresh.resent
    assert fresh.ids == [r.id] and fresh.items[0].payload == b"v2"
    resent = await outbox.claim()
    assert resent is not None and resent.batch_id == c.batch_id and resent.ids == [other.id]


async def test_revise_an_unknown_id_raises(outbox: Outbox) -> None:
    with pytest.raises(UnknownRecordError) as info:
        await outbox.revise("missing", b"x")
    assert isinstance(info.value, BufferError)


async def test_history_is_the_residents_records_newest_first_without_rejected(
    outbox: Outbox, clock: ManualClock
) -> None:
    old = rec(key="res-7", kind="weight")
    await outbox.put(old)
    clock.advance(100)
    mid = rec(key="res-7", kind="blood_pressure")
    bad = rec(key="res-7", kind="blood_pressure")
    other = rec(key="res-8")
    tele = rec(Lane.TELEMETRY, key="res-7", kind="heart_rate")
    await outbox.put_many([mid, bad, other, tele])
    c = await outbox.claim()
    assert c is not None
    await outbox.ack(c.batch_id, [old.id, mid.id, other.id], {bad.id: "duplicate"})
    hist = await outbox.history("res-7")
    assert [s.id for s in hist] == [tele.id, mid.id, old.id]
    assert {s.state for s in hist} == {State.DELIVERED, State.PENDING}
    assert [s.id for s in await outbox.history("res-7", since=clock.now)] == [tele.id, mid.id]
    assert [s.id for s in await outbox.history("res-7", kinds=["weight"])] == [old.id]
    assert [s.id for s in await outbox.history("res-7", limit=1)] == [tele.id]
    assert await outbox.history("res-7", kinds=[]) == []
    assert await outbox.history("nobody") == []


async def test_list_filters_by_state_stream_and_kind(outbox: Outbox) -> None:
    await outbox.put_many(
        [t := rec(Lane.TELEMETRY, kind="hr"), a := rec(Lane.ALERTS, stream="alerts", kind="alert")]
    )
    assert [s.id for s in await outbox.list(state=State.PENDING)] == [a.id, t.id]  # claim order
    assert [s.id for s in await outbox.list(stream="alerts")] == [a.id]
    assert [s.id for s in await outbox.list(kind="hr")] == [t.id]
    assert await outbox.list(state=State.DELIVERED) == []


async def test_export_pending_marks_nothing(outbox: Outbox, clock: ManualClock) -> None:
    await outbox.put_many(early := [rec() for _ in range(3)])
    clock.advance(10)
    await outbox.put_many(late := [rec(Lane.ALERTS) for _ in range(1200)])
    c = await outbox.claim(max_count=1)  # in flight rows are undelivered too
    assert c is not None
    exported = [s.id async for s in outbox.export_pending()]
    assert exported == [r.id for r in early + late]
    since = [s.id async for s in outbox.export_pending(since=clock.now)]
    assert since == [r.id for r in late]
    st = await outbox.stats()
    assert st.pending == 1202 and st.inflight == 1


async def test_mark_delivered_from_a_receipt(outbox: Outbox, clock: ManualClock) -> None:
    await outbox.put_many(rs := [rec() for _ in range(4)])
    exported_at = clock.now
    clock.advance(1)
    await outbox.revise(rs[3].id, b"changed after the export")
    n = await outbox.mark_delivered([r.id for r in rs] + ["unknown"], exported_at=exported_at)
    assert n == 3
    states = [(await outbox.get(r.id)).state for r in rs]  # type: ignore[union-attr]
    assert states == [State.DELIVERED] * 3 + [State.PENDING]
    assert await outbox.mark_delivered([rs[0].id]) == 0  # already delivered


async def test_stats_report_depth_age_and_disk(outbox: Outbox, clock: ManualClock) -> None:
    await outbox.put_many([rec(Lane.ALERTS), rec(Lane.TELEMETRY, kind="hr"), rec(Lane.TELEMETRY, kind="hr")])
    clock.advance(42)
    c = await outbox.claim(max_count=1)
    assert c is not None
    st = await outbox.stats()
    assert st.depth["alerts"] == {"pending": 0, "inflight": 1, "delivered": 0, "rejected": 0}
    assert st.depth["telemetry"]["pending"] == 2
    assert st.depth["clinical"] == {"pending": 0, "inflight": 0, "delivered": 0, "rejected": 0}
    assert st.oldest_pending_age_s == pytest.approx(42)
    assert st.bytes_on_disk > 0 and 0 < st.used_bytes <= st.bytes_on_disk
    assert st.bytes_written is None or st.bytes_written >= 0
    assert st.recovered_rows is None and not st.overflow
    d = st.as_dict()
    assert d["pending"] == 2 and d["inflight"] == 1


async def test_depth_counters_match_a_recount(outbox: Outbox, clock: ManualClock, db_path: Path) -> None:
    await outbox.put_many([rec(Lane(i % 3)) for i in range(50)])
    c1 = await outbox.claim(max_count=10)
    c2 = await outbox.claim(max_count=10, lease_s=1)
    assert c1 is not None and c2 is not None
    await outbox.ack(c1.batch_id, c1.ids[:5], {c1.ids[5]: "no"})
    clock.advance(2)
    await outbox.expire_leases()
    await outbox.revise(c1.ids[0], b"again")
    st = await outbox.stats()
    con = sqlite3.connect(db_path)
    names = {0: "pending", 1: "inflight", 2: "delivered", 3: "rejected"}
    truth = {
        (Lane(lane).name.lower(), names[s]): n
        for lane, s, n in con.execute(
            # the state as stored: records, overlaid by flight (in flight) and done (delivered)
            "SELECT lane, CASE WHEN f.seq IS NOT NULL THEN 1 WHEN d.seq IS NOT NULL THEN 2 ELSE state END "
            "AS s, count(*) FROM records r LEFT JOIN flight f ON f.seq = r.seq "
            "LEFT JOIN done d ON d.seq = r.seq GROUP BY lane, s"
        )
    }
    con.close()
    mine = {(lane, s): n for lane, by in st.depth.items() for s, n in by.items() if n}
    assert mine == truth


async def test_a_second_process_sees_consistent_stats(db_path: Path, clock: ManualClock) -> None:
    settings = OutboxSettings(maintain_interval_s=None)
    async with Outbox(db_path, settings=settings, clock=clock) as owner:
        await owner.put(rec())
        async with Outbox(db_path, settings=settings, clock=clock) as guest:
            assert owner.owner and not guest.owner
            await guest.put(rec())
            c = await guest.claim(max_count=1)
            assert c is not None
        st = await owner.stats()
        assert st.pending == 1 and st.inflight == 1  # the guest's rows are seen, nothing reset
        s3 = await owner.put(rec())
        assert s3 == 3  # no sequence number handed out twice


async def test_pending_and_inflight_survive_a_restart(db_path: Path, clock: ManualClock) -> None:
    settings = OutboxSettings(maintain_interval_s=None)
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        await ob.put_many(rs := [rec(), rec(), rec()])
        c = await ob.claim(max_count=2)
        assert c is not None
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        st = await ob.stats()
        assert st.pending == 3 and st.inflight == 0
        again = await ob.claim()
        assert again is not None and again.batch_id == c.batch_id and again.resent
        rest = await ob.claim()
        assert rest is not None and rest.ids == [rs[2].id]
        assert await ob.put(rec()) == 4


async def test_using_a_closed_outbox_raises(db_path: Path) -> None:
    ob = Outbox(db_path, settings=OutboxSettings(maintain_interval_s=None))
    with pytest.raises(OutboxClosedError):
        await ob.put(rec())
    async with ob:
        pass
    with pytest.raises(OutboxClosedError):
        await ob.claim()


async def test_puts_in_flight_at_close_are_committed(db_path: Path) -> None:
    settings = OutboxSettings(maintain_interval_s=None)
    records = [rec() for _ in range(100)]
    async with Outbox(db_path, settings=settings) as ob:
        tasks = [asyncio.create_task(ob.put(r)) for r in records]
        await asyncio.sleep(0)
    assert all(t.done() and not t.cancelled() for t in tasks)
    async with Outbox(db_path, settings=settings) as ob:
        assert (await ob.stats()).pending == 100


async def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        OutboxSettings(page_size=1000)
    with pytest.raises(ValueError):
        OutboxSettings(ttl_s_by_kind={"x": -1})
    s = OutboxSettings(ttl_s_by_kind={"hr": 10})
    with pytest.raises(TypeError):
        s.ttl_s_by_kind["hr"] = 5  # type: ignore[index]


async def test_ids_sharing_their_first_eight_bytes_stay_distinct(outbox: Outbox) -> None:
    """UUIDv7 ids made in the same millisecond with the same random bits collide on the id key."""
    prefix = 0x01937F00_0000_7ABC << 64
    a, b, c = (
        Record(str(uuid.UUID(int=prefix | n)), "readings", Lane.CLINICAL, "bp", f"{n}".encode())
        for n in (1, 2, 3)
    )
    sa, sb = await outbox.put(a), await outbox.put(b)
    assert sb != sa
    assert await outbox.put(b) == sb and await outbox.put(a) == sa  # duplicates found on both paths
    assert (await outbox.get(b.id)).payload == b"2"  # type: ignore[union-attr]
    assert await outbox.get(c.id) is None
    await outbox.revise(b.id, b"two")
    assert await outbox.mark_delivered([b.id]) == 1
    got = await outbox.get(b.id)
    assert got is not None and (got.payload, got.state) == (b"two", State.DELIVERED)


async def test_a_version_1_database_is_migrated(db_path: Path, clock: ManualClock) -> None:
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA page_size = 1024")
    con.execute("PRAGMA journal_mode = WAL")
    con.executescript(
        """
        CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream TEXT NOT NULL,
            lane INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT, state INTEGER NOT NULL,
            created_at REAL NOT NULL, changed_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            batch_id TEXT, lease_until REAL, revised INTEGER NOT NULL DEFAULT 0, revised_at REAL,
            reason TEXT, payload BLOB NOT NULL);
        CREATE INDEX pending ON records(lane, seq) WHERE state = 0;
        CREATE TABLE meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
        INSERT INTO meta VALUES ('schema_version', 1);
        """
    )
    for seq, (lane, state) in enumerate([(2, 0), (1, 2), (0, 0), (1, 1)], start=1):
        con.execute(
            "INSERT INTO records(seq, id, stream, lane, kind, state, created_at, changed_at, batch_id, "
            "payload) VALUES (?, ?, 'readings', ?, 'k', ?, 0, 0, ?, x'00')",
            (seq, f"old-{seq}", lane, state, "b1" if state == 1 else None),
        )
    con.close()
    async with Outbox(db_path, settings=OutboxSettings(maintain_interval_s=None), clock=clock) as ob:
        assert (await ob.get("old-2")).state is State.DELIVERED  # type: ignore[union-attr]
        c = await ob.claim()
        assert c is not None and c.ids == ["old-3", "old-1"] and not c.resent
        c2 = await ob.claim()
        assert c2 is not None and c2.batch_id == "b1" and c2.ids == ["old-4"]  # in flight at the stop
        assert await ob.claim() is None
        assert await ob.put(rec()) == 5
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'pending'").fetchone()[0] == 0
    assert con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0] == 3
    con.close()
