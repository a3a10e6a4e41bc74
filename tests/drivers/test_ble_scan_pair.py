"""``scan_once`` and ``pair`` (the functions behind ``hutgw devices scan|pair``) on the simulated backend."""

from __future__ import annotations

import pytest

from drivers.ble.pair import pair
from drivers.ble.scan import SeenDevice, scan_once
from drivers.errors import TransportError
from drivers.gatt import uuids
from tests.drivers.blesim import SimPeripheral, SimWorld
from tests.drivers.blesim.devices import bcs_scale, bp_cuff, bthome_button, hr_band, mi_scale

CUFF = "C0:FF:EE:00:00:01"


async def test_scan_lists_devices_with_profile_rssi_and_provisioned() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    cuff.rssi = -40
    world.add(
        cuff,
        bcs_scale("5C:A1:E0:00:00:02"),
        hr_band("BA:4D:00:00:00:03"),
        mi_scale("88:0F:10:00:00:04"),
        bthome_button("B7:40:4E:00:00:05"),
        SimPeripheral("AA:00:00:00:00:06", name="Someone's headphones", manufacturer_data={0x004C: b"\x01"}),
    )
    async with world.running(interval=0.01):
        seen = await scan_once(backend=world.backend(), timeout=0.2, provisioned=[CUFF.lower()])
    by_address = {s.address: s for s in seen}
    assert {a: s.profile for a, s in by_address.items()} == {
        CUFF: "gatt.blood_pressure_measurement",
        "5C:A1:E0:00:00:02": "gatt.body_composition_measurement",
        "BA:4D:00:00:00:03": "gatt.heart_rate_measurement",
        "88:0F:10:00:00:04": "mi_scale_v1.adv",  # service data beats the advertised WSS service UUID
        "B7:40:4E:00:00:05": "bthome.v2",
        "AA:00:00:00:00:06": None,
    }
    assert seen[0] == SeenDevice(
        address=CUFF,
        name="BP Cuff",
        rssi=-40,
        profile="gatt.blood_pressure_measurement",
        provisioned=True,
        service_uuids=(uuids.BLOOD_PRESSURE,),
    )
    assert [s.provisioned for s in seen].count(True) == 1


async def test_pair_bonds_a_device_that_requires_it() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    cuff.requires_bond = True
    world.add(cuff)
    async with world.running(interval=0.01):
        result = await pair(CUFF.lower(), backend=world.backend(), find_timeout_s=2)
    assert result.paired and result.address == CUFF
    assert cuff.bonded
    assert uuids.BLOOD_PRESSURE in result.services
    assert cuff.client is None  # disconnected afterwards


async def test_pair_unknown_device_is_a_clear_error() -> None:
    world = SimWorld()
    async with world.running(interval=0.01):
        with pytest.raises(TransportError) as err:
            await pair("00:11:22:33:44:55", backend=world.backend(), find_timeout_s=0.2)
    assert "not found" in err.value.message
    assert err.value.hint and "pairing mode" in err.value.hint
