"""The daemon, unchanged, on top of the simulated bleak backend: readings reach the outbox
attributed correctly (kiosk session for a shared cuff, owner for a personal band, SOS from a
button), stored readings that a cuff re-sends are stored once, and a two-part body
composition becomes one reading."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.ble.backoff import Backoff
from drivers.ble.transport import Timing
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from tests.drivers.blesim import SimWorld
from tests.drivers.blesim.devices import bcs_scale, bp_cuff, bthome_button, hr_band, press
from tests.support.broker import free_port
from uplink.codec import wire_dict

CUFF, SCALE, BAND, BUTTON = "C0:FF:EE:00:00:01", "C0:FF:EE:00:00:02", "C0:FF:EE:00:00:03", "C0:FF:EE:00:00:04"
FAST = Timing(
    connect_timeout_s=2,
    io_timeout_s=2,
    session_idle_s=0.3,
    session_max_s=10,
    cooldown_s=0.3,
    reconnect=Backoff(0.05, 0.2),
    scanner_restart=Backoff(0.05, 0.2),
    adv_gap_s=600,
    drain_timeout_s=2,
)


def provision(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    with Registry(state / "registry.db") as reg:
        for rid, name in (("R0001", "Wang"), ("R0002", "Li")):
            reg.add_resident(
                ResidentEntry(
                    id=rid,
                    name=name,
                    sex="female",
                    birth_year=1950,
                    height_cm=160.0,
                    guardians=("13800000000",),
                )
            )
        reg.add_device(DeviceEntry(id="cuff-1", profile="gatt.blood_pressure_measurement", address=CUFF))
        reg.add_device(DeviceEntry(id="scale-1", profile="gatt.body_composition_measurement", address=SCALE))
        reg.add_device(
            DeviceEntry(id="band-2", profile="gatt.heart_rate_measurement", address=BAND, resident_id="R0002")
        )
        reg.add_device(DeviceEntry(id="sos-1", profile="bthome.v2", address=BUTTON, resident_id="R0001"))


async def eventually(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await check()
        if value or loop.time() > end:
            return value
        await asyncio.sleep(0.05)


async def test_ble_devices_through_the_whole_gateway(tmp_path: Path) -> None:
    state = tmp_path / "state"
    provision(state)
    world = SimWorld()
    cuff, button = bp_cuff(CUFF, sleep_after=False), bthome_button(BUTTON)
    world.add(cuff, bcs_scale(SCALE), hr_band(BAND, drops=0), button)
    config = parse(
        {
            "gateway_id": "hut-ble",
            "state_dir": str(state),
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "ble": {"enabled": True},
        }
    )
    async with Daemon(config, ble_backend=world.backend(), ble_timing=FAST) as daemon:
        gw = daemon.gateway
        daemon.sessions.sign_in("R0001", "card")
        async with world.running():

            async def readings() -> list[dict]:  # type: ignore[type-arg]
                rows = await daemon.outbox.list(stream="readings", limit=1000)
                return [wire_dict(r.payload) for r in rows]

            def of(rows: list[dict], device: str) -> list[dict]:  # type: ignore[type-arg]
                return [r for r in rows if r["device"]["id"] == device]

            rows = await eventually(
                lambda: _when(
                    readings(),
                    lambda rs: (
                        len(of(rs, "cuff-1")) >= 3 and bool(of(rs, "scale-1")) and bool(of(rs, "band-2"))
                    ),
                )
            )
            assert rows, "readings did not arrive"
            bp = of(rows, "cuff-1")
            assert sorted(r["values"]["systolic"]["value"] for r in bp) == [118, 121, 138]
            assert {(r["resident_id"], r["attribution"]) for r in bp} == {("R0001", "session")}
            # The cuff reconnects and re-sends its stored readings: nothing new is stored.
            await eventually(lambda: _when(asyncio.sleep(0, cuff.connections), lambda n: n >= 2), 10)
            await asyncio.sleep(0.5)
            assert len(of(await readings(), "cuff-1")) == 3
            assert gw.counters.duplicates >= 3
            [body] = of(rows, "scale-1") if len(of(rows, "scale-1")) == 1 else [None]
            assert body is not None, of(rows, "scale-1")
            assert body["kind"] == "body_composition" and {"weight", "body_fat_pct"} <= set(body["values"])
            assert body["resident_id"] == "R0001"
            hr = of(rows, "band-2")
            assert {(r["resident_id"], r["attribution"]) for r in hr} == {("R0002", "personal")}
            press(button, packet_id=7)
            stored = await eventually(
                lambda: _when(
                    daemon.outbox.list(stream="alerts", limit=100),
                    lambda a: any(wire_dict(x.payload)["kind"] == "sos" for x in a),
                )
            )
            alerts = [wire_dict(x.payload) for x in stored or [] if wire_dict(x.payload)["kind"] == "sos"]
            assert alerts and alerts[0]["resident_id"] == "R0001"
            assert alerts[0]["severity"] == "critical" and "13800000000" in alerts[0]["notify"]


async def _when(awaitable, predicate):  # type: ignore[no-untyped-def]
    """The awaited value when ``predicate`` holds for it, else None."""
    value = await awaitable
    return value if predicate(value) else None
