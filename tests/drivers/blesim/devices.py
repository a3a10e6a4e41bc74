"""Scripted peripherals built from the conformance vectors."""

from __future__ import annotations

import asyncio
from datetime import datetime

from drivers.gatt import uuids
from drivers.profiles.gatt_date_time import date_time_value
from tests.drivers.blesim.peripherals import Characteristic, SimPeripheral
from tests.drivers.blesim.racp import RacpServer

# Three stored BP readings (vectors bpm-005, bpm-011 and bpm-001 style, all with time stamps).
CUFF_READINGS = (
    bytes.fromhex("0679004f005d00e7070b02132d0aff07"),  # 121/79, 2023-11-02 19:45:10, pulse NaN
    bytes.fromhex("1e8a00580078000000041114293b3c00012700"),  # 138/88 year unknown, user 1
    bytes.fromhex("0676004c005a00e8070310080f003c00"),  # 118/76, 2024-03-16 08:15:00, pulse 60
)
# Weight Measurement (time stamp + user 1, 70.0 kg) then a two-part Body Composition record.
SCALE_WEIGHT = bytes.fromhex("06b036e8070601070f1e01")
SCALE_BCM_PARTS = (
    bytes.fromhex("7e10d200e8070601070f1e01581b9c01e015342b"),
    bytes.fromhex("801fd200a028541f0314b036d806"),
)
BAND_VALUES = (bytes.fromhex("0055"), bytes.fromhex("1e5532002100"), bytes.fromhex("0648"))
MI_FINAL = bytes.fromhex("229e43e507040b101301")
MI_LIVE = bytes.fromhex("024844e507051c110c09")
MI_REMOVED = bytes.fromhex("a29e43e507040b101301")


def bp_cuff(
    address: str,
    readings: tuple[bytes, ...] = CUFF_READINGS,
    *,
    sleep_after: bool = True,
    clock_writable: bool = True,
) -> SimPeripheral:
    """Advertises after a measurement; on indication enable sends its stored readings, then hangs up."""

    async def burst(p: SimPeripheral, uuid: str) -> None:
        if uuid != uuids.BLOOD_PRESSURE_MEASUREMENT:
            return
        await asyncio.sleep(0.02)
        for value in readings:
            p.notify(uuid, value)
            await asyncio.sleep(0.01)
        if sleep_after:
            p.advertising = False
        p.drop_link()

    props = ["read", "notify", "write"] if clock_writable else ["read", "notify"]
    return SimPeripheral(
        address=address,
        name="BP Cuff",
        service_uuids=[uuids.BLOOD_PRESSURE],
        characteristics=[
            Characteristic(uuids.BLOOD_PRESSURE_MEASUREMENT, uuids.BLOOD_PRESSURE, ["indicate"]),
            Characteristic(uuids.INTERMEDIATE_CUFF_PRESSURE, uuids.BLOOD_PRESSURE, ["notify"]),
            Characteristic(
                uuids.BLOOD_PRESSURE_FEATURE, uuids.BLOOD_PRESSURE, ["read"], bytes.fromhex("2700")
            ),
            Characteristic(uuids.CURRENT_TIME, uuids.CURRENT_TIME_SERVICE, props, bytes(10)),
            Characteristic(uuids.BATTERY_LEVEL, uuids.BATTERY_SERVICE, ["read", "notify"], bytes([80])),
        ],
        on_subscribe=burst,
    )


def bcs_scale(address: str) -> SimPeripheral:
    """Indicates Weight Measurement, then the two halves of a Body Composition record."""

    async def send(p: SimPeripheral, uuid: str) -> None:
        if uuid != uuids.BODY_COMPOSITION_MEASUREMENT:
            return
        await asyncio.sleep(0.02)
        p.notify(uuids.WEIGHT_MEASUREMENT, SCALE_WEIGHT)
        for part in SCALE_BCM_PARTS:
            await asyncio.sleep(0.01)
            p.notify(uuids.BODY_COMPOSITION_MEASUREMENT, part)
        p.advertising = False
        p.drop_link()

    return SimPeripheral(
        address=address,
        name="BCS Scale",
        service_uuids=[uuids.BODY_COMPOSITION, uuids.WEIGHT_SCALE],
        characteristics=[
            Characteristic(uuids.WEIGHT_MEASUREMENT, uuids.WEIGHT_SCALE, ["indicate"]),
            Characteristic(uuids.BODY_COMPOSITION_MEASUREMENT, uuids.BODY_COMPOSITION, ["indicate"]),
            Characteristic(uuids.BODY_COMPOSITION_FEATURE, uuids.BODY_COMPOSITION, ["read"], bytes(4)),
        ],
        on_subscribe=send,
    )


