"""Every state of the kiosk, at the kiosk's own size (1024x600) and on a large screen
(1920x1080), in Chinese and English: axe-core finds no serious or critical violation, the page
does not scroll, type and targets are large. Screenshots of each go to ``/tmp/kiosk-shots``.

axe-core comes from npm (``make test`` installs it into ``tests/kiosk/.axe``, ignored by git);
it is injected as an init script, which the page's Content-Security-Policy does not govern.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from drivers.gatt import uuids
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.registry import DeviceEntry, Registry
from tests.support.kiosk import (
    AXE,
    CUFF_ADDRESS,
    RESIDENTS,
    SIZES,
    axe_violations,
    bpm,
    check_layout,
    chromium,
    cuff_frame,
    cuff_pressure,
    free_port,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PIN = "1357"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): `make test` installs it (npm install axe-core@4)")
    async with chromium() as b:
        yield b


async def start(state_dir: Path) -> Daemon:
    with Registry(state_dir / "registry.db") as reg:
        for r in RESIDENTS:
            reg.add_resident(r)
        reg.add_device(DeviceEntry("cuff-1", "gatt.blood_pressure_measurement", CUFF_ADDRESS))
    cfg = parse(
        {
            "gateway_id": "hut-a11y",
            "state_dir": str(state_dir),
            "api": {"listen": f"127.0.0.1:{free_port()}", "doctor_pin": PIN},
            "uplink": {"broker": f"mqtt://127.0.0.1:{free_port()}"},  # an offline hut: the longest top bar
            "clock": {"sync_source": "trust"},
        }
    )
    return Daemon(cfg)


async def seed(d: Daemon) -> None:
    """Nine days of readings for R0001 and one reading nobody was signed in for."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with aiohttp.ClientSession() as s:
        for i in range(9):
            body = {
                "kind": "blood_pressure",
                "resident_id": "R0001",
                "values": {"systolic": 128 + 2 * i, "diastolic": 82, "pulse_rate": 70},
                "measured_at": (now - timedelta(days=9 - i)).isoformat(),
            }
            async with s.post(
                d.api_url + "/api/v1/doctor/readings", json=body, headers={"X-Doctor-PIN": PIN}
            ) as r:
                assert r.status == 201, await r.text()
    await d.gateway.frame(cuff_frame(bpm(124, 80, 66), uuids.BLOOD_PRESSURE_MEASUREMENT))


async def check(page: Any, name: str, lang: str) -> None:
    await page.wait_for_timeout(250)  # transitions (the gauge) settle
    await shot(page, f"a11y-{lang}-{name}")
    await check_layout(page)
    bad = await axe_violations(page)
    assert bad == [], f"{name} ({lang}): {bad}"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_state_passes_axe_and_fits(
    browser: Any, tmp_path: Path, size: tuple[int, int], lang: str
) -> None:
    from playwright.async_api import expect

    state_dir = tmp_path / "state"
    state_dir.mkdir()
    async with await start(state_dir) as d:
        await seed(d)
        ctx = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
        await ctx.add_init_script(path=str(AXE))
        await ctx.add_init_script(f"localStorage.setItem('kiosk.lang', '{lang}')")
        page = await ctx.new_page()
        page.on("pageerror", lambda err: pytest.fail(f"page error: {err}"))
        await page.goto(d.api_url + "/")
        await expect(page.locator("#keypad button", has_text=re.compile("^R$"))).to_be_visible()
        await expect(page.locator("#uplink")).not_to_be_empty(timeout=5000)
        await check(page, "1-signin", lang)

        await page.locator("#input-card").fill("NFC04A1B2C3")
        await page.locator("#input-card").press("Enter")
        await expect(page.locator("#claim-list li")).to_have_count(1)
        await check(page, "2-measure-claim", lang)
        for p in (40, 120):
            await d.gateway.frame(cuff_frame(cuff_pressure(p), uuids.INTERMEDIATE_CUFF_PRESSURE))
            await expect(page.locator("#pressure")).to_contain_text(str(p))
        await check(page, "2-measuring", lang)

        await d.gateway.frame(cuff_frame(bpm(166, 102, 80), uuids.BLOOD_PRESSURE_MEASUREMENT))
        await expect(page.locator("#result")).to_have_class("result cat-danger", timeout=3000)
        await check(page, "3-result", lang)

        await page.locator("#btn-again").click()
        await d.gateway.frame(cuff_frame(bpm(192, 118, 96), uuids.BLOOD_PRESSURE_MEASUREMENT))
        await expect(page.locator("#result")).to_have_class("result cat-crisis", timeout=3000)
        await expect(page.locator("#alerts .alert")).to_be_visible(timeout=3000)
        await check(page, "4-crisis", lang)

        await page.locator("#btn-history2").click()
        await expect(page.locator("#history-list li")).to_have_count(10)
        await check(page, "5-history", lang)
        await page.locator("#btn-back").click()

        await page.locator("#btn-doctor").click()
        await expect(page.locator("#pin-keypad button").first).to_be_visible()
        await check(page, "6-doctor-pin", lang)
        await page.locator("#input-pin").fill(PIN)
        await page.locator("#form-pin button[type=submit]").click()
        await expect(page.locator("#doctor-unattributed li")).to_have_count(1)
        await check(page, "7-doctor-panel", lang)
        await ctx.close()
