"""Signed county commands change the running hut's registry: residents and geofences."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import parse
from gateway.daemon import Daemon
from gateway.geofence.store import ZoneStore
from gateway.registry import Registry, ResidentEntry
from tests.support.broker import Broker, free_port
from uplink.commands import make_command, public_key_b64


async def send(broker: Broker, topic: str, body: dict[str, object]) -> dict[str, object]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="county-test") as c:
        await c.subscribe("hut/v1/hut-cmd/command_results", qos=1)
        await c.publish(topic, json.dumps(body).encode(), qos=1)
        async with asyncio.timeout(15):
            async for msg in c.messages:
                result: dict[str, object] = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                if result.get("command_id") == body["id"]:
                    return result
    raise AssertionError("no result")


async def test_residents_and_geofences_commands(tmp_path: Path, broker: Broker) -> None:
    key = Ed25519PrivateKey.generate()
    state = tmp_path / "state"
    state.mkdir()
    with Registry(state / "registry.db") as reg:
        reg.add_resident(ResidentEntry(id="R0009", name="Old"))
    config = parse(
        {
            "gateway_id": "hut-cmd",
            "state_dir": str(state),
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "uplink": {"broker": broker.url, "command_public_key": public_key_b64(key.public_key())},
        }
    )
    topic = "hut/v1/hut-cmd/commands"
    async with Daemon(config) as daemon:
        async with asyncio.timeout(10):
            while not daemon.uplink.state.connected:  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
        residents = make_command(
            key,
            "hut-cmd",
            "residents",
            {
                "residents": [
                    {"id": "R0001", "name": "Wang", "sex": "female", "birth_year": 1950, "height_cm": 155}
                ]
            },
        )
        result = await send(broker, topic, residents)
        assert result["status"] == "done", result
        assert result["result"] == {"added": 1, "updated": 0, "removed": 1, "kept_in_use": []}
        fences = make_command(
            key,
            "hut-cmd",
            "geofences",
            {
                "resident_id": "R0001",
                "geofences": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [120.1551, 30.2741]},
                        "properties": {"name": "home", "kind": "safe", "radius_m": 250},
                    }
                ],
            },
        )
        result = await send(broker, topic, fences)
        assert result["status"] == "done", result
        assert [z.name for z in ZoneStore.in_state_dir(state).load("R0001")] == ["home"]
        bad = make_command(key, "hut-cmd", "residents", {"residents": [{"id": "R0002", "name": ""}]})
        result = await send(broker, topic, bad)
        assert result["status"] == "failed" and "name" in str(result["reason"])
        forged = dict(make_command(Ed25519PrivateKey.generate(), "hut-cmd", "ping"))
        result = await send(broker, topic, forged)
        assert result["status"] == "refused"
    with Registry(state / "registry.db") as reg:
        assert [r.id for r in reg.list_residents()] == ["R0001"]
