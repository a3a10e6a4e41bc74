"""What the kiosk page reads from the local API, over real HTTP on the real core (no browser):
the history a villager sees (health readings, a watch summarised, trends over days), what the
page needs on start, the doctor's lock-out time, re-sent readings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from drivers.frames import RawFrame
from drivers.gatt import uuids
from gateway.api import kiosk
from gateway.api.history import sittings, trend_of
from gateway.config import ApiConfig
from tests.support.kiosk import CUFF_ADDRESS, KioskRig, bpm, kiosk_gateway

PIN = "2468"


@pytest.fixture
async def rig(state_dir: Path) -> AsyncIterator[KioskRig]:
    async with kiosk_gateway(state_dir, ApiConfig(doctor_pin=PIN, result_hold_s=360.0)) as r:
        r.app[kiosk.WATCH_INTERVAL] = 0.02
        yield r


@pytest.fixture
async def client(rig: KioskRig) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(rig.app)) as c:
        yield c


async def body(resp: Any) -> Any:
    return json.loads(await resp.text())


async def post(
    client: TestClient, resident: str, kind: str, values: dict[str, float], at: Any = None
) -> None:
    data: dict[str, Any] = {"kind": kind, "resident_id": resident, "values": values}
    if at is not None:
        data["measured_at"] = at.isoformat()
    r = await client.post("/api/v1/readings", json=data)
    assert r.status == 201, await r.text()


async def history(client: TestClient, resident: str, query: str = "") -> Any:
    r = await client.get(f"/api/v1/residents/{resident}/history{query}", headers={"X-Doctor-PIN": PIN})
    assert r.status == 200, await r.text()
    return await body(r)


async def test_a_watch_wearers_history_shows_her_blood_pressure(client: TestClient, rig: KioskRig) -> None:
    now = rig.clock.now()
    await post(
        client, "R0001", "blood_pressure", {"systolic": 138, "diastolic": 86}, now - timedelta(hours=1)
    )
    for k in range(30):  # a watch: positions and heart rates all day
        await post(client, "R0001", "position", {"latitude": 30.5 + k * 1e-5, "longitude": 114.3})
        await post(client, "R0001", "heart_rate", {"heart_rate": 60 + k})
    got = await history(client, "R0001", "?limit=10")
    assert [r["kind"] for r in got["readings"]] == ["blood_pressure"]
    assert got["today"]["position"] == {"count": 30, "fenced": False, "outside": 0}
    assert got["today"]["heart_rate"] == {"count": 30, "min": 60.0, "max": 89.0}
    # the doctor can still ask for positions
    got = await history(client, "R0001", "?kind=position&limit=5")
    assert [r["kind"] for r in got["readings"]] == ["position"] * 5


async def test_readings_of_one_sitting_are_one_measurement(client: TestClient, rig: KioskRig) -> None:
    now = rig.clock.now() - timedelta(hours=3)
    for i, sys in enumerate((162, 192, 162)):  # within a minute: one sitting
        await post(
            client,
            "R0002",
            "blood_pressure",
            {"systolic": sys, "diastolic": 96},
            now + timedelta(seconds=20 * i),
        )
    trend = (await history(client, "R0002"))["trend"]["blood_pressure"]["systolic"]
    assert (trend["count"], trend["readings"], trend["direction"]) == (1, 3, "unknown")
    assert trend["last"] == 172.0  # their mean, as the guideline takes it

    # two sittings the same morning: still no trend (trends are over days)
    await post(
        client, "R0002", "blood_pressure", {"systolic": 140, "diastolic": 90}, now + timedelta(hours=2)
    )
    trend = (await history(client, "R0002"))["trend"]["blood_pressure"]["systolic"]
    assert (trend["count"], trend["direction"]) == (2, "unknown")

    # over days: a direction
    for days, sys in ((3, 120), (2, 125)):
        await post(
            client, "R0002", "blood_pressure", {"systolic": sys, "diastolic": 80}, now - timedelta(days=days)
        )
    trend = (await history(client, "R0002"))["trend"]["blood_pressure"]["systolic"]
    assert (trend["count"], trend["direction"]) == (4, "rising")


async def test_ten_days_of_readings_have_a_trend(client: TestClient, rig: KioskRig) -> None:
    now = rig.clock.now()
    for i in range(9):
        await post(
            client,
            "R0001",
            "blood_pressure",
            {"systolic": 130 + i, "diastolic": 84},
            now - timedelta(days=9 - i),
        )
    await post(client, "R0001", "blood_pressure", {"systolic": 140, "diastolic": 86}, now)
    got = await history(client, "R0001", "?limit=10")
    assert len(got["readings"]) == 10
    assert got["trend"]["blood_pressure"]["systolic"]["direction"] == "rising"


def test_sittings_are_grouped_by_gap() -> None:
    minute = 1 / 1440
    pts = [(0.0, 160.0), (minute, 190.0), (2 * minute, 160.0), (1.0, 140.0), (1.0 + 40 * minute, 150.0)]
    assert sittings(pts, 30 * minute) == [(minute, 170.0), (1.0, 140.0), (1.0 + 40 * minute, 150.0)]
    assert trend_of([(0.0, 150.0), (0.1, 120.0)], 5.0, min_span=0.8).direction == "unknown"
    assert trend_of([(0.0, 150.0), (1.0, 120.0)], 5.0, min_span=0.8).direction == "falling"


async def test_the_page_learns_what_it_needs_on_start(client: TestClient) -> None:
    got = await body(await client.get("/api/v1/kiosk"))
    assert got["crisis"] == {"systolic": 180, "diastolic": 110}
    assert got["result_hold_s"] == 360.0
    assert got["doctor_locked_s"] == 0
    assert got["doctor_pin"] is True


async def test_the_doctor_lock_out_tells_its_time_everywhere(client: TestClient, rig: KioskRig) -> None:
    for _ in range(4):
        r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "0000"})
        assert r.status == 401 and "retry_after_s" not in await body(r)
    r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "0000"})
    assert r.status == 401
    assert (await body(r))["retry_after_s"] == 60 and r.headers["Retry-After"] == "60"
    rig.clock.advance(15)
    r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": PIN})
    assert r.status == 429 and (await body(r))["retry_after_s"] == 45
    assert (await body(await client.get("/api/v1/kiosk")))["doctor_locked_s"] == 45
    metrics = await (await client.get("/metrics")).text()
    assert "hutgw_doctor_lockouts_total 1" in metrics
    assert "hutgw_doctor_pin_failures_total 5" in metrics
    assert "hutgw_doctor_locked_seconds 45" in metrics


async def test_a_resent_reading_is_announced(client: TestClient, rig: KioskRig) -> None:
    r = await client.get("/api/v1/events")
    lines: list[str] = []

    async def until_duplicate() -> None:
        while True:
            raw = await r.content.readline()
            lines.append(raw.decode())
            if raw.startswith(b"event: duplicate"):
                data = await r.content.readline()
                assert json.loads(data.decode().removeprefix("data: ")) == {"count": 1}
                return

    frame = RawFrame(
        "ble_gatt", CUFF_ADDRESS, bpm(128, 82, 70), rig.clock.now(), channel=uuids.BLOOD_PRESSURE_MEASUREMENT
    )
    await rig.gateway.frame(frame)
    await rig.gateway.frame(frame)
    await asyncio.wait_for(until_duplicate(), 5)
    assert rig.gateway.counters.duplicates == 1


async def test_the_token_may_come_in_the_query(state_dir: Path) -> None:
    """``?token=`` is accepted by the guard; a route's own query check must not refuse it."""
    cfg = ApiConfig(listen="0.0.0.0:8080", token="tok-1", doctor_pin=PIN)
    async with kiosk_gateway(state_dir, cfg) as rig, TestClient(TestServer(rig.app)) as c:
        r = await c.get("/api/v1/residents/R0001/history?token=tok-1&limit=5", headers={"X-Doctor-PIN": PIN})
        assert r.status == 200, await r.text()
        r = await c.get("/api/v1/readings/unattributed?token=tok-1", headers={"X-Doctor-PIN": PIN})
        assert r.status == 200, await r.text()
