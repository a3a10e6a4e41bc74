"""The outbox's two interfaces and the one re-attribution service (gateway/reattribution.py),
on a real core: the kiosk API and the CLI both assign through it, the gateway re-times through it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from buffer import Lane, Record
from gateway.config import ApiConfig
from gateway.errors import ReadingError
from gateway.reattribution import AlreadyAssigned, NoSuchReading, NotAReading, Reattribution, TooOld
from tests.support.kiosk import KioskRig, kiosk_gateway
from uplink.codec import Reading, wire_dict

BP = {"kind": "blood_pressure", "values": {"systolic": 150, "diastolic": 85, "pulse_rate": 70}}


async def unattributed_reading(rig: KioskRig) -> str:
    async with TestClient(TestServer(rig.app)) as client:
        r = await client.post("/api/v1/readings", json=BP)  # nobody signed in
        assert r.status == 201
        rid: str = orjson.loads(await r.read())["id"]
    return rid


async def test_the_outbox_is_one_component_seen_through_two_interfaces(state_dir: Path) -> None:
    async with kiosk_gateway(state_dir, ApiConfig()) as rig:
        outbox = rig.outbox
        assert outbox.queue is outbox and outbox.records is outbox  # one connection, one file
        assert rig.ports.records is outbox  # the API reads the record log
        assert rig.ports.reattribution.records is outbox


async def test_assign_edits_the_stored_reading_once(state_dir: Path) -> None:
    async with kiosk_gateway(state_dir, ApiConfig()) as rig:
        rid = await unattributed_reading(rig)
        seen: list[Reading] = []
        service = Reattribution(rig.outbox.records, rig.gateway.pipeline, on_revised=seen.append)
        with pytest.raises(NoSuchReading):
            await service.assign("nope", "R0001")
        with pytest.raises(ReadingError):
            await service.assign(rid, "R9999")
        with pytest.raises(TooOld):
            await service.assign(rid, "R0001", received_after=rig.clock.now() + timedelta(seconds=1))
        assert seen == []  # nothing stored by a refusal

        assigned = await service.assign(rid, "R0001", received_after=rig.clock.now() - timedelta(seconds=1))
        assert (assigned.id, assigned.resident_id, assigned.attribution, assigned.revision) == (
            rid,
            "R0001",
            "assigned",
            1,
        )
        assert seen == [assigned]
        stored = await rig.outbox.records.get(rid)
        assert stored is not None
        data: dict[str, Any] = wire_dict(stored.payload)
        assert (stored.key, data["resident_id"], data["revision"]) == ("R0001", "R0001", 1)

        with pytest.raises(AlreadyAssigned) as taken:
            await service.assign(rid, "R0002")
        assert taken.value.reading.resident_id == "R0001"
        corrected = await service.assign(rid, "R0002", force=True)
        assert (corrected.resident_id, corrected.revision) == ("R0002", 2)


async def test_a_damaged_record_is_not_a_reading(state_dir: Path) -> None:
    async with kiosk_gateway(state_dir, ApiConfig()) as rig:
        await rig.outbox.queue.put(
            Record(id="broken", stream="readings", lane=Lane.CLINICAL, kind="blood_pressure", payload=b"{}")
        )
        service = Reattribution(rig.outbox.records, rig.gateway.pipeline)
        with pytest.raises(NotAReading):
            await service.assign("broken", "R0001")
        assert await service.retime("missing") is None
