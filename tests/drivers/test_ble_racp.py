"""The ``RequestStored`` connect step, run by the BLE transport against a simulated pulse
oximeter whose Record Access Control Point answers as PLXS says: stored spot checks arrive with
their time stamps until the RACP response; error responses, silence, a refused write or a dropped
link are one log line naming the step, and the live readings keep coming."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

import pytest
from bleak.exc import BleakError

from drivers import registry
from drivers.ble.transport import BleTransport
from drivers.profile import Profile, RequestStored
from tests.drivers.blesim import SimPeripheral, SimWorld
from tests.drivers.blesim.devices import OXIMETER_STORED, PLX_CONTINUOUS, PLX_SPOT_CHECK, pulse_oximeter
from tests.drivers.blesim.racp import RACP, REPORT, RacpServer
from tests.drivers.blesim.sink import RealClock, RecordingSink, until
from tests.drivers.test_ble_transport import FAST

OXI = "0C:51:00:00:00:09"
SPOT = "gatt.plx_spot_check_measurement"
STREAM = "gatt.plx_continuous_measurement"
STORED_TIMES = [
    datetime(2024, 11, 29, 23, 8, 57),
    datetime(2024, 11, 30, 7, 15),
    datetime(2024, 11, 30, 19, 2, 30),
]


def _transport(
    world: SimWorld, sink: RecordingSink, profile: str = STREAM, profiles: dict[str, Profile] | None = None
) -> BleTransport:
    return BleTransport(
        [(OXI, profile)],
        sink,
        clock=RealClock(),
        backend=world.backend(),
        timing=FAST,
        profiles=profiles,
        logger=logging.getLogger("test.ble.racp"),
    )


def _with_timeout(timeout_s: float) -> dict[str, Profile]:
    """The registry, with the oximeter's RequestStored step given a short timeout."""
    out = dict(registry.profiles())
    for name in (SPOT, STREAM):
        p = out[name]
        steps = tuple(
            replace(s, timeout_s=timeout_s) if isinstance(s, RequestStored) else s for s in p.connect
        )
        out[name] = replace(p, connect=steps)
    return out


def _kinds(sink: RecordingSink, kind: str) -> list[datetime | None]:
    return [m.device_time for _, m in sink.measurements if m.kind == kind]


def _racp_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "RequestStored(RACP 2a52)" in r.getMessage()]


@pytest.fixture(autouse=True)
def _info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.ble.racp")


def test_the_oximeter_definition_declares_the_download() -> None:
    for name in (SPOT, STREAM):
        steps = registry.get(name).connect
        [download] = [s for s in steps if isinstance(s, RequestStored)]
        assert download.racp.lower().startswith("00002a52") and download.request == b"\x01\x01"
        assert [r.lower()[4:8] for r in download.records] == ["2a5e"]
        assert steps[-1] is download  # after the live subscriptions


def test_every_download_names_records_a_profile_decodes() -> None:
    for name, p in registry.profiles().items():
        for step in (s for s in p.connect if isinstance(s, RequestStored)):
            assert step.records, f"{name}: RequestStored names no record characteristic"
            for uuid in step.records:
                decoder = registry.for_frame("ble_gatt", uuid, None)
                assert decoder is not None and decoder.exposes, f"{name}: no profile decodes {uuid}"


