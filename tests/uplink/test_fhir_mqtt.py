"""payload_format = "fhir" over MQTT: Bundles on the readings topic, hut.ack/1 back, real Mosquitto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiomqtt
import orjson
from fhir.resources.R4B.bundle import Bundle

from buffer.outbox import Outbox
from buffer.record import Lane, Record, State
from tests.support.broker import Broker
from uplink.client import Uplink
from uplink.fhir.bundle import FhirSettings
from uplink.fhir.encoder import mqtt_encoder

from .conftest import run_receiver, settings, undelivered, wait_until
from .fhir_samples import make
from .helpers import alert_record


def record(obj: dict[str, Any]) -> Record:
    return Record(
        obj["id"], "readings", Lane.CLINICAL, obj["kind"], orjson.dumps(obj), obj.get("resident_id")
    )


async def drained(outbox: Outbox) -> bool:
    return await undelivered(outbox) == 0


async def test_fhir_bundles_over_mqtt_are_stored_and_acked(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    kinds = ["blood_pressure", "weight", "body_composition", "heart_rate", "spo2", "temperature"]
    readings = [make(k, offset_s=i) for i, k in enumerate(kinds)]
    position = make("position")
    unattributed = make("temperature", resident=None)
    await outbox.put_many([record(r) for r in [*readings, position, unattributed]])
    await outbox.put(alert_record())
    encoder = mqtt_encoder(FhirSettings(patient_system="urn:oid:1.2.156.1"))
    seen: list[bytes] = []
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="fhir-watcher") as watch:
        await watch.subscribe("hut/v1/+/readings", qos=1)
        async with run_receiver(tmp_path / "county.db", broker.url) as rx:
            async with Uplink(
                settings(broker.url, tmp_path), outbox, gateway_id="hut-7", encode_batch=encoder
            ) as up:
                await wait_until(lambda: drained(outbox), what="outbox drained")
                state = up.state
            async for message in watch.messages:
                seen.append(bytes(message.payload))  # type: ignore[arg-type]
                break
            assert await rx.store.reading_ids() == {r["id"] for r in readings}
            assert await rx.store.count("alerts") == 1  # alerts keep the hut envelope
            async with rx.store.db.execute("SELECT kind, resident_id, payload FROM readings") as cur:
                rows = await cur.fetchall()
    assert {row[0] for row in rows} == set(kinds)
    assert {row[1] for row in rows} == {"r-001"}
    assert all(orjson.loads(row[2])["format"] == "fhir" for row in rows)
    bundle = orjson.loads(seen[0])
    Bundle.model_validate(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    assert state.acked == 7 and state.rejected == 2
    for r in (position, unattributed):
        stored = await outbox.get(r["id"])
        assert stored is not None and stored.state == State.REJECTED and stored.reason


async def test_a_resent_bundle_is_stored_once_and_a_revision_replaces(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    from county.sqlite import SqliteStore as ReceiverStore

    r0 = make("blood_pressure")
    encoder = mqtt_encoder(FhirSettings())
    await outbox.put(record(r0))
    claim = await outbox.claim()
    assert claim is not None
    enc = encoder("readings", "hut-7", claim.batch_id, make_time(), claim.items)
    async with ReceiverStore(tmp_path / "county.db") as store:
        first = await store.store("hut-7", "readings", enc.payload)
        again = await store.store("hut-7", "readings", enc.payload)
        assert first is not None and again is not None
        assert (first.new, again.new, again.duplicates) == (1, 0, 1)
        assert first.ack.batch_id == claim.batch_id and first.ack.accepted == [r0["id"]]
        r1 = make("blood_pressure", rid=r0["id"], revision=1, resident="r-002")
        await outbox.ack(claim.batch_id, [r0["id"]])
        await outbox.revise(r0["id"], orjson.dumps(r1))
        claim2 = await outbox.claim()
        assert claim2 is not None
        enc2 = encoder("readings", "hut-7", claim2.batch_id, make_time(), claim2.items)
        revised = await store.store("hut-7", "readings", enc2.payload)
        assert revised is not None and revised.revised == 1
        async with store.db.execute("SELECT revision, resident_id FROM readings") as cur:
            assert await cur.fetchall() == [(1, "r-002")]
        broken = await store.store("hut-7", "readings", b'{"resourceType":"Bundle","type":"transaction"}')
        assert broken is None and (await store.counters())["invalid"] == 1


def make_time() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 11, 29, 9, tzinfo=UTC)
