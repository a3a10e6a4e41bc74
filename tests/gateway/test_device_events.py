"""Device events through the gateway's real intake (``Gateway.frame``), read by the names of
drivers/events.py: every driver's battery level reaches the device's link status (one detail key
for GATT Battery Level, BTHome and the watches) and a low one raises one ``low_battery`` alert."""

from __future__ import annotations

from pathlib import Path

from buffer.outbox import Outbox
from drivers.frames import RawFrame
from drivers.gatt import uuids
from gateway.config import ApiConfig
from gateway.registry import DeviceEntry
from tests.support.kiosk import CUFF_ADDRESS, kiosk_gateway, make_clock
from uplink.codec import wire_dict

BUTTON = "A4:C1:38:8D:18:B2"
WATCH = "8800000015"


async def low_battery_alerts(outbox: Outbox) -> list[dict[str, object]]:
    alerts = [wire_dict(r.payload) for r in await outbox.list(stream="alerts", limit=100)]
    return [a for a in alerts if a["kind"] == "low_battery"]


async def test_every_drivers_battery_level_reaches_the_link_status(tmp_path: Path) -> None:
    clock = make_clock()
    async with kiosk_gateway(tmp_path, ApiConfig(), clock=clock) as rig:
        gw = rig.gateway
        rig.registry.add_device(DeviceEntry("sos-1", "bthome.v2", BUTTON, resident_id="R0001"))
        rig.registry.add_device(DeviceEntry("band-1", "watch.tcp", WATCH, resident_id="R0002"))
        now = clock.now()
        await gw.frame(RawFrame("ble_gatt", CUFF_ADDRESS, bytes([50]), now, channel=uuids.BATTERY_LEVEL))
        await gw.frame(RawFrame("ble_adv", BUTTON, bytes.fromhex("40015d"), now, channel=uuids.BTHOME))
        await gw.frame(RawFrame("tcp", WATCH, b"[3G*8800000015*000D*LK,50,100,87]", now))
        levels = {d["device"]: d["battery_pct"] for d in gw.intake.device_view()}
        assert levels == {"cuff-1": 50, "sos-1": 93, "band-1": 87}
        assert await low_battery_alerts(rig.outbox) == []

        clock.advance(5)
        await gw.frame(RawFrame("tcp", WATCH, b"[3G*8800000015*000B*LK,50,100,9]", clock.now()))
        (low,) = await low_battery_alerts(rig.outbox)
        assert (low["resident_id"], low["detail"]["battery_pct"]) == ("R0002", 9)
        assert {d["device"]: d["battery_pct"] for d in gw.intake.device_view()}["band-1"] == 9
