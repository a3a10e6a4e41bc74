"""A real gateway core (outbox, registry, pipeline, sessions, alerts, events) behind the real
local API, for the kiosk tests. Everything is real except the clock, which the test moves.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from buffer.outbox import Outbox
from buffer.settings import OutboxSettings
from gateway.alerts import AlertManager
from gateway.api.app import build_app
from gateway.clinical import ClinicalSettings
from gateway.clock import FakeClock
from gateway.config import ApiConfig
from gateway.core import MAX_UNSYNCED, Gateway
from gateway.events import EventBus
from gateway.pipeline import Pipeline
from gateway.quarantine import Quarantine
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from gateway.sessions import KioskSessions
from tests.support.broker import free_port

CUFF_ADDRESS = "AA:BB:CC:DD:EE:01"
RESIDENTS = (
    ResidentEntry("R0001", "王秀英", "female", 1948, 155.0, card_number="NFC04A1B2C3"),
    ResidentEntry("R0002", "李建国", "male", 1951, 168.0, card_number="88001234"),
    ResidentEntry("R0003", "张桂兰", "female", 1955, 150.0),
)


def sfloat(v: int) -> bytes:
    """An IEEE-11073 SFLOAT with exponent 0."""
    return (v & 0x0FFF).to_bytes(2, "little")


NAN = b"\xff\x07"


def bpm(sys: int, dia: int, pulse: int) -> bytes:
    """A real GATT Blood Pressure Measurement (0x2A35): mmHg, pulse rate present."""
    return bytes([0x04]) + sfloat(sys) + sfloat(dia) + sfloat(round((sys + 2 * dia) / 3)) + sfloat(pulse)


def cuff_pressure(p: int) -> bytes:
    """A real GATT Intermediate Cuff Pressure (0x2A36): current pressure, NaN diastolic/MAP."""
    return bytes([0x00]) + sfloat(p) + NAN + NAN


def make_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@dataclass
class KioskRig:
    gateway: Gateway
    clock: FakeClock
    app: web.Application


@contextlib.asynccontextmanager
async def kiosk_gateway(
    state_dir: Path,
    api: ApiConfig,
    *,
    clock: FakeClock | None = None,
    max_unsynced: int = MAX_UNSYNCED,
    outbox_settings: OutboxSettings | None = None,
) -> AsyncIterator[KioskRig]:
    """The real core (outbox, registry, pipeline, sessions) without the daemon's transports."""
    clock = clock or make_clock()
    registry = Registry(state_dir / "registry.db")
    for r in RESIDENTS:
        registry.add_resident(r)
    registry.add_device(DeviceEntry("cuff-1", "gatt.blood_pressure_measurement", CUFF_ADDRESS))
    outbox = Outbox(
        state_dir / "outbox.db",
        settings=outbox_settings or OutboxSettings(maintain_interval_s=None),
        clock=lambda: clock.now().timestamp(),
    )
    try:
        async with outbox:
            sessions = KioskSessions(clock, api.session_timeout_s)
            alerts = AlertManager(clock, 900.0)
            gw: Gateway
            pipeline = Pipeline(
                registry=lambda: gw.snapshot(),
                sessions=sessions,
                clinical=ClinicalSettings.default(),
                alerts=alerts,
                clock=clock,
                max_device_skew_s=86_400.0,
            )
            gw = Gateway(
                gateway_id="hut-test",
                clock=clock,
                outbox=outbox,
                registry=registry,
                pipeline=pipeline,
                sessions=sessions,
                alerts=alerts,
                events=EventBus(),
                quarantine=Quarantine(state_dir / "quarantine.jsonl"),
                max_unsynced=max_unsynced,
            )
            yield KioskRig(gw, clock, build_app(gw, api))
    finally:
        registry.close()


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` on a real TCP port; yields the base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
