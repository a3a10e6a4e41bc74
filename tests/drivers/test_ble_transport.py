"""BleTransport on the simulated bleak backend: bleak, bleak-retry-connector and the transport
run unchanged; only the radio is simulated."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from drivers.ble.backoff import Backoff
from drivers.ble.transport import BleTransport, Timing
from drivers.gatt import uuids
from drivers.gatt.date_time import from_bytes
from drivers.measurement import KG, MMHG, Value
from tests.drivers.blesim import SimPeripheral, SimWorld
from tests.drivers.blesim.devices import (
    CUFF_READINGS,
    MI_FINAL,
    MI_REMOVED,
    bcs_scale,
    bp_cuff,
    bthome_button,
    hr_band,
    mi_scale,
    press,
)
from tests.drivers.blesim.sink import RealClock, RecordingSink, until

CUFF = "C0:FF:EE:00:00:01"
SCALE = "5C:A1:E0:00:00:02"
BAND = "BA:4D:00:00:00:03"
MI = "88:0F:10:00:00:04"
BUTTON = "B7:40:4E:00:00:05"

FAST = Timing(
    connect_timeout_s=10,
    io_timeout_s=5,
    session_idle_s=2.0,
    session_max_s=10,
    cooldown_s=600,
    reconnect=Backoff(0.05, 0.2),
    scanner_restart=Backoff(0.05, 0.2),
    adv_gap_s=600,
    drain_timeout_s=2,
)


def transport(
    world: SimWorld, sink: RecordingSink, devices: list[tuple[str, str, str | None]], **kw: object
) -> BleTransport:
    return BleTransport(
        devices, sink, clock=RealClock(), backend=world.backend(), timing=kw.pop("timing", FAST), **kw
    )  # type: ignore[arg-type]


async def test_cuff_burst_of_three_stored_readings_then_disconnect() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    world.add(cuff)
    sink = RecordingSink({CUFF: "gatt.blood_pressure_measurement"})
    async with transport(world, sink, [(CUFF, "gatt.blood_pressure_measurement", None)]), world.running():
        await until(lambda: "disconnected" in sink.link_states(CUFF))
    bpm = [f for f in sink.frames if f.channel == uuids.BLOOD_PRESSURE_MEASUREMENT]
    assert [f.data for f in bpm] == list(CUFF_READINGS)
    assert all(f.transport == "ble_gatt" and f.source == CUFF for f in bpm)
    assert sink.link_states(CUFF) == ["advertising", "connected", "disconnected"]
    assert [m.values["systolic"] for _, m in sink.measurements] == [
        Value(121.0, MMHG),
        Value(138.0, MMHG),
        Value(118.0, MMHG),
    ]
    assert [d for d, _ in sink.measurements] == [CUFF] * 3
    assert [(d, e.kind, dict(e.detail)) for d, e in sink.events] == [(CUFF, "battery", {"percent": 80})]
    # the device clock was written (Current Time, 10 bytes, a real date)
    [(uuid, value)] = cuff.writes
    assert uuid == uuids.CURRENT_TIME and len(value) == 10
    assert from_bytes(value[:7]).valid and from_bytes(value[:7]).known


async def test_stored_readings_resent_on_the_next_connection_are_deduplicated() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF, sleep_after=False)
    world.add(cuff)
    sink = RecordingSink({CUFF: "gatt.blood_pressure_measurement"})
    timing = replace(FAST, cooldown_s=0.05)
    async with (
        transport(world, sink, [(CUFF, "gatt.blood_pressure_measurement", None)], timing=timing),
        world.running(),
    ):
        await until(lambda: cuff.connections >= 2 and sink.link_states(CUFF).count("disconnected") >= 2)
    assert len([f for f in sink.frames if f.channel == uuids.BLOOD_PRESSURE_MEASUREMENT]) >= 6
    assert len(sink.measurements) == 3
    assert sink.duplicates >= 3


async def test_clock_is_not_written_when_the_gateway_clock_is_not_synced() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    world.add(cuff)
    sink = RecordingSink({CUFF: "gatt.blood_pressure_measurement"})
    t = BleTransport(
        [(CUFF, "gatt.blood_pressure_measurement", None)],
        sink,
        clock=RealClock(synced=False),
        backend=world.backend(),
        timing=FAST,
    )
    async with t, world.running():
        await until(lambda: "disconnected" in sink.link_states(CUFF))
    assert cuff.writes == []
    assert len(sink.measurements) == 3


async def test_scale_two_part_body_composition_merged_with_weight() -> None:
    world = SimWorld()
    world.add(bcs_scale(SCALE))
    sink = RecordingSink({SCALE: "gatt.body_composition_measurement"})
    async with transport(world, sink, [(SCALE, "gatt.body_composition_measurement", None)]), world.running():
        await until(lambda: "disconnected" in sink.link_states(SCALE) and sink.measurements)
    assert [f.channel for f in sink.frames] == [
        uuids.WEIGHT_MEASUREMENT,
        uuids.BODY_COMPOSITION_MEASUREMENT,
        uuids.BODY_COMPOSITION_MEASUREMENT,
    ]
    [(device, m)] = sink.measurements
    assert device == SCALE
    assert m.kind == "body_composition"
    assert m.values["weight"] == Value(70.0, KG)
    assert set(m.values) == {
        "body_fat_pct",
        "basal_metabolism",
        "muscle_pct",
        "muscle_mass",
        "fat_free_mass",
        "soft_lean_mass",
        "body_water_mass",
        "impedance",
        "weight",
        "height",
    }
    assert m.user_index == 1
    assert m.device_time == datetime(2024, 6, 1, 7, 15, 30)


async def test_band_notifies_heart_rate_drops_and_is_reconnected() -> None:
    world = SimWorld()
    band = hr_band(BAND, drops=1)
    world.add(band)
    sink = RecordingSink({BAND: "gatt.heart_rate_measurement"})
    async with transport(world, sink, [(BAND, "gatt.heart_rate_measurement", None)]), world.running():
        await until(lambda: band.connections >= 2 and len(sink.measurements) >= 6)
        states = sink.link_states(BAND)
    assert states[:5] == ["advertising", "connected", "disconnected", "advertising", "connected"]
    assert [m.values["heart_rate"].value for _, m in sink.measurements[:3]] == [85.0, 85.0, 72.0]
    battery = [e for _, e in sink.events if e.kind == "battery"]
    assert battery and battery[0].detail == {"percent": 64}


async def test_mi_scale_adverts_only_final_readings_become_measurements() -> None:
    world = SimWorld()
    scale = mi_scale(MI)
    world.add(scale)
    sink = RecordingSink({MI: "mi_scale_v1.adv"})
    async with transport(world, sink, [(MI, "mi_scale_v1.adv", None)]), world.running():
        await until(lambda: len(sink.frames) >= 1)
        scale.service_data = {uuids.WEIGHT_SCALE: MI_FINAL}
        await until(lambda: len(sink.frames) >= 2)
        scale.service_data = {uuids.WEIGHT_SCALE: MI_REMOVED}
        await until(lambda: len(sink.frames) >= 3)
        scale.service_data = {uuids.WEIGHT_SCALE: MI_FINAL}  # stale re-advert after power-on
        await until(lambda: len(sink.frames) >= 4)
    assert all(f.transport == "ble_adv" and f.channel == uuids.WEIGHT_SCALE for f in sink.frames)
    assert len(sink.frames) == 4  # repeats of an unchanged payload are not frames
    assert [(d, m.kind, m.values["weight"].value) for d, m in sink.measurements] == [(MI, "weight", 86.55)]
    assert sink.duplicates == 1
    assert scale.connections == 0


async def test_bthome_button_press_is_one_event_per_packet() -> None:
    world = SimWorld()
    button = bthome_button(BUTTON)
    world.add(button)
    sink = RecordingSink({BUTTON: "bthome.v2"})
    async with transport(world, sink, [(BUTTON, "bthome.v2", None)]), world.running():
        await until(lambda: len(sink.frames) >= 1)
        press(button, packet_id=2)
        await until(lambda: any(e.kind == "button" for _, e in sink.events))
        await until(lambda: len(sink.frames) >= 2)
    presses = [e for _, e in sink.events if e.kind == "button"]
    assert [p.detail for p in presses] == [{"event": "press", "button_index": 0, "packet_id": 2}]


async def test_connections_are_capped() -> None:
    world = SimWorld()
    cuffs = [f"C0:FF:EE:00:01:{i:02X}" for i in range(4)]
    world.add(*(bp_cuff(a) for a in cuffs))
    sink = RecordingSink({a: "gatt.blood_pressure_measurement" for a in cuffs})
    devices = [(a, "gatt.blood_pressure_measurement", None) for a in cuffs]
    async with transport(world, sink, devices, max_connections=2), world.running():
        await until(lambda: all("disconnected" in sink.link_states(a) for a in cuffs))
    assert world.peak_connected == 2
    assert len(sink.measurements) == 12
    assert {d for d, _ in sink.measurements} == set(cuffs)


async def test_adapter_silence_is_reported_and_the_scanner_restarted() -> None:
    world = SimWorld()
    world.add(mi_scale(MI))
    sink = RecordingSink({MI: "mi_scale_v1.adv"})
    t = transport(world, sink, [(MI, "mi_scale_v1.adv", None)], silent_after_s=0.2)
    async with t, world.running():
        await until(lambda: len(sink.frames) >= 1)
        starts = world.scanner_starts
        world.radio_dead = True
        await until(lambda: "silent" in sink.link_states("adapter"))
        assert t.adapter_silent and t.status()["adapter_silent"]
        await until(lambda: world.scanner_starts > starts)
        world.radio_dead = False
        await until(lambda: "advertising" in sink.link_states("adapter"))
        assert not t.adapter_silent
    assert sink.link_states("adapter")[:2] == ["silent", "advertising"]


async def test_unprovisioned_devices_are_ignored() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    world.add(cuff, mi_scale(MI))
    sink = RecordingSink({MI: "mi_scale_v1.adv"})
    async with transport(world, sink, [(MI, "mi_scale_v1.adv", None)]), world.running():
        await until(lambda: len(sink.frames) >= 1)
    assert cuff.connections == 0
    assert {f.source for f in sink.frames} == {MI}


async def test_failed_connection_is_reported_and_retried() -> None:
    world = SimWorld()
    band = hr_band(BAND, drops=0)
    band.refuse_connections = 1
    world.add(band)
    sink = RecordingSink({BAND: "gatt.heart_rate_measurement"})
    timing = replace(FAST, connect_attempts=1)
    async with (
        transport(world, sink, [(BAND, "gatt.heart_rate_measurement", None)], timing=timing),
        world.running(),
    ):
        await until(lambda: "connected" in sink.link_states(BAND) and len(sink.measurements) >= 3)
    errors = [e for e in sink.links if e.source == BAND and e.state == "error"]
    assert len(errors) == 1 and "connection failed" in errors[0].detail
    assert "hutgw devices pair" in errors[0].detail


async def test_polled_device_is_connected_periodically() -> None:
    world = SimWorld()
    band = hr_band(BAND, drops=0)
    world.add(band)
    sink = RecordingSink({BAND: "gatt.heart_rate_measurement"})
    timing = replace(FAST, poll_interval_s=0.1, poll_listen_s=0.2)
    async with (
        transport(world, sink, [(BAND, "gatt.heart_rate_measurement", "poll")], timing=timing),
        world.running(),
    ):
        await until(lambda: band.connections >= 2 and sink.link_states(BAND).count("disconnected") >= 2)
    done = [e.detail for e in sink.links if e.source == BAND and e.state == "disconnected"]
    assert done[:2] == ["session done", "session done"]


class FailingSink(RecordingSink):
    async def frame(self, frame):  # type: ignore[no-untyped-def]
        if not self.frames:
            self.frames.append(frame)
            raise RuntimeError("gateway bug")
        return await super().frame(frame)


async def test_a_failing_sink_does_not_stop_the_transport() -> None:
    world = SimWorld()
    world.add(bp_cuff(CUFF))
    sink = FailingSink({CUFF: "gatt.blood_pressure_measurement"})
    async with transport(world, sink, [(CUFF, "gatt.blood_pressure_measurement", None)]), world.running():
        await until(lambda: "disconnected" in sink.link_states(CUFF))
    assert len(sink.frames) == 4  # battery (failed in the sink) + three readings
    assert len(sink.measurements) == 3


def test_the_clock_must_be_a_clock_object() -> None:
    with pytest.raises(TypeError, match="monotonic"):
        BleTransport([], RecordingSink({}), clock=RealClock().now)  # type: ignore[arg-type]


async def test_a_device_that_keeps_the_link_is_disconnected_when_idle() -> None:
    world = SimWorld()
    cuff = bp_cuff(CUFF)

    async def burst_without_hanging_up(p: SimPeripheral, uuid: str) -> None:
        if uuid == uuids.BLOOD_PRESSURE_MEASUREMENT:
            for value in CUFF_READINGS:
                p.notify(uuid, value)

    cuff.on_subscribe = burst_without_hanging_up
    world.add(cuff)
    sink = RecordingSink({CUFF: "gatt.blood_pressure_measurement"})
    timing = replace(FAST, session_idle_s=0.3)
    async with (
        transport(world, sink, [(CUFF, "gatt.blood_pressure_measurement", None)], timing=timing),
        world.running(),
    ):
        await until(lambda: "disconnected" in sink.link_states(CUFF))
    done = [e.detail for e in sink.links if e.source == CUFF and e.state == "disconnected"]
    assert done == ["session done"]
    assert cuff.client is None and world.connected == 0
    assert len(sink.measurements) == 3


async def test_a_writable_date_time_is_set_when_there_is_no_current_time() -> None:
    from datetime import UTC, timedelta, timezone

    from tests.drivers.blesim import Characteristic

    world = SimWorld()
    cuff = bp_cuff(CUFF)
    cuff.characteristics = [c for c in cuff.characteristics if c.uuid != uuids.CURRENT_TIME]
    cuff.characteristics.append(
        Characteristic(uuids.DATE_TIME, uuids.BLOOD_PRESSURE, ["read", "write"], bytes(7))
    )
    world.add(cuff)
    sink = RecordingSink({CUFF: "gatt.blood_pressure_measurement"})
    hut = timezone(timedelta(hours=3))
    before = datetime.now(UTC).astimezone(hut).replace(tzinfo=None, microsecond=0)
    async with (
        transport(world, sink, [(CUFF, "gatt.blood_pressure_measurement", None)], local_tz=hut),
        world.running(),
    ):
        await until(lambda: "disconnected" in sink.link_states(CUFF))
    [(uuid, value)] = cuff.writes
    written = from_bytes(value).to_datetime()
    assert uuid == uuids.DATE_TIME and written is not None
    assert before <= written <= datetime.now(UTC).astimezone(hut).replace(tzinfo=None)  # hut-local time


async def test_advertising_devices_get_a_heartbeat_link_event_not_repeated_frames() -> None:
    world = SimWorld()
    world.add(mi_scale(MI))
    sink = RecordingSink({MI: "mi_scale_v1.adv"})
    timing = replace(FAST, alive_every_s=0.05)
    async with transport(world, sink, [(MI, "mi_scale_v1.adv", None)], timing=timing), world.running():
        await until(lambda: sink.link_states(MI).count("advertising") >= 3)
    assert len(sink.frames) == 1
    assert all(e.rssi == -60 for e in sink.links if e.source == MI)
