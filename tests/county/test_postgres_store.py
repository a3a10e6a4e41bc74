"""The county's PostgreSQL store on a real server: COPY + one INSERT ... ON CONFLICT, revisions as
rows, ownership of reading ids, migrations, concurrent instances, an absent server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from buffer.ids import uuid7
from county.errors import StoreUnavailable
from county.fleet import fleet
from county.postgres import STORE_READINGS, PostgresStore, migrate, migrations, readings_args
from county.receiver import FOREIGN_READING, import_export, prepare
from tests.support.broker import free_port
from tests.uplink.helpers import alert, reading
from uplink import envelope
from uplink.contract import REVISION_MAX
from uplink.envelope import Item

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def env(
    objs: list[dict[str, Any]], batch_id: str = "b-1", stream: str = "readings", gw: str = "hut-7"
) -> bytes:
    items = [Item(str(o["id"]), n, orjson.dumps(o)) for n, o in enumerate(objs)]
    return envelope.encode(stream, gw, batch_id, NOW, items).payload


def alert_status(alert_id: str, event: str, state: str, at: str) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "alert_id": alert_id,
        "kind": "sos",
        "resident_id": "r-001",
        "event": event,
        "state": state,
        "round": 1,
        "at": at,
    }


async def test_readings_once_per_revision_and_counted(pg_url: str) -> None:
    objs = [reading(i) for i in range(50)]
    async with PostgresStore(pg_url, instance="a") as store:
        first = await store.commit(prepare("hut-7", "readings", env(objs)))
        again = await store.commit(prepare("hut-7", "readings", env(objs)))
        assert first is not None and again is not None
        assert first.ack.accepted == again.ack.accepted == [o["id"] for o in objs]
        assert (first.new, first.duplicates, again.new, again.duplicates) == (50, 0, 0, 50)
        revised = {**objs[0], "revision": 1, "resident_id": "r-9", "attribution": "assigned"}
        up = await store.commit(prepare("hut-7", "readings", env([revised], "b-2")))
        same = await store.commit(prepare("hut-7", "readings", env([revised], "b-3")))
        assert up is not None and (up.new, up.revised, up.duplicates) == (0, 1, 0)
        assert same is not None and same.duplicates == 1
        assert await store.count("readings") == 51  # a revision is a new row
        assert len(await store.reading_ids()) == 50
        counters = await store.counters()
        assert (counters["envelopes"], counters["rows"], counters["duplicates"], counters["revisions"]) == (
            4,
            51,
            51,
            1,
        )
        assert await store.count("receipts") == 4
        con = await asyncpg.connect(pg_url)
        try:
            row = await con.fetchrow(
                "SELECT revision, resident_id, payload FROM readings_current WHERE id=$1", objs[0]["id"]
            )
            assert row is not None and (row["revision"], row["resident_id"]) == (1, "r-9")
            assert orjson.loads(row["payload"])["attribution"] == "assigned"
        finally:
            await con.close()


async def test_another_gateway_cannot_claim_or_revise_a_reading(pg_url: str) -> None:
    mine = reading()
    forged = {**mine, "revision": 3, "resident_id": "r-666", "attribution": "assigned"}
    async with PostgresStore(pg_url, instance="a") as store:
        await store.commit(prepare("hut-7", "readings", env([mine])))
        other = await store.commit(prepare("hut-8", "readings", env([forged], "b-9", gw="hut-8")))
        assert other is not None and other.ack.accepted == []
        assert [(r.id, r.reason) for r in other.ack.rejected] == [(mine["id"], FOREIGN_READING)]
        assert await store.count("readings") == 1
        assert await store.count("rejections") == 1


async def test_refused_items_foreign_ids_and_broken_items_in_one_envelope(pg_url: str) -> None:
    """One statement stores the good rows, the refused items with their payloads and reasons, the
    ids another gateway owns and the receipt; an item without an id makes it a transaction."""
    theirs = reading(1)
    good = [reading(i, effective_at="2026-11-29T09:00:00") for i in range(3)]  # naive: taken as UTC
    bad = reading(7, revision=-1)
    async with PostgresStore(pg_url, instance="a") as store:
        await store.commit(prepare("hut-8", "readings", env([theirs], "b-0", gw="hut-8")))
        raw = env([*good, bad, {**theirs, "revision": 1}], "b-1")
        stored = await store.commit(prepare("hut-7", "readings", raw[:-2] + b',{"kind":"weight"}]}'))
        assert stored is not None
        assert sorted(stored.ack.accepted) == sorted(o["id"] for o in good)
        assert {r.id: r.reason[:22] for r in stored.ack.rejected} == {
            bad["id"]: "schema: revision: Inpu",
            theirs["id"]: FOREIGN_READING[:22],
        }
        async with store._con("checking") as con:
            rows = await con.fetch("SELECT id, reason, payload FROM rejections WHERE batch_id = 'b-1'")
            receipt = await con.fetchrow("SELECT * FROM receipts WHERE batch_id = 'b-1'")
            effective = await con.fetchval("SELECT effective_at FROM readings WHERE id = $1", good[0]["id"])
        by_id = {r["id"]: r for r in rows}
        assert orjson.loads(by_id[bad["id"]]["payload"])["revision"] == -1
        assert by_id[theirs["id"]]["payload"] is None
        assert by_id[None]["reason"] == "item without an id"
        assert receipt is not None
        assert (receipt["accepted"], receipt["rejected"], receipt["new"], receipt["duplicates"]) == (
            3,
            2,
            3,
            0,
        )
        assert effective == datetime(2026, 11, 29, 9, tzinfo=UTC)


async def test_a_revision_beyond_the_column_is_refused_not_a_failed_transaction(pg_url: str) -> None:
    """The contract bounds a revision by the county's 32-bit column: such an item is refused with
    the field named and the rest of its envelope stored (it used to fail the whole transaction
    again and again, the session restarting each time the gateway sent it)."""
    good, huge = reading(1), reading(2, revision=REVISION_MAX + 1)
    top = reading(3, revision=REVISION_MAX)
    async with PostgresStore(pg_url, instance="a") as store:
        stored = await store.commit(prepare("hut-7", "readings", env([good, huge, top])))
        assert stored is not None
        assert sorted(stored.ack.accepted) == sorted([good["id"], top["id"]])
        [refused] = stored.ack.rejected
        assert refused.id == huge["id"] and refused.reason.startswith("schema: revision: ")
        assert await store.count("readings") == 2


async def test_alerts_and_alert_status_once_invalid_counted(pg_url: str) -> None:
    a = alert()
    events = [
        alert_status(a["id"], "round_started", "notifying", "2026-11-29T08:00:01Z"),
        alert_status(a["id"], "unanswered", "unanswered", "2026-11-29T08:30:00Z"),
    ]
    async with PostgresStore(pg_url, instance="a") as store:
        for _ in range(2):
            await store.commit(prepare("hut-7", "alerts", env([a], "a-1", "alerts")))
            stored = await store.commit(prepare("hut-7", "alert_status", env(events, "s-1", "alert_status")))
            assert stored is not None and stored.ack.accepted == [e["id"] for e in events]
        assert (await store.count("alerts"), await store.count("alert_status")) == (1, 2)
        assert await store.commit(prepare("hut-7", "readings", b"{oops")) is None
        assert (await store.counters())["invalid"] == 1
        await store.store_status(
            "hut-7",
            b'{"schema":"hut.status/1","gateway_id":"hut-7","state":"online",'
            b'"counters":{"outbox":{"depth":{"clinical":{"pending":3,"inflight":2}},'
            b'"oldest_pending_age_s":42.0},"gateway":{"clock_synced":false}}}',
        )
        rows = await store.fleet_rows()
        [entry] = fleet(rows, rows[0].updated_at + 1)
        assert (entry.gateway_id, entry.state, entry.outbox_pending, entry.oldest_pending_age_s) == (
            "hut-7",
            "online",
            5,
            42.0,
        )
        assert entry.clock_synced is False and entry.unanswered_alerts == 1


def _scans_of(plan: dict[str, Any], relation: str) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Relation Name") == relation and "Scan" in plan["Node Type"] else []
    for child in plan.get("Plans", []):
        found += _scans_of(child, relation)
    return found


async def test_storing_probes_stored_ids_by_key_never_scans_all_readings(pg_url: str) -> None:
    """Each envelope must cost the same however many readings are stored: the ownership check
    looks each staged id up in the primary key (a plan that merge-joined the whole index made
    every envelope slower as the table grew), and no JIT compiles these short statements."""
    async with PostgresStore(pg_url, instance="a") as store:
        async with store._con("filling") as con:  # a county's table: 100,000 readings stored
            await con.execute(
                "INSERT INTO readings (id, revision, gateway_id, kind, batch_id, payload)"
                " SELECT 'r-' || i, 0, 'hut-' || i % 300, 'weight', 'b-0',"
                " jsonb_build_object('pad', repeat('x', 700)) FROM generate_series(1, 100000) i"
            )
        p = prepare("hut-7", "readings", env([reading() for _ in range(500)], "b-next"))
        async with store._con("explaining") as con:
            assert await con.fetchval("SHOW jit") == "off"
            explain = await con.fetchval("EXPLAIN (FORMAT JSON) " + STORE_READINGS, *readings_args(p, "a"))
            plan = orjson.loads(explain)[0]["Plan"]
    scans = _scans_of(plan, "readings")
    assert scans, plan
    for scan in scans:
        assert scan["Node Type"] == "Bitmap Heap Scan" or "Index Cond" in scan, scan


async def test_two_instances_storing_the_same_batch_at_once_keep_one_row_each(pg_url: str) -> None:
    objs = [reading(i) for i in range(300)]
    raw = env(objs)
    async with PostgresStore(pg_url, instance="a") as a, PostgresStore(pg_url, instance="b") as b:
        results = await asyncio.gather(*(s.commit(prepare("hut-7", "readings", raw)) for s in (a, b, a, b)))
        assert all(r is not None and len(r.ack.accepted) == 300 for r in results)
        assert sum(r.new for r in results if r) == 300
        assert sum(r.duplicates for r in results if r) == 900
        assert await a.count("readings") == 300


async def test_migrations_upgrade_an_existing_database_once(pg_url: str, tmp_path: Path) -> None:
    async with PostgresStore(pg_url, instance="a") as store:
        await store.commit(prepare("hut-7", "readings", env([reading()])))
    folder = tmp_path / "migrations"
    folder.mkdir()
    for _version, name, sql in migrations():
        (folder / name).write_text(sql)
    (folder / f"{len(migrations()) + 1:04d}_retention_index.sql").write_text(
        "CREATE INDEX readings_received ON readings (received_at);"
    )
    con = await asyncpg.connect(pg_url)
    try:
        assert await migrate(con) == []  # already at the shipped version
        assert await migrate(con, folder) == [len(migrations()) + 1]
        assert await migrate(con, folder) == []
        versions = [r[0] for r in await con.fetch("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, len(migrations()) + 2))
        assert await con.fetchval("SELECT count(*) FROM readings") == 1
    finally:
        await con.close()


async def test_instances_starting_together_apply_each_migration_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url, instance=str(i)) for i in range(3)]
    await asyncio.gather(*(s.__aenter__() for s in stores))
    try:
        assert await stores[0].count("readings") == 0
    finally:
        await asyncio.gather(*(s.__aexit__(None, None, None) for s in stores))


async def test_an_absent_server_is_unavailable_not_a_crash() -> None:
    with pytest.raises(StoreUnavailable):
        async with PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout_s=2):
            pass


async def test_offline_export_import_into_postgres(pg_url: str) -> None:
    objs = [reading(i) for i in range(4)]
    lines = [env(objs[:2], "b-1"), env(objs[2:], "b-2"), env([alert()], "b-3", "alerts")]
    async with PostgresStore(pg_url) as store:
        first = await import_export(store, lines)
        again = await import_export(store, lines)
        assert len(first.accepted) == 5 and sorted(again.accepted) == sorted(first.accepted)
        assert await store.count("readings") == 4


async def test_a_fhir_bundle_is_stored_like_an_envelope(pg_url: str) -> None:
    from tests.uplink.fhir_samples import make
    from uplink.fhir.bundle import FhirSettings, readings_bundle

    r = make("blood_pressure")
    conv = readings_bundle(
        [r], gateway_id="hut-7", batch_id="f-1", sent_at=NOW, settings=FhirSettings(patient_system="urn:x")
    )
    raw = orjson.dumps(conv.bundle)
    async with PostgresStore(pg_url, instance="a") as store:
        first = await store.commit(prepare("hut-7", "readings", raw))
        again = await store.commit(prepare("hut-7", "readings", raw))
        assert first is not None and first.ack.accepted == [r["id"]] and first.new == 1
        assert again is not None and again.duplicates == 1
        con = await asyncpg.connect(pg_url)
        try:
            payload = await con.fetchval("SELECT payload FROM readings WHERE id = $1", r["id"])
        finally:
            await con.close()
        assert orjson.loads(payload)["format"] == "fhir"
