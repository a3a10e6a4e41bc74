"""A BLE device is one definition: what the transport does on connecting is the profile's
``connect`` steps, walked by one interpreter (no per-profile branches in the transport)."""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from datetime import datetime
from typing import get_args

from drivers import registry
from drivers.ble import transport as transport_module
from drivers.ble.transport import BleTransport
from drivers.frames import RawFrame
from drivers.gatt import uuids
from drivers.measurement import Decoded
from drivers.profile import ConnectStep, Profile, Read, RequestStored, SetTime, Subscribe
from drivers.source import LinkEvent
from tests.drivers.blesim import SimPeripheral, SimWorld
from tests.drivers.blesim.peripherals import Characteristic
from tests.drivers.blesim.sink import RealClock, until
from tests.drivers.test_ble_transport import FAST

DEVICE = "DE:F1:4E:D0:00:01"
VENDOR = "0000fff0-0000-1000-8000-00805f9b34fb"
INFO = uuids.uuid16(0xFFF1)
STREAM = uuids.uuid16(0xFFF2)
CLOCK = uuids.uuid16(0xFFF3)
NOT_THERE = uuids.uuid16(0xFFF9)


def test_every_connected_ble_profile_declares_its_connect_steps() -> None:
    step_types = get_args(ConnectStep)
    devices = [p for p in registry.profiles().values() if p.transport == "ble_gatt" and p.exposes]
    assert devices, "the registry has GATT device profiles"
    for p in registry.profiles().values():
        assert all(isinstance(s, step_types) for s in p.connect), p.name
        if p in devices:
            subscribed = {uuids.normalize(s.char) for s in p.connect if isinstance(s, Subscribe)}
            assert p.connect, f"{p.name} declares no connect steps"
            assert {uuids.normalize(u) for u in p.gatt_characteristics} <= subscribed, p.name
        else:  # advert-only devices and characteristic decoders (battery, RACP, ...) connect nowhere
            assert not p.connect, p.name


def test_the_transport_has_no_per_profile_branches() -> None:
    source = inspect.getsource(transport_module)
    assert not re.search(r"\buuids\.[A-Z][A-Z_]+", source), "the transport names a characteristic"
    assert ".tags" not in source
    assert not re.search(r"profile(\.name)?\s*(==|!=|\bin\b)", source)
    assert not re.search(r"\"gatt\.|'gatt\.", source)


class _Sink:
    def __init__(self) -> None:
        self.frames: list[RawFrame] = []
        self.links: list[LinkEvent] = []

    async def frame(self, frame: RawFrame) -> bytes | None:
        self.frames.append(frame)
        return None

    def link(self, event: LinkEvent) -> None:
        self.links.append(event)


def _stamp(local: datetime) -> bytes:
    return b"T" + local.strftime("%H%M").encode()


async def test_a_made_up_definition_runs_step_by_step_against_the_simulator() -> None:
    subscriptions: list[str] = []

    async def on_subscribe(p: SimPeripheral, uuid: str) -> None:
        subscriptions.append(uuid)
        if uuid == STREAM:
            p.notify(STREAM, b"\x2a")
        if uuid == uuids.RECORD_ACCESS_CONTROL_POINT:
            p.notify(STREAM, b"\x07")  # lost: the stream is not subscribed yet

    device = SimPeripheral(
        address=DEVICE,
        service_uuids=[VENDOR],
        characteristics=[
            Characteristic(INFO, VENDOR, ["read"], b"info"),
            Characteristic(STREAM, VENDOR, ["notify"]),
            Characteristic(CLOCK, VENDOR, ["write"]),
            Characteristic(uuids.DATE_TIME, VENDOR, ["read", "write"], bytes(7)),
            Characteristic(uuids.RECORD_ACCESS_CONTROL_POINT, VENDOR, ["write", "indicate"]),
        ],
        on_subscribe=on_subscribe,
    )
    made_up = Profile(
        name="test.made_up",
        title="a device that exists only in this test",
        transport="ble_gatt",
        decode=lambda _frame: Decoded(fields={}),
        connect_policy="connect_on_advert",
        connect=(
            SetTime(NOT_THERE, _stamp),  # absent: skipped
            SetTime(CLOCK, _stamp),  # the first writable clock is set ...
            SetTime(uuids.DATE_TIME, lambda _t: b"never"),  # ... and no other
            Read(NOT_THERE),
            Read(INFO),
            RequestStored("2A52", timeout_s=0.3),  # never answered: aborted after the timeout
            Subscribe(STREAM),
        ),
    )
    world = SimWorld()
    world.add(device)
    sink = _Sink()
    async with (
        BleTransport(
            [(DEVICE, "test.made_up")],
            sink,
            clock=RealClock(),
            backend=world.backend(),
            timing=replace(FAST, session_idle_s=0.3),
            profiles={"test.made_up": made_up},
        ),
        world.running(),
    ):
        await until(lambda: any(e.state == "disconnected" for e in sink.links))
    racp = uuids.RECORD_ACCESS_CONTROL_POINT
    assert [uuid for uuid, _ in device.writes] == [CLOCK, racp, racp]
    assert device.writes[0][1].startswith(b"T")
    assert [value for _, value in device.writes[1:]] == [b"\x01\x01", b"\x03\x00"]
    assert subscriptions == [uuids.RECORD_ACCESS_CONTROL_POINT, STREAM]
    assert [(f.channel, f.data) for f in sink.frames] == [(INFO, b"info"), (STREAM, b"\x2a")]


async def test_a_definition_without_steps_connects_and_does_nothing() -> None:
    device = SimPeripheral(
        address=DEVICE,
        service_uuids=[VENDOR],
        characteristics=[
            Characteristic(INFO, VENDOR, ["read"], b"info"),
            Characteristic(uuids.CURRENT_TIME, VENDOR, ["write", "notify"], bytes(10)),
            Characteristic(uuids.BATTERY_LEVEL, VENDOR, ["read", "notify"], b"\x50"),
        ],
    )
    quiet = Profile(
        name="test.quiet", title="no steps", transport="ble_gatt", decode=lambda _f: Decoded(fields={})
    )
    world = SimWorld()
    world.add(device)
    sink = _Sink()
    async with (
        BleTransport(
            [(DEVICE, "test.quiet")],
            sink,
            clock=RealClock(),
            backend=world.backend(),
            timing=replace(FAST, session_idle_s=0.3),
            profiles={"test.quiet": quiet},
        ),
        world.running(),
    ):
        await until(lambda: any(e.state == "disconnected" for e in sink.links))
    assert [e.state for e in sink.links][:3] == ["advertising", "connected", "disconnected"]
    assert device.writes == [] and sink.frames == []


def test_request_stored_defaults_to_report_all_stored_records() -> None:
    from drivers.profiles.gatt_record_access_control_point import encode

    assert RequestStored(uuids.RECORD_ACCESS_CONTROL_POINT).request == encode(
        "report_stored_records", "all_records"
    )
