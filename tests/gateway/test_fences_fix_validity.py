"""Only measured, valid fixes reach the geofences (issue 17 item 14).

A serial GPS on a resident walks her out of her safe zone with sentences that carry no fix
(RMC status ``A`` but FAA mode ``N``, GGA quality 0) or a fix that was not measured (dead
reckoning, simulator, manual input): through the gateway's real intake (``Gateway.frame``: decode,
pipeline, outbox, fence monitor), none of them moves her fence state; the same walk with
measured fixes raises the exit. Sentences as real receivers send them (pynmea2's test logs use
the same fields); checksums computed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from buffer.outbox import Outbox
from drivers.frames import RawFrame
from drivers.serial.checksums import xor8_hex
from gateway.clock import FakeClock
from gateway.config import ApiConfig
from gateway.core import Gateway
from gateway.geofence.store import ZoneStore
from gateway.geofence.zones import parse_feature_collection
from gateway.registry import DeviceEntry
from tests.support.kiosk import kiosk_gateway, make_clock
from uplink.codec import wire_dict

GPS = "/dev/hutgw-gps"
HOME = (30.2741, 120.1551)
OUT = (HOME[0] + 0.01, HOME[1])  # ~1.1 km north


def ddmm(value: float, width: int) -> str:
    degrees = int(value)
    return f"{degrees:0{width}d}{(value - degrees) * 60:07.4f}"


def rmc(at: datetime, where: tuple[float, float], *, mode: str, status: str = "A") -> bytes:
    body = (
        f"GPRMC,{at:%H%M%S},{status},{ddmm(where[0], 2)},N,{ddmm(where[1], 3)},E,0.0,0.0,{at:%d%m%y},,,{mode}"
    )
    return f"${body}*{xor8_hex(body.encode())}\r\n".encode()


def gga(at: datetime, where: tuple[float, float], *, quality: int) -> bytes:
    body = f"GPGGA,{at:%H%M%S},{ddmm(where[0], 2)},N,{ddmm(where[1], 3)},E,{quality},08,0.9,12.0,M,0.0,M,,"
    return f"${body}*{xor8_hex(body.encode())}\r\n".encode()


def zones() -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [HOME[1], HOME[0]]},
                "properties": {"resident_id": "R0001", "name": "village", "kind": "safe", "radius_m": 300},
            }
        ],
    }


async def feed(gw: Gateway, clock: FakeClock, sentence: Callable[[datetime], bytes]) -> None:
    """One sentence 30 s after the previous one, stamped with its own time."""
    clock.advance(30)
    await gw.frame(RawFrame("serial", GPS, sentence(clock.now()), clock.now()))


async def fence_alerts(outbox: Outbox) -> list[str]:
    alerts = [wire_dict(r.payload) for r in await outbox.list(stream="alerts", limit=100)]
    return [a["kind"] for a in alerts if str(a["kind"]).startswith("fence")]


async def test_fixes_without_a_fix_or_not_measured_never_move_a_fence(tmp_path: Path) -> None:
    clock = make_clock()
    store = ZoneStore.in_state_dir(tmp_path)
    store.save(parse_feature_collection(zones()))
    async with kiosk_gateway(tmp_path, ApiConfig(), clock=clock, zones=store) as rig:
        gw = rig.gateway
        rig.registry.add_device(DeviceEntry("gps-1", "nmea", GPS, resident_id="R0001"))
        for _ in range(4):  # at home, measured fixes
            await feed(gw, clock, lambda t: rmc(t, HOME, mode="A"))
        stored = gw.counters.readings["position"]
        assert stored == 4
        for _ in range(3):  # 1 km out, but no fix or not a measured one
            for sentence in (
                lambda t: rmc(t, OUT, mode="N"),  # status A, mode N: no fix
                lambda t: gga(t, OUT, quality=0),  # quality 0: no fix
                lambda t: rmc(t, OUT, mode="E"),  # dead reckoning
                lambda t: rmc(t, OUT, mode="S"),  # simulator
                lambda t: gga(t, OUT, quality=6),  # dead reckoning
                lambda t: gga(t, OUT, quality=7),  # manual input
            ):
                await feed(gw, clock, sentence)
        assert await fence_alerts(rig.outbox) == []
        # estimated/simulated/manual fixes are kept as readings; the no-fix sentences are not
        assert gw.counters.readings["position"] == stored + 3 * 4
        for _ in range(5):  # the same walk, measured: the exit is raised
            await feed(gw, clock, lambda t: rmc(t, OUT, mode="A"))
        assert await fence_alerts(rig.outbox) == ["fence_exit"]
