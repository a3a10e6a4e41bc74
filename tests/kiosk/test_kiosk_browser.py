"""The kiosk page in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The whole gateway daemon runs in this process on a free port; a simulated BP cuff "measures"
by handing real GATT frames (Intermediate Cuff Pressure, then Blood Pressure Measurement) to
the gateway's frame sink, exactly as the BLE transport does. Screenshots go to
``/tmp/kiosk-shots`` (``$KIOSK_SHOTS``), never into the repository.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from drivers.gatt import uuids
from gateway.config import Config, parse
from gateway.daemon import Daemon
from gateway.geofence.store import ZoneStore
from gateway.geofence.zones import Circle, Zone
from gateway.registry import DeviceEntry, Registry
from tests.support.kiosk import (
    CUFF_ADDRESS,
    RESIDENTS,
    bpm,
    check_layout,
    chromium,
    cuff_frame,
    cuff_pressure,
    free_port,
    layout,
    shot,
)

# one Chromium for the module (it takes seconds to start); one fresh daemon per test
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PIN = "2468"
#: Records what the page would say aloud and when the live region changes (with what was visible).
RECORDER = """
window.spoken = [];
window.announced = [];
const realSpeak = speechSynthesis.speak.bind(speechSynthesis);
speechSynthesis.speak = (u) => { window.spoken.push([u.lang, u.text]); realSpeak(u); };
document.addEventListener('DOMContentLoaded', () => {
  const el = document.getElementById('announce');
  new MutationObserver(() => {
    if (!el.textContent) return;
    const view = [...document.querySelectorAll('[data-view]')].find((v) => !v.hidden);
    window.announced.push({text: el.textContent, view: view && view.dataset.view,
                           resultVisible: !document.getElementById('view-result').hidden,
                           labelFilled: !!document.getElementById('result-label').textContent});
  }).observe(el, {childList: true, characterData: true, subtree: true});
});
"""


def config(state_dir: Path, *, pin: str | None = PIN, broker: str | None = None, **api: Any) -> Config:
    with Registry(state_dir / "registry.db") as reg:
        for r in RESIDENTS:
            reg.add_resident(r)
        reg.add_device(DeviceEntry("cuff-1", "gatt.blood_pressure_measurement", CUFF_ADDRESS))
    api_cfg: dict[str, Any] = {"listen": f"127.0.0.1:{free_port()}", **api}
    if pin is not None:
        api_cfg["doctor_pin"] = pin
    raw: dict[str, Any] = {
        "gateway_id": "hut-browser",
        "state_dir": str(state_dir),
        "api": api_cfg,
        "clock": {"sync_source": "trust"},  # past readings keep their time (a box with a battery clock)
    }
    if broker is not None:
        raw["uplink"] = {"broker": broker}
    return parse(raw)


@pytest_asyncio.fixture(loop_scope="module")
async def daemon(state_dir: Path) -> AsyncIterator[Daemon]:
    async with Daemon(config(state_dir)) as d:
        yield d


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.json()


async def post_json(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.post(url, json=body, headers=headers or {}) as r:
        return r.status, await r.json()


async def open_kiosk(
    browser: Any, daemon: Daemon, width: int, height: int, *, url: str | None = None, lang: str = "zh"
) -> tuple[Any, Any]:
    from playwright.async_api import expect

    ctx = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    await ctx.add_init_script(RECORDER)
    if lang == "en":
        await ctx.add_init_script("localStorage.setItem('kiosk.lang', 'en')")
    page = await ctx.new_page()
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda err: pytest.fail(f"page error: {err}"))
    await page.goto(url or daemon.api_url + "/")
    await expect(page.locator("#view-signin")).to_be_visible()
    await expect(page.locator("#keypad button", has_text="R")).to_be_visible()  # /api/v1/kiosk answered
    page.requests = requests  # type: ignore[attr-defined]
    page.failed = failed  # type: ignore[attr-defined]
    return ctx, page


async def measure(page: Any, daemon: Daemon, sys: int, dia: int, pulse: int) -> None:
    from playwright.async_api import expect

    gw = daemon.gateway
    for p in (30, 90, 150, 185):
        await gw.frame(cuff_frame(cuff_pressure(p), uuids.INTERMEDIATE_CUFF_PRESSURE))
        await expect(page.locator("#pressure")).to_contain_text(str(p))
    await gw.frame(cuff_frame(bpm(sys, dia, pulse), uuids.BLOOD_PRESSURE_MEASUREMENT))


async def sign_in_card(page: Any, card: str, name: str) -> None:
    from playwright.async_api import expect

    await page.locator("#input-card").fill(card)
    await page.locator("#input-card").press("Enter")
    await expect(page.locator("#who")).to_contain_text(name)


async def put_manual(daemon: Daemon, resident: str, sys: int, dia: int, at: datetime) -> None:
    body = {
        "kind": "blood_pressure",
        "resident_id": resident,
        "values": {"systolic": sys, "diastolic": dia, "pulse_rate": 70},
        "measured_at": at.isoformat(),
    }
    status, data = await post_json(daemon.api_url + "/api/v1/doctor/readings", body, {"X-Doctor-PIN": PIN})
    assert status == 201, data


async def wait_js(page: Any, expression: str, timeout: float = 5.0) -> None:
    """Poll an expression in the page (``wait_for_function`` would need 'unsafe-eval', which
    the page's Content-Security-Policy rightly refuses)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await page.evaluate(expression):
        assert loop.time() < end, f"still false after {timeout} s: {expression}"
        await asyncio.sleep(0.05)


async def session_of(daemon: Daemon) -> Any:
    return (await get_json(daemon.api_url + "/api/v1/session"))["session"]


# ---------------------------------------------------------------------------- the resident's path


async def test_resident_signs_in_measures_sees_the_result_and_signs_out(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await check_layout(page)
    await shot(page, "1-signin")

    # spoken prompts: off by default, one button
    await expect(page.locator("#btn-speech")).to_have_attribute("aria-pressed", "false")
    await page.locator("#btn-speech").click()
    await expect(page.locator("#btn-speech")).to_have_text("语音：开")

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
        await gw.frame(cuff_frame(cuff_pressure(p), uuids.INTERMEDIATE_CUFF_PRESSURE))
        await expect(page.locator("#pressure")).to_contain_text(str(p))
    await expect(page.locator("#measure-status")).to_contain_text("正在测量")
    await gw.frame(cuff_frame(bpm(152, 94, 76), uuids.BLOOD_PRESSURE_MEASUREMENT))
    result = page.locator("#result")
    await expect(result).to_be_visible(timeout=2000)
    # Chinese all the way: full-width punctuation, the guideline's Chinese title
    await expect(page.locator("#result-label")).to_have_text("1级高血压（轻度）", timeout=2000)
    await expect(result).to_have_class("result cat-high")
    await expect(page.locator("#result-values")).to_contain_text("152/94")
    await expect(page.locator("#result-advice")).to_have_text(
        "血压偏高。请静坐休息，5分钟后再测一次；如仍偏高，请告诉村医。"
    )
    await expect(page.locator("#result-guideline")).to_have_text(
        "依据：《中国高血压防治指南（2018年修订版）》"
    )
    await expect(page.locator("#btn-again")).to_have_class("primary")  # the advice says: measure again
    await expect(page.locator("#btn-help")).to_be_hidden()
    await check_layout(page)
    spoken = await page.evaluate("window.spoken")
    assert ["zh-CN", "王秀英，您好。请测量血压。"] in spoken, spoken
    # speech has its own wording: no "152/94 mmHg"
    assert spoken[-1] == [
        "zh-CN",
        "高压152，低压94，脉搏76。1级高血压（轻度）。"
        + "血压偏高。请静坐休息，5分钟后再测一次；如仍偏高，请告诉村医。",
    ]

    # English on request: the uplink and the rest
    await page.locator("#btn-lang").click()
    await expect(page.locator("#result-label")).to_have_text("Grade 1 hypertension (mild)")
    await expect(page.locator("#result-advice")).to_contain_text("measure again in 5 minutes")
    await expect(page.locator("#result-guideline")).to_have_text(
        "Source: Chinese Hypertension Guidelines (2018 revision)"
    )
    await expect(page.locator("#btn-again")).to_have_text("Measure again")
    await expect(page.locator("#input-card")).to_have_attribute("aria-label", "Card reader input")
    await page.locator("#btn-lang").click()
    await expect(page.locator("#btn-again")).to_have_text("再测一次")
    await expect(page.locator("#input-card")).to_have_attribute("aria-label", "读卡器输入")
    await expect(page.locator("#input-qr")).not_to_have_attribute("placeholder", re.compile("hut:"))

    # my readings: dates as 12月6日 16:21
    await page.locator("#btn-history2").click()
    await expect(page.locator("#history-list li")).to_have_count(1)
    await expect(page.locator("#history-list li")).to_contain_text("152/94")
    await expect(page.locator("#history-list li .when")).to_have_text(
        re.compile(r"^\d{1,2}月\d{1,2}日 \d\d:\d\d$")
    )
    await page.locator("#btn-back").click()
    await expect(page.locator("#view-result")).to_be_visible()

    # sign out with the result's own button (no question: it says "done, sign out")
    await page.locator("#btn-done").click()
    await expect(page.locator("#view-signin")).to_be_visible()
    await expect(page.locator("#message")).to_contain_text("已退出")
    assert await session_of(daemon) is None

    # nothing but this gateway was ever asked for anything, and nothing was missing (favicon)
    assert all(u.startswith(daemon.api_url) for u in page.requests), page.requests
    assert page.failed == [], page.failed
    await ctx.close()


async def test_card_reader_qr_claim_and_a_wrong_number_stays_visible(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    gw = daemon.gateway

    # a card reader in keyboard-wedge mode types the number and Enter, with nothing focused
    await page.locator("#view-signin h1").click()
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.keyboard.type("88001234\n", delay=5)
    await expect(page.locator("#who")).to_contain_text("李建国")
    await page.locator("#btn-signout").click()  # not on a result: no question
    await expect(page.locator("#view-signin")).to_be_visible()

    # a wrong resident number: told so (and the page still fits), what she typed stays visible
    for key in "R0009":
        await page.locator("#keypad button", has_text=key).first.click()
    await page.locator("#form-id button[type=submit]").click()
    await expect(page.locator("#message")).to_contain_text("没有找到这个居民")
    await expect(page.locator("#input-id")).to_have_value("R0009")
    await check_layout(page)
    await shot(page, "1-signin-unknown")
    await page.locator("#keypad button", has_text="清除").click()

    # a reading taken before anyone signed in is kept unattributed ...
    await gw.frame(cuff_frame(bpm(118, 76, 66), uuids.BLOOD_PRESSURE_MEASUREMENT))
    # ... the resident signs in with the QR code and claims it
    await page.locator("#input-qr").fill("hut:resident:R0003")
    await page.locator("#form-qr button[type=submit]").click()
    await expect(page.locator("#who")).to_contain_text("张桂兰")
    claim = page.locator("#claim-list li")
    await expect(claim).to_have_count(1)
    await expect(claim).to_contain_text("118/76")
    await check_layout(page)  # the claim panel does not push the page past the screen
    await shot(page, "2-claim")
    await claim.locator("button").click()
    await expect(page.locator("#result-label")).to_have_text("正常血压")
    await expect(page.locator("#result")).to_have_class("result cat-ok")
    await check_layout(page)
    await ctx.close()


async def test_a_resent_reading_tells_the_villager(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await sign_in_card(page, "NFC04A1B2C3", "王秀英")
    frame = bpm(128, 82, 70)
    await daemon.gateway.frame(cuff_frame(frame, uuids.BLOOD_PRESSURE_MEASUREMENT))
    await expect(page.locator("#result-values")).to_contain_text("128/82", timeout=3000)
    await daemon.gateway.frame(cuff_frame(frame, uuids.BLOOD_PRESSURE_MEASUREMENT))  # the cuff sends it again
    await expect(page.locator("#message")).to_contain_text("已经记过了", timeout=3000)
    await check_layout(page)
    rows = await daemon.outbox.history("R0001")
    assert len(rows) == 1
    await ctx.close()


# ---------------------------------------------------------------------------- crisis and alerts


async def test_crisis_result_double_tap_and_sign_out_question(browser: Any, daemon: Daemon) -> None:
    """A crisis looks unlike grade 2, asks for the doctor first, and its alert sits where a
    double tap cannot sign the resident out."""
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await sign_in_card(page, "NFC04A1B2C3", "王秀英")
    await measure(page, daemon, 168, 104, 80)  # grade 2: measure again first
    await expect(page.locator("#result-label")).to_have_text("2级高血压（中度）", timeout=2000)
    await expect(page.locator("#result")).to_have_class("result cat-danger")
    await expect(page.locator("#btn-again")).to_have_class("primary")
    await page.locator("#btn-again").click()

    await measure(page, daemon, 192, 118, 98)
    alert = page.locator("#alerts .alert[data-kind=bp_crisis]")
    await expect(alert).to_be_visible(timeout=2000)
    await expect(alert).to_contain_text("血压危急")
    await expect(alert).to_contain_text("王秀英")
    await expect(page.locator("#result")).to_have_class("result cat-crisis")
    await expect(page.locator("#result-badge")).to_be_visible()
    await expect(page.locator("#btn-help")).to_be_visible()
    await expect(page.locator("#btn-help")).to_have_class("primary")
    await expect(page.locator("#btn-again")).not_to_have_class("primary")
    await check_layout(page)
    await shot(page, "4-crisis")

    # the alert never covers the top bar
    dismiss = alert.locator("button.dismiss")
    box = await dismiss.bounding_box()
    out = await page.locator("#btn-signout").bounding_box()
    top = await page.locator("#topbar").bounding_box()
    assert box["y"] >= top["y"] + top["height"], (box, top)
    assert box["y"] >= out["y"] + out["height"], (box, out)

    # a double tap on "知道了" (150 ms apart) dismisses the alert and nothing else
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.click(x, y)
    await asyncio.sleep(0.15)
    await page.mouse.click(x, y)
    await expect(alert).to_have_count(0)
    await asyncio.sleep(0.7)
    await expect(page.locator("#view-result")).to_be_visible()
    assert (await session_of(daemon))["resident_id"] == "R0001"

    # the crisis help: the primary action
    await page.locator("#btn-help").click()
    dialog = page.locator("#dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("请身边的人马上去叫村医")
    await shot(page, "4-crisis-help")
    await page.locator("#dialog-yes").click()
    await expect(dialog).to_be_hidden()

    # signing out from the top bar while a result is on screen asks first
    await page.locator("#btn-signout").click()
    await expect(dialog).to_be_visible()
    await expect(page.locator("#dialog-text")).to_have_text("结果已经保存。现在退出吗？")
    await page.locator("#dialog-no").click()
    await expect(page.locator("#view-result")).to_be_visible()
    assert await session_of(daemon) is not None
    await page.locator("#btn-signout").click()
    await page.locator("#dialog-yes").click()
    await expect(page.locator("#view-signin")).to_be_visible()
    assert await session_of(daemon) is None
    await ctx.close()


async def test_a_residents_alert_leaves_with_her_session(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await sign_in_card(page, "NFC04A1B2C3", "王秀英")
    await measure(page, daemon, 196, 121, 98)
    alert = page.locator("#alerts .alert")
    await expect(alert).to_contain_text("王秀英", timeout=2000)
    # the next villager signs in (sign-out button or a new card): nothing of the previous one stays
    await page.locator("#btn-signout").click()
    await page.locator("#dialog-yes").click()
    await expect(alert).to_have_count(0)
    await sign_in_card(page, "88001234", "李建国")
    await expect(alert).to_have_count(0)
    await expect(page.locator("body")).not_to_contain_text("王秀英")
    await ctx.close()


async def test_an_open_alert_survives_a_reload_and_the_doctor_acknowledges_it(
    browser: Any, daemon: Daemon
) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await sign_in_card(page, "NFC04A1B2C3", "王秀英")
    await measure(page, daemon, 194, 120, 96)
    alert = page.locator("#alerts .alert[data-kind=bp_crisis]")
    await expect(alert).to_contain_text("王秀英", timeout=3000)
    await expect(alert).to_contain_text("还没有通知到人")  # who has been told: nobody (no SMS here)

    # a reload while the alert is open: it is still there (GET /api/v1/alerts)
    await page.reload()
    await expect(alert).to_contain_text("血压危急", timeout=5000)
    await expect(alert).to_contain_text("王秀英")
    # and it changes language with the page
    await page.locator("#btn-lang").click()
    await expect(alert).to_contain_text("Blood pressure crisis")
    await page.locator("#btn-lang").click()

    # the doctor acknowledges with the PIN, from the banner
    await alert.locator("button.ack").click()
    await expect(page.locator("#view-doctor")).to_be_visible()
    for key in PIN:
        await page.locator("#pin-keypad button", has_text=key).first.click()
    await page.locator("#form-pin button[type=submit]").click()
    await expect(page.locator("#message")).to_have_text("已确认，谢谢。")
    await expect(alert).to_contain_text("已由村医（小屋）确认")
    await expect(alert.locator("button.ack")).to_have_count(0)
    views = (await get_json(daemon.api_url + "/api/v1/alerts"))["alerts"]
    assert [(a["state"], a["ack_via"]) for a in views if a["kind"] == "bp_crisis"] == [
        ("acknowledged", "kiosk")
    ]
    await shot(page, "4-crisis-acknowledged")

    # an SOS from another resident's watch: a hut-wide banner, without her name
    await page.locator("#btn-doctor-exit").click()
    sos = daemon.alerts.raise_alert("sos", "critical", "R0003", "SOS button pressed")
    assert sos is not None
    await daemon.gateway.submit_alerts([sos])
    banner = page.locator("#alerts .alert[data-kind=sos]")
    await expect(banner).to_contain_text("紧急呼救", timeout=3000)
    await expect(banner).to_contain_text("有居民需要帮助")
    await expect(banner).not_to_contain_text("张桂兰")
    await expect(banner).not_to_contain_text("R0003")
    await expect(banner).to_contain_text("另有 1 条提醒")  # the acknowledged one waits its turn
    await shot(page, "4-sos-two-alerts")
    await check_layout(page)
    await banner.locator("button.dismiss").click()
    await expect(alert).to_contain_text("已由村医（小屋）确认")
    await ctx.close()


# ---------------------------------------------------------------------------- time, speech, keyboard


@pytest.mark.slow
async def test_warns_before_the_session_ends_and_holds_it_while_the_advice_asks_to_wait(
    browser: Any, state_dir: Path
) -> None:
    from playwright.async_api import expect

    async with Daemon(config(state_dir, session_timeout_s=4.0, result_hold_s=7.0)) as d:
        ctx, page = await open_kiosk(browser, d, 1024, 600)
        await page.locator("#btn-speech").click()
        await sign_in_card(page, "88001234", "李建国")
        # a normal result asks nothing of her: the session is not held
        await measure(page, d, 118, 76, 70)
        await expect(page.locator("#result-label")).to_have_text("正常血压", timeout=2000)
        dialog = page.locator("#dialog[data-kind=still_there]")
        await expect(dialog).to_be_visible(timeout=4000)
        await page.locator("#dialog-yes").click()
        await page.locator("#btn-again").click()
        await measure(page, d, 152, 94, 76)  # "measure again in 5 minutes"
        await expect(page.locator("#result-label")).to_have_text("1级高血压（轻度）", timeout=2000)
        shown = asyncio.get_running_loop().time()
        # longer than the session timeout, nobody touches the screen: still signed in on the result
        await asyncio.sleep(5.5)
        assert await session_of(d) is not None
        await expect(page.locator("#dialog")).to_be_hidden()
        # once the hold is over: "还要继续吗？" with a large 继续, spoken
        await expect(dialog).to_be_visible(timeout=6000)
        assert asyncio.get_running_loop().time() - shown >= 7.0
        await expect(page.locator("#dialog-text")).to_have_text("还要继续吗？")
        await expect(page.locator("#dialog-sub")).to_contain_text("秒后自动退出")
        assert ["zh-CN", "还要继续吗？"] in await page.evaluate("window.spoken")
        await check_layout(page)
        await shot(page, "6-still-there")
        await page.locator("#dialog-yes").click()  # 继续
        await expect(dialog).to_be_hidden()
        await asyncio.sleep(2.5)
        assert await session_of(d) is not None
        # nobody answers this time: signed out, and told so
        await expect(page.locator("#view-signin")).to_be_visible(timeout=10_000)
        await expect(page.locator("#message")).to_contain_text("太久没有操作，已自动退出")
        await expect(page.locator("#btn-signout")).to_be_hidden()
        await expect(page.locator("#dialog")).to_be_hidden()
        await ctx.close()


async def test_screen_readers_hear_the_result_and_the_messages(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await page.locator("#input-card").fill("77777777")
    await page.locator("#input-card").press("Enter")
    await expect(page.locator("#message")).to_contain_text("没有找到这个居民")
    await wait_js(page, "window.announced.some((a) => a.text.includes('没有找到这个居民'))")
    await sign_in_card(page, "NFC04A1B2C3", "王秀英")
    await measure(page, daemon, 162, 98, 78)
    await wait_js(page, "window.announced.some((a) => a.text.startsWith('高压162'))", 3.0)
    said = [a for a in await page.evaluate("window.announced") if a["text"].startswith("高压162")]
    # written after the result screen was shown and filled, in speech's own words
    assert said[0]["resultVisible"] and said[0]["labelFilled"], said
    assert said[0]["text"].startswith("高压162，低压98，脉搏78。2级高血压（中度）"), said
    # and the focus is on the result's heading
    assert await page.evaluate("document.activeElement.id") == "result-label"
    await page.locator("#btn-done").click()
    await wait_js(page, "window.announced.some((a) => a.text.includes('已退出'))")
    # the live region is on the page all along (a hidden one is not read)
    live = await page.locator("#announce").bounding_box()
    assert live is not None and live["width"] <= 1 and live["height"] <= 1, live  # visually hidden only
    await ctx.close()


async def test_sign_in_and_the_alert_by_keyboard(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    # Tab to the keypad; Enter and Space press its keys (the card-reader catcher leaves them alone)
    await page.locator("#keypad button", has_text="R").focus()
    await page.keyboard.press("Enter")
    for key in ("0", "0", "0", "2"):
        await page.locator("#keypad button", has_text=key).first.focus()
        await page.keyboard.press("Space")
    await expect(page.locator("#input-id")).to_have_value("R0002")
    await page.locator("#form-id button[type=submit]").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#who")).to_contain_text("李建国")
    # the focus moves with the screen
    await expect(page.locator("#h-measure")).to_be_focused()
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.id")
    assert focused == "btn-history", focused

    # an alert's buttons have a focus ring that shows on red
    await measure(page, daemon, 200, 125, 99)
    alert = page.locator("#alerts .alert")
    await expect(alert).to_be_visible(timeout=2000)
    await expect(page.locator("#result-label")).to_be_focused()
    await alert.locator("button.dismiss").focus()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Tab")
    ring = await page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return [document.activeElement.className, s.outlineStyle, s.outlineWidth,
                           s.outlineColor, s.boxShadow]; }"""
    )
    assert ring[0] == "dismiss" and ring[1] == "solid" and float(ring[2][:-2]) >= 4, ring
    assert ring[3] == "rgb(0, 0, 0)" and "rgb(255, 208, 0)" in ring[4], ring
    await page.keyboard.press("Enter")
    await expect(alert).to_have_count(0)

    # a dialog keeps Tab inside it (everything behind it is inert)
    await page.locator("#btn-signout").focus()
    await asyncio.sleep(0.7)  # past the guard after dismissing
    await page.keyboard.press("Enter")
    await expect(page.locator("#dialog")).to_be_visible()
    for _ in range(4):
        await page.keyboard.press("Tab")
        inside = await page.evaluate("!!document.activeElement.closest('#dialog')")
        assert inside or await page.evaluate("document.activeElement === document.body")
    await page.locator("#dialog-yes").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#view-signin")).to_be_visible()
    await expect(page.locator("#h-signin")).to_be_focused()
    await ctx.close()


# ---------------------------------------------------------------------------- history


async def test_history_back_stays_visible_and_a_watch_is_one_line(browser: Any, state_dir: Path) -> None:
    """Ten readings at 1024x600: 返回 stays on screen; a watch wearer's positions are one line of
    Chinese; repeated readings of one sitting make no trend; an offline hut's top bar stays one row."""
    from playwright.async_api import expect

    ZoneStore.in_state_dir(state_dir).save(
        [Zone("R0001", "home", "safe", Circle(30.5, 114.3, 500.0))], replace_resident="R0001"
    )
    cfg = config(state_dir, broker=f"mqtt://127.0.0.1:{free_port()}")
    async with Daemon(cfg) as d:
        now = datetime.now(UTC).replace(microsecond=0)
        for i in range(9):
            await put_manual(d, "R0001", 130 + i, 84, now - timedelta(days=9 - i))
        for k in range(12):  # a watch's positions, inside the safe zone
            body = {
                "kind": "position",
                "resident_id": "R0001",
                "values": {"latitude": 30.5 + k * 1e-5, "longitude": 114.3},
                "device_id": "watch-1",
            }
            status, data = await post_json(d.api_url + "/api/v1/readings", body)
            assert status == 201, data
        await put_manual(d, "R0001", 140, 86, now)

        ctx, page = await open_kiosk(browser, d, 1024, 600)
        await expect(page.locator("#uplink")).to_contain_text("未连县平台", timeout=5000)
        await sign_in_card(page, "NFC04A1B2C3", "王秀英")
        await page.locator("#btn-history").click()
        await expect(page.locator("#history-list li")).to_have_count(10)
        await expect(page.locator("#history-list")).not_to_contain_text("latitude")
        await expect(page.locator("#history-today")).to_have_text("今天的位置记录：12 次，都在安全范围内")
        await expect(page.locator("#history-trend")).to_contain_text("血压在上升")
        back = await page.locator("#btn-back").bounding_box()
        assert back["y"] + back["height"] <= 600, back
        m = await layout(page)
        assert m["overflowY"] <= 0 and m["topbarHeight"] <= 130, m
        await shot(page, "5-history-offline")
        await page.locator("#btn-back").click()
        await expect(page.locator("#view-measure")).to_be_visible()

        # 162 -> 192 -> 162 within a minute is one sitting: no "falling"
        await page.locator("#btn-signout").click()
        for i, sys in enumerate((162, 192, 162)):
            await put_manual(d, "R0002", sys, 96, now - timedelta(seconds=60 - 20 * i))
        await sign_in_card(page, "88001234", "李建国")
        await page.locator("#btn-history").click()
        await expect(page.locator("#history-list li")).to_have_count(3)
        await expect(page.locator("#history-trend")).to_be_hidden()

        # result with an offline uplink: the buttons stay above the fold, the bar one row
        await page.locator("#btn-back").click()
        await measure(page, d, 150, 92, 70)
        await expect(page.locator("#view-result")).to_be_visible(timeout=2000)
        await check_layout(page)
        await page.locator("#btn-lang").click()
        await expect(page.locator("#uplink")).to_contain_text("Offline")
        await check_layout(page)
        await shot(page, "3-result-offline-en")
        await ctx.close()


# ---------------------------------------------------------------------------- the doctor


async def test_doctor_enters_a_reading_on_the_screen_keypad(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await page.locator("#btn-doctor").click()
    await expect(page.locator("#h-doctor")).to_be_focused()
    for key in "0000":
        await page.locator("#pin-keypad button", has_text=key).first.click()
    await page.locator("#form-pin button[type=submit]").click()
    await expect(page.locator("#message")).to_contain_text("密码不对")
    # the PIN and 返回 do not touch
    pin = await page.locator("#input-pin").bounding_box()
    back = await page.locator("#btn-doctor-exit").bounding_box()
    assert pin["y"] >= back["y"] + back["height"] + 8 or pin["x"] + pin["width"] + 8 <= back["x"], (pin, back)
    for key in PIN:
        await page.locator("#pin-keypad button", has_text=key).first.click()
    await page.locator("#form-pin button[type=submit]").click()
    await expect(page.locator("#doctor-panel")).to_be_visible()
    await expect(page.locator("#doctor-unattributed li.empty")).to_have_text("没有。")
    form = page.locator("#form-manual")
    pad = page.locator("#manual-keypad")
    for name, value in (
        ("resident_id", "R0002"),
        ("systolic", "134"),
        ("diastolic", "86"),
        ("pulse_rate", "70"),
    ):
        await form.locator(f"[name={name}]").click()
        for key in value:
            await pad.locator("button", has_text=re.compile(f"^{key}$")).click()
    await expect(form.locator("[name=systolic]")).to_have_value("134")
    await check_layout(page)
    await pad.locator("button[type=submit]").click()
    await expect(page.locator("#message")).to_have_text("已保存。")
    rows = await daemon.outbox.history("R0002")
    assert [json.loads(r.payload)["values"]["systolic"]["value"] for r in rows] == [134]
    await ctx.close()


async def test_a_locked_out_doctor_sees_the_time_left(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1024, 600)
    await page.locator("#btn-doctor").click()
    for _ in range(5):
        await page.locator("#input-pin").fill("1111")
        async with page.expect_response(lambda r: r.url.endswith("/api/v1/doctor")):
            await page.locator("#form-pin button[type=submit]").click()
    await expect(page.locator("#message")).to_have_text("密码错误次数太多，请1分钟后再试。")
    await expect(page.locator("#input-pin")).to_be_disabled()
    await shot(page, "7-doctor-locked")
    # a reload still knows (the gateway tells), and the county sees it on /metrics
    await page.reload()
    await page.locator("#btn-doctor").click()
    await expect(page.locator("#message")).to_contain_text("请1分钟后再试")
    async with aiohttp.ClientSession() as s, s.get(daemon.api_url + "/metrics") as r:
        text = await r.text()
    assert "hutgw_doctor_lockouts_total 1" in text, text
    assert "hutgw_doctor_pin_failures_total 5" in text
    await ctx.close()


async def test_no_doctor_pin_configured_says_so(browser: Any, state_dir: Path) -> None:
    from playwright.async_api import expect

    async with Daemon(config(state_dir, pin=None)) as d:
        ctx, page = await open_kiosk(browser, d, 1024, 600)
        await page.locator("#btn-doctor").click()
        await expect(page.locator("#message")).to_contain_text("还没有设置村医密码")
        await expect(page.locator("#message")).to_contain_text("doctor_pin")
        await expect(page.locator("#view-signin")).to_be_visible()
        await ctx.close()


# ---------------------------------------------------------------------------- other screens and set-ups


async def test_large_screen(browser: Any, daemon: Daemon) -> None:
    from playwright.async_api import expect

    ctx, page = await open_kiosk(browser, daemon, 1920, 1080)
    await check_layout(page)
    await sign_in_card(page, "NFC04A1B2C3", "王秀英")
    await measure(page, daemon, 168, 104, 80)
    await expect(page.locator("#result-label")).to_have_text("2级高血压（中度）", timeout=2000)
    await expect(page.locator("#result-advice")).to_contain_text("今天找村医")
    await check_layout(page)
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
        assert page.failed == [], page.failed
        await ctx.close()
