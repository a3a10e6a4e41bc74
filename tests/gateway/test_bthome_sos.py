"""A resident's BTHome button raises an SOS for a press and for nothing else (issue 17 item 15).

Through the gateway's real intake (``Gateway.frame``: profile, decoder, pipeline, outbox): an
advert whose MAC bytes look like button presses, and a button value bthome-ble treats as invalid
(0xFE), raise nothing; a real press does.
"""

from __future__ import annotations

from pathlib import Path

from buffer.outbox import Outbox
from drivers.frames import RawFrame
from drivers.gatt import uuids
from gateway.config import ApiConfig
from gateway.registry import DeviceEntry
from tests.support.kiosk import kiosk_gateway, make_clock
from uplink.codec import wire_dict

BUTTON = "A4:C1:38:8D:18:B2"


async def sos_alerts(outbox: Outbox) -> list[dict[str, object]]:
    alerts = [wire_dict(r.payload) for r in await outbox.list(stream="alerts", limit=100)]
    return [a for a in alerts if a["kind"] == "sos"]


async def test_only_a_real_press_is_an_sos(tmp_path: Path) -> None:
    clock = make_clock()
    async with kiosk_gateway(tmp_path, ApiConfig(), clock=clock) as rig:
        gw = rig.gateway
        rig.registry.add_device(DeviceEntry("sos-1", "bthome.v2", BUTTON, resident_id="R0001"))

        async def advert(hex_: str) -> None:
            clock.advance(5)
            data = bytes.fromhex(hex_)
            await gw.frame(RawFrame("ble_adv", BUTTON, data, clock.now(), channel=uuids.BTHOME))

        await advert("423a013a013a010164")  # MAC flag; MAC bytes 3a01 3a01 3a01
        await advert("4000073afe")  # bthome-ble: 0xFE is no button event
        await advert("4002ca0903bf")  # cut short after a temperature: not an error, not a press
        assert await sos_alerts(rig.outbox) == []
        assert gw.counters.decode_errors["bthome.v2"] == 0
        await advert("4000083a01")
        (sos,) = await sos_alerts(rig.outbox)
        assert sos["resident_id"] == "R0001"
