"""A real gateway core (outbox, registry, pipeline, sessions, alerts, events) behind the real
local API, for the kiosk tests. Everything is real except the clock, which the test moves.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from buffer.outbox import Outbox
from buffer.settings import OutboxSettings
from drivers.frames import RawFrame
from gateway.alerts import AlertManager
from gateway.api.app import build_app
from gateway.api.ports import About, ApiPorts, FenceZones
from gateway.clinical import ClinicalSettings
from gateway.clock import FakeClock
from gateway.config import ApiConfig, GeofenceConfig
from gateway.core import MAX_UNSYNCED, Gateway
from gateway.events import EventBus
from gateway.fences import FenceMonitor
from gateway.geofence.store import ZoneStore
from gateway.intake import Counters
from gateway.pipeline import Pipeline
from gateway.quarantine import Quarantine
from gateway.recorder import Recorder
from gateway.registry import DeviceEntry, Registry, RegistryView, ResidentEntry
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
    outbox: Outbox
    registry: Registry
    ports: ApiPorts
    """what the API was given (as the daemon makes them)"""


@contextlib.asynccontextmanager
async def kiosk_gateway(
    state_dir: Path,
    api: ApiConfig,
    *,
    clock: FakeClock | None = None,
    max_unsynced: int = MAX_UNSYNCED,
    outbox_settings: OutboxSettings | None = None,
    zones: ZoneStore | None = None,
) -> AsyncIterator[KioskRig]:
    """The real core (outbox, registry, pipeline, sessions, recorder) behind the real API, wired
    as the daemon wires them, without its transports, uplink or escalation engine. ``zones``: the
    geofences' store (a fence monitor watches it); None: no fences."""
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
            view = RegistryView(registry)
            pipeline = Pipeline(
                registry=view,
                sessions=sessions,
                clinical=ClinicalSettings.default(),
                alerts=alerts,
                clock=clock,
                max_device_skew_s=86_400.0,
            )
            events = EventBus()
            recorder = Recorder(outbox.queue, outbox.records, events, pipeline)
            quarantine = Quarantine(state_dir / "quarantine.jsonl")
            counters = Counters()
            fences = None if zones is None else FenceMonitor(zones, GeofenceConfig(), alerts)
            gw = Gateway(
                clock=clock,
                registry=view,
                pipeline=pipeline,
                recorder=recorder,
                events=events,
                counters=counters,
                quarantine=quarantine,
                fences=fences,
                max_unsynced=max_unsynced,
            )
            ports = ApiPorts(
                about=About("hut-test", clock.now()),
                clock=clock,
                sessions=sessions,
                events=events,
                residents=view,
                manual=pipeline,
                submit=gw,
                clinical=pipeline.clinical,
                records=outbox.records,
                reattribution=recorder.reattribution,
                counters=counters,
                devices=gw.intake,
                outbox=outbox.queue,
                quarantine=quarantine,
                alerts=alerts,
                zones=FenceZones(fences),
            )
            yield KioskRig(gw, clock, build_app(ports, api), outbox, registry, ports)
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


# ---------------------------------------------------------------------------- the page in Chromium

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Screenshots of every state go here, never into the repository.
SHOTS = Path(os.environ.get("KIOSK_SHOTS", "/tmp/kiosk-shots"))
#: axe-core, installed by `make test` (npm, not saved in the repository).
AXE = Path(__file__).resolve().parents[1] / "kiosk" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = ((1024, 600), (1920, 1080))


def ensure_chromium() -> None:
    """Install Debian's chromium (and CJK fonts) when missing and we may; never `playwright install`."""
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
        install = ["apt-get", "install", "-y", "-q", "chromium", "fonts-noto-cjk"]
        subprocess.run(install, check=True, env=env, capture_output=True)
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is missing: run `apt-get install -y chromium fonts-noto-cjk` as root")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """One headless Debian Chromium driven by Playwright."""
    ensure_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield b
        finally:
            await b.close()


def cuff_frame(data: bytes, characteristic: str) -> RawFrame:
    return RawFrame("ble_gatt", CUFF_ADDRESS, data, datetime.now(UTC), channel=characteristic)


async def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    path = SHOTS / f"{name}-{size['width']}x{size['height']}.png"
    await page.screenshot(path=str(path))
    return path


LAYOUT_JS = """() => {
    const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    const buttons = [...document.querySelectorAll('button')].filter(visible);
    const texts = [...document.querySelectorAll('p, li, label, span, button, input, h1, h2')]
        .filter(visible).filter((el) => !el.closest('.sr-only'));
    const top = document.getElementById('topbar').getBoundingClientRect();
    return {
        minButton: Math.min(...buttons.map((b) => b.getBoundingClientRect().height)),
        minText: Math.min(...texts.map((t) => parseFloat(getComputedStyle(t).fontSize))),
        overflowX: document.documentElement.scrollWidth - window.innerWidth,
        // the body never scrolls (overflow hidden), so what would be cut off is measured: the
        // lowest visible element outside a box that scrolls by itself
        overflowY: Math.max(document.documentElement.scrollHeight,
            ...[...document.querySelectorAll('body *')].filter(visible)
                .filter((el) => !el.closest('.scroll, #dialog, .sr-only'))
                .map((el) => el.getBoundingClientRect().bottom)) - window.innerHeight,
        topbarHeight: top.height,
        offscreen: buttons.filter((b) => !b.closest('.scroll'))
            .filter((b) => b.getBoundingClientRect().bottom > window.innerHeight + 0.5)
            .map((b) => b.id || b.textContent),
    };
}"""


async def layout(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(LAYOUT_JS)
    return result


async def check_layout(page: Any) -> dict[str, Any]:
    """Large type and targets; nothing cut off or scrolled at the screen's own size; one row of top bar."""
    m = await layout(page)
    assert m["minButton"] >= 64, m
    assert m["minText"] >= 28, m
    assert m["overflowX"] <= 0, m
    assert m["overflowY"] <= 0, m
    assert m["offscreen"] == [], m
    assert m["topbarHeight"] <= 130, m  # one row of buttons (two rows would be ~170 px)
    return m


AXE_JS = """async () => {
    const r = await axe.run(document, {resultTypes: ['violations']});
    return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}));
}"""


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    found: list[dict[str, Any]] = await page.evaluate(AXE_JS)
    return [v for v in found if v["impact"] in ("serious", "critical")]