def hr_band(address: str, drops: int = 1) -> SimPeripheral:
    """Notifies heart rate; drops the link ``drops`` times (out of range), then keeps it."""
    state = {"drops": drops}

    async def stream(p: SimPeripheral, uuid: str) -> None:
        if uuid != uuids.HEART_RATE_MEASUREMENT:
            return
        for value in BAND_VALUES:
            await asyncio.sleep(0.01)
            p.notify(uuid, value)
        if state["drops"] > 0:
            state["drops"] -= 1
            p.drop_link()

    return SimPeripheral(
        address=address,
        name="HR Band",
        service_uuids=[uuids.HEART_RATE],
        characteristics=[
            Characteristic(uuids.HEART_RATE_MEASUREMENT, uuids.HEART_RATE, ["notify"]),
            Characteristic(uuids.BATTERY_LEVEL, uuids.BATTERY_SERVICE, ["read"], bytes([64])),
        ],
        on_subscribe=stream,
    )


def mi_scale(address: str, payload: bytes = MI_LIVE) -> SimPeripheral:
    """Advertises Mi Scale v1 service data; tests change ``service_data`` as a person weighs."""
    return SimPeripheral(
        address=address,
        name="MI SCALE2",
        service_uuids=[uuids.WEIGHT_SCALE],
        service_data={uuids.WEIGHT_SCALE: payload},
        connectable=False,
    )


def bthome_button(address: str) -> SimPeripheral:
    """A BTHome v2 SOS button: idle packets until :func:`press`."""
    return SimPeripheral(
        address=address,
        name="SOS Button",
        service_data={uuids.BTHOME: bytes.fromhex("40000101643a00")},
        connectable=False,
    )


def press(button: SimPeripheral, packet_id: int, event: int = 0x01) -> None:
    button.service_data = {uuids.BTHOME: bytes([0x40, 0x00, packet_id, 0x01, 0x64, 0x3A, event])}


PLX = uuids.uuid16(0x1822)
PLX_SPOT_CHECK = uuids.uuid16(0x2A5E)
PLX_CONTINUOUS = uuids.uuid16(0x2A5F)
PLX_FEATURES = uuids.uuid16(0x2A60)


def plx_spot(spo2: int, pulse: int, when: datetime) -> bytes:
    """A time-stamped PLX spot check (flags 0x01; SFLOATs with exponent 0), as a device stores it."""
    return b"\x01" + spo2.to_bytes(2, "little") + pulse.to_bytes(2, "little") + date_time_value(when)


#: Three stored spot checks: vector plxs-001 (94 %, 147 /min, 2024-11-29 23:08:57, status fields)
#: and two built from the spot-check layout (PLXS 1.0.1).
OXIMETER_STORED = (
    bytes.fromhex("0facf3bef5e8070b1d170839204022000066e3"),
    plx_spot(97, 64, datetime(2024, 11, 30, 7, 15, 0)),
    plx_spot(88, 71, datetime(2024, 11, 30, 19, 2, 30)),
)
#: Continuous measurements notified while the finger is in: vectors plxc-001 and plxc-003.
OXIMETER_LIVE = (bytes.fromhex("00e8f384f3"), bytes.fromhex("0064005a00"))


def pulse_oximeter(
    address: str,
    stored: tuple[bytes, ...] = OXIMETER_STORED,
    *,
    racp: RacpServer | None = None,
    live: tuple[bytes, ...] = OXIMETER_LIVE,
    live_every_s: float = 0.02,
) -> SimPeripheral:
    """A Pulse Oximeter Service device: spot checks (0x2A5E, indicate), a continuous stream
    (0x2A5F, notify, sent while subscribed), its stored spot checks through a PLXS RACP
    (``racp``, by default a standard server holding ``stored``)."""
    server = racp if racp is not None else RacpServer(PLX_SPOT_CHECK, list(stored))

    async def stream(p: SimPeripheral, uuid: str) -> None:
        if uuid != PLX_CONTINUOUS:
            return
        while True:
            for value in live:
                await asyncio.sleep(live_every_s)
                p.notify(PLX_CONTINUOUS, value)

    return SimPeripheral(
        address=address,
        name="PLX Oximeter",
        service_uuids=[PLX],
        characteristics=[
            Characteristic(PLX_SPOT_CHECK, PLX, ["indicate"]),
            Characteristic(PLX_CONTINUOUS, PLX, ["notify"]),
            Characteristic(PLX_FEATURES, PLX, ["read"], bytes.fromhex("0f00")),
            Characteristic(uuids.RECORD_ACCESS_CONTROL_POINT, PLX, ["write", "indicate"]),
            Characteristic(uuids.DATE_TIME, uuids.CURRENT_TIME_SERVICE, ["read", "write"], bytes(7)),
            Characteristic(uuids.BATTERY_LEVEL, uuids.BATTERY_SERVICE, ["read", "notify"], bytes([90])),
        ],
        on_subscribe=stream,
        on_write=server.on_write,
    )