async def test_stored_spot_checks_are_downloaded_with_their_time_stamps(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RacpServer(PLX_SPOT_CHECK, list(OXIMETER_STORED))
    oximeter = pulse_oximeter(OXI, racp=server)
    subscribed_at_request: list[set[str]] = []

    def on_write(p: SimPeripheral, uuid: str, value: bytes) -> None:
        if uuid == RACP:
            subscribed_at_request.append(set(p.subscribed))
        server.on_write(p, uuid, value)

    oximeter.on_write = on_write
    world = SimWorld()
    world.add(oximeter)
    sink = RecordingSink({OXI: STREAM})
    async with _transport(world, sink), world.running():
        await until(lambda: len(_kinds(sink, "spo2")) == 3 and len(_kinds(sink, "spo2_stream")) >= 4)
    assert server.requests == [b"\x01\x01"]
    assert _kinds(sink, "spo2") == STORED_TIMES
    assert subscribed_at_request[0] >= {PLX_SPOT_CHECK, PLX_CONTINUOUS, RACP}
    [line] = _racp_lines(caplog)
    assert line.levelno == logging.INFO and "3 stored record(s) downloaded" in line.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_no_stored_records_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    world = SimWorld()
    world.add(pulse_oximeter(OXI, ()))
    sink = RecordingSink({OXI: STREAM})
    async with _transport(world, sink), world.running():
        await until(lambda: bool(_racp_lines(caplog)) and len(_kinds(sink, "spo2_stream")) >= 2)
    [line] = _racp_lines(caplog)
    assert line.levelno == logging.INFO and "no stored records" in line.getMessage()
    assert _kinds(sink, "spo2") == []


async def test_an_error_response_is_logged_and_the_live_readings_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RacpServer(PLX_SPOT_CHECK, [b"never sent"], supported=frozenset({0x03}))
    world = SimWorld()
    world.add(pulse_oximeter(OXI, racp=server))
    sink = RecordingSink({OXI: STREAM})
    async with _transport(world, sink), world.running():
        await until(lambda: bool(_racp_lines(caplog)))
        streamed = len(_kinds(sink, "spo2_stream"))
        await until(lambda: len(_kinds(sink, "spo2_stream")) >= streamed + 3)
    [line] = _racp_lines(caplog)
    assert line.levelno == logging.WARNING
    assert "op_code_not_supported (0x02) to report_stored_records (0x01)" in line.getMessage()
    assert sink.link_states(OXI)[:2] == ["advertising", "connected"]
    assert "disconnected" not in sink.link_states(OXI)[:-1]  # the connection carried on
    assert not [r for r in caplog.records if "GATT session failed" in r.getMessage()]


async def test_no_response_times_out_aborts_and_the_live_readings_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RacpServer(PLX_SPOT_CHECK, [b"x"], answers=False)
    world = SimWorld()
    world.add(pulse_oximeter(OXI, racp=server))
    sink = RecordingSink({OXI: STREAM})
    async with _transport(world, sink, profiles=_with_timeout(0.3)), world.running():
        await until(lambda: bool(_racp_lines(caplog)))
        streamed = len(_kinds(sink, "spo2_stream"))
        await until(lambda: len(_kinds(sink, "spo2_stream")) >= streamed + 3)
    [line] = _racp_lines(caplog)
    assert line.levelno == logging.WARNING
    assert "no RACP response within 0.3 s" in line.getMessage() and "aborted" in line.getMessage()
    assert server.requests == [b"\x01\x01", b"\x03\x00"]


async def test_a_refused_write_is_logged_and_the_connection_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(_p: SimPeripheral, uuid: str, _value: bytes) -> None:
        if uuid == RACP:
            raise BleakError("ATT error 0x80: application error")

    oximeter = pulse_oximeter(OXI)
    oximeter.on_write = refuse
    world = SimWorld()
    world.add(oximeter)
    sink = RecordingSink({OXI: STREAM})
    async with _transport(world, sink), world.running():
        await until(lambda: bool(_racp_lines(caplog)))
        streamed = len(_kinds(sink, "spo2_stream"))
        await until(lambda: len(_kinds(sink, "spo2_stream")) >= streamed + 3)
    [line] = _racp_lines(caplog)
    assert line.levelno == logging.WARNING and "failed: ATT error 0x80" in line.getMessage()


async def test_a_link_dropped_during_the_download_keeps_what_arrived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RacpServer(PLX_SPOT_CHECK, list(OXIMETER_STORED), drop_after=1)
    world = SimWorld()
    world.add(pulse_oximeter(OXI, racp=server))
    sink = RecordingSink({OXI: SPOT})
    async with _transport(world, sink, profile=SPOT), world.running():
        await until(lambda: bool(_racp_lines(caplog)) and "disconnected" in sink.link_states(OXI))
    line = _racp_lines(caplog)[0]
    assert "the link dropped before the RACP response (1 record(s))" in line.getMessage()
    assert _kinds(sink, "spo2")[:1] == STORED_TIMES[:1]
    assert server.requests[0][:1] == bytes((REPORT,))
