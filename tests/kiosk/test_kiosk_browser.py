"""The kiosk page in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The whole gateway daemon runs in this process on a free port; a simulated BP cuff "measures"
by handing real GATT frames (Intermediate Cuff Pressure, then Blood Pressure Measurement) to
the gateway's frame sink, exactly as the BLE transport does. Screenshots of every step are
saved under ``test-output/kiosk/`` at 1024x600 and 1920x1080.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from drivers.frames import RawFrame
from drivers.gatt import uuids
from gateway.config import Config, parse
from gateway.daemon import Daemon
from gateway.registry import DeviceEntry, Registry
from tests.support.kiosk import CUFF_ADDRESS, RESIDENTS, bpm, cuff_pressure, free_port

# one Chromium for the module (it takes seconds to start); one fresh daemon per test
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = Path(__file__).resolve().parents[2] / "test-output" / "kiosk"
PIN = "2468"


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
        pytest.fail("Chromium is missing: run `apt-get install -y chromium fonts-noto-cjk` as root")


def frame(data: bytes, characteristic: str) -> RawFrame:
    return RawFrame("ble_gatt", CUFF_ADDRESS, data, datetime.now(UTC), channel=characteristic)


def config(state_dir: Path, **api: Any) -> Config:
    with Registry(state_dir / "registry.db") as reg:
        for r in RESIDENTS:
            reg.add_resident(r)
        reg.add_device(DeviceEntry("cuff-1", "gatt.blood_pressure_measurement", CUFF_ADDRESS))
    return parse(
        {
            "gateway_id": "hut-browser",
            "state_dir": str(state_dir),
            "api": {"listen": f"127.0.0.1:{free_port()}", "doctor_pin": PIN, **api},
        }
    )


@pytest_asyncio.fixture(loop_scope="module")
async def daemon(state_dir: Path) -> AsyncIterator[Daemon]:
    async with Daemon(config(state_dir)) as d:
        yield d


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    ensure_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.json()


async def shot(page: Any, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    path = OUT / f"{name}-{size['width']}x{size['height']}.png"
    await page.screenshot(path=str(path))
    return path


async def check_layout(page: Any) -> None:
    """Large type, large targets, nothing cut off sideways."""
    m = await page.evaluate(
        """() => {
            const visible = (el) => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden';
            const buttons = [...document.querySelectorAll('button')].filter(visible);
            const texts = [...document.querySelectorAll('p, li, label, span, button, input')].filter(visible);
            return {
                minButton: Math.min(...buttons.map((b) => b.getBoundingClientRect().height)),
                minText: Math.min(...texts.map((t) => parseFloat(getComputedStyle(t).fontSize))),
                overflow: document.documentElement.scrollWidth - window.innerWidth,
            };
        }"""
    )
    assert m["minButton"] >= 64, m
    assert m["minText"] >= 28, m
    assert m["overflow"] <= 0, m


async def open_kiosk(
    browser: Any, daemon: Daemon, width: int, height: int, *, url: str | None = None
) -> tuple[Any, Any]:
    from playwright.async_api import expect

    ctx = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = await ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("pageerror", lambda err: pytest.fail(f"page error: {err}"))
    await page.goto(url or daemon.api_url + "/")
    await expect(page.locator("#view-signin")).to_be_visible()
    await expect(page.locator("#keypad button", has_text="R")).to_be_visible()  # /api/v1/kiosk answered
    page.requests = requests  # type: ignore[attr-defined]
    return ctx, page


async def measure(page: Any, daemon: Daemon, sys: int, dia: int, pulse: int) -> None:
    from playwright.async_api import expect

    gw = daemon.gateway
    for p in (30, 90, 150, 185):
        await gw.frame(frame(cuff_pressure(p), uuids.INTERMEDIATE_CUFF_PRESSURE))
        await expect(page.locator("#pressure")).to_contain_text(str(p))
    await gw.frame(frame(bpm(sys, dia, pulse), uuids.BLOOD_PRESSURE_MEASUREMENT))


async def test_resident_signs_in_measures_sees_the_result_and_signs_out(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await check_layout(page)
    await shot(page, "1-signin")

    # spoken prompts: off by default, one button; what would be said is recorded
    await page.evaluate(
        """() => { window.spoken = [];
                   const speak = speechSynthesis.speak.bind(speechSynthesis);
                   speechSynthesis.speak = (u) => { window.spoken.push([u.lang, u.text]); speak(u); }; }"""
    )
    await expect(page.locator("#btn-speech")).to_have_attribute("aria-pressed", "false")
    await page.locator("#btn-speech").click()
    await expect(page.locator("#btn-speech")).to_have_text("语音提示：开")

    # sign in on the keypad
    for key in "R0001":
        await page.locator("#keypad button", has_text=key).first.click()
    await page.locator("#form-id button[type=submit]").click()
    await expect(page.locator("#who")).to_contain_text("王秀英")
    await expect(page.locator("#view-measure")).to_be_visible()
    await check_layout(page)

    # the cuff inflates: live pressure, then the reading
    gw = daemon.gateway
    for p in (30, 90, 150):
        await gw.frame(frame(cuff_pressure(p), uuids.INTERMEDIATE_CUFF_PRESSURE))
        await expect(page.locator("#pressure")).to_contain_text(str(p))
    await expect(page.locator("#measure-status")).to_contain_text("正在测量")
    await shot(page, "2-measuring")
    await gw.frame(frame(bpm(152, 94, 76), uuids.BLOOD_PRESSURE_MEASUREMENT))
    result = page.locator("#result")
    await expect(result).to_be_visible(timeout=2000)
    await expect(page.locator("#result-label")).to_have_text("1级高血压(轻度)", timeout=2000)
    await expect(result).to_have_class("result cat-high")
    await expect(page.locator("#result-values")).to_contain_text("152/94")
    await expect(page.locator("#result-advice")).to_contain_text("5分钟后再测一次")
    await expect(page.locator("#result-guideline")).to_contain_text("中国高血压防治指南")
    await check_layout(page)
    await shot(page, "3-result")
    spoken = await page.evaluate("window.spoken")
    assert ["zh-CN", "王秀英，您好。请测量血压。"] in spoken, spoken
    assert spoken[-1][0] == "zh-CN" and "1级高血压(轻度)" in spoken[-1][1], spoken

    # English on request
    await page.locator("#btn-lang").click()
    await expect(page.locator("#result-label")).to_have_text("Grade 1 hypertension (mild)")
    await expect(page.locator("#result-advice")).to_contain_text("measure again in 5 minutes")
    await expect(page.locator("#btn-again")).to_have_text("Measure again")
    await shot(page, "3-result-en")
    await page.locator("#btn-lang").click()
    await expect(page.locator("#btn-again")).to_have_text("再测一次")

    # my readings
    await page.locator("#btn-history2").click()
    await expect(page.locator("#history-list li")).to_have_count(1)
    await expect(page.locator("#history-list li")).to_contain_text("152/94")
    await page.locator("#btn-back").click()
    await expect(page.locator("#view-result")).to_be_visible()

    # sign out
    await page.locator("#btn-done").click()
    await expect(page.locator("#view-signin")).to_be_visible()
    await expect(page.locator("#message")).to_contain_text("已退出")
    assert (await get_json(daemon.api_url + "/api/v1/session"))["session"] is None

    # nothing but this gateway was ever asked for anything
    assert all(u.startswith(daemon.api_url) for u in page.requests), page.requests
    await ctx.close()


async def test_card_reader_qr_claim_and_alert(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    gw = daemon.gateway

    # a card reader in keyboard-wedge mode types the number and Enter, with nothing focused
    await page.locator("#view-signin h1").click()
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.keyboard.type("88001234\n", delay=5)
    await expect(page.locator("#who")).to_contain_text("李建国")
    await page.locator("#btn-signout").click()
    await expect(page.locator("#view-signin")).to_be_visible()

    # a reading taken before anyone signed in is kept unattributed ...
    await gw.frame(frame(bpm(118, 76, 66), uuids.BLOOD_PRESSURE_MEASUREMENT))
    # ... the resident signs in with the QR code and claims it
    await page.locator("#input-qr").fill("hut:resident:R0003")
    await page.locator("#form-qr button[type=submit]").click()
    await expect(page.locator("#who")).to_contain_text("张桂兰")
    claim = page.locator("#claim-list li")
    await expect(claim).to_have_count(1)
    await expect(claim).to_contain_text("118/76")
    await shot(page, "4-claim")
    await claim.locator("button").click()
    await expect(page.locator("#result-label")).to_have_text("正常血压")
    await expect(page.locator("#result")).to_have_class("result cat-ok")
    await shot(page, "5-result-normal")

    # a blood pressure at crisis level: the alert cannot be missed
    await measure(page, daemon, 196, 121, 98)
    alert = page.locator("#alerts .alert[data-kind=bp_crisis]")
    await expect(alert).to_be_visible(timeout=2000)
    await expect(alert).to_contain_text("血压危急")
    await expect(page.locator("#result-label")).to_have_text("3级高血压(重度)")
    await expect(page.locator("#result")).to_have_class("result cat-danger")
    await expect(page.locator("#result-advice")).to_contain_text("马上找医生")
    await shot(page, "6-alert")
    await alert.locator("button").click()
    await expect(alert).to_have_count(0)

    # unknown card: told so, still on the sign-in step
    await page.locator("#btn-signout").click()
    await page.locator("#input-card").fill("99999999")
    await page.locator("#input-card").press("Enter")
    await expect(page.locator("#message")).to_contain_text("没有找到这个居民")
    await shot(page, "7-unknown")
    await ctx.close()


async def test_doctor_enters_a_reading_by_hand(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await page.locator("#btn-doctor").click()
    await page.locator("#input-pin").fill("0000")
    await page.locator("#form-pin button[type=submit]").click()
    await expect(page.locator("#message")).to_contain_text("密码不对")
    await page.locator("#input-pin").fill(PIN)
    await page.locator("#form-pin button[type=submit]").click()
    await expect(page.locator("#doctor-panel")).to_be_visible()
    form = page.locator("#form-manual")
    await form.locator("[name=resident_id]").fill("R0002")
    await form.locator("[name=systolic]").fill("134")
    await form.locator("[name=diastolic]").fill("86")
    await form.locator("[name=pulse_rate]").fill("70")
    await shot(page, "8-doctor")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#message")).to_have_text("已保存。")
    rows = await daemon.gateway.outbox.history("R0002")
    assert [json.loads(r.payload)["values"]["systolic"]["value"] for r in rows] == [134]
    await ctx.close()


async def test_large_screen(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1920, 1080)
    await check_layout(page)
    await shot(page, "1-signin")
    await page.locator("#input-card").fill("NFC04A1B2C3")
    await page.locator("#input-card").press("Enter")
    await expect(page.locator("#who")).to_contain_text("王秀英")
    await measure(page, daemon, 168, 104, 80)
    await expect(page.locator("#result-label")).to_have_text("2级高血压(中度)", timeout=2000)
    await expect(page.locator("#result-advice")).to_contain_text("今天找村医")
    await check_layout(page)
    await shot(page, "3-result")
    await page.locator("#btn-done").click()
    await expect(page.locator("#view-signin")).to_be_visible()
    await ctx.close()


async def test_kiosk_on_another_machine_uses_the_token(browser: Any, state_dir: Path) -> None:
    """Listening beyond loopback: the kiosk is opened with ?token= and passes it on."""
    from playwright.async_api import expect

    port = free_port()
    cfg = config(state_dir, listen=f"0.0.0.0:{port}", token="tok-7c1e")
    async with Daemon(cfg) as d:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as s, s.get(base + "/api/v1/kiosk") as r:
            assert r.status == 401
        d.api_url = base
        ctx, page = await open_kiosk(browser, d, 1024, 600, url=base + "/?token=tok-7c1e")
        await page.locator("#input-qr").fill("hut:resident:R0002")
        await page.locator("#form-qr button[type=submit]").click()
        await expect(page.locator("#who")).to_contain_text("李建国")
        await measure(page, d, 126, 78, 64)
        await expect(page.locator("#result-label")).to_have_text("正常高值", timeout=2000)
        await page.locator("#btn-history2").click()
        await expect(page.locator("#history-list li")).to_have_count(1)
        await ctx.close()


async def test_page_returns_to_sign_in_after_inactivity(browser: Any, state_dir: Path) -> None:
    from playwright.async_api import expect

    async with Daemon(config(state_dir, session_timeout_s=1.5)) as d:
        ctx, page = await open_kiosk(browser, d, 1024, 600)
        await page.locator("#input-card").fill("88001234")
        await page.locator("#input-card").press("Enter")
        await expect(page.locator("#who")).to_contain_text("李建国")
        # nobody touches the screen: the gateway ends the session and the page follows
        await expect(page.locator("#view-signin")).to_be_visible(timeout=15_000)
        await expect(page.locator("#message")).to_contain_text("太久没有操作，已自动退出")
        await expect(page.locator("#btn-signout")).to_be_hidden()
        await ctx.close()
