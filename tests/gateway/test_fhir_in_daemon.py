"""The daemon configured for a FHIR server: a posted reading arrives there as an Observation,
and the outbox row is delivered only after the server's transaction response."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.config import parse
from gateway.daemon import Daemon
from gateway.registry import Registry, ResidentEntry
from tests.support.broker import free_port
from tests.uplink.fhir_server import FhirStub, running_stub


async def test_posted_reading_becomes_an_observation(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with Registry(state / "registry.db") as reg:
        reg.add_resident(ResidentEntry(id="R0001", name="Wang", height_cm=156.0))
    async with running_stub(FhirStub()) as stub:
        config = parse(
            {
                "gateway_id": "hut-fhir",
                "state_dir": str(state),
                "api": {"listen": f"127.0.0.1:{free_port()}"},
                "uplink": {"transport": "http", "fhir_endpoint": stub.url, "payload_format": "fhir"},
            }
        )
        async with Daemon(config) as daemon:
            gw = daemon.gateway
            processed = gw.pipeline.from_manual(
                "blood_pressure",
                {"systolic": 132, "diastolic": 84, "pulse_rate": 70},
                resident_id="R0001",
                measured_at=None,
            )
            await gw.submit(processed)
            async with asyncio.timeout(20):
                while True:
                    stored = await daemon.outbox.get(processed.reading.id)
                    if stored is not None and stored.state == "delivered":
                        break
                    await asyncio.sleep(0.1)
    assert stub.count("Observation") == 2  # the blood-pressure panel and the pulse rate
    assert stub.creates >= 2
