"""The kiosk's local API over real HTTP (aiohttp test server on a real socket), no browser:
sessions, the event stream, history, assignment, the doctor, tokens, CORS and the page files."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from buffer import OutboxSettings
from buffer.record import Lane, Record, Stored
from drivers.frames import RawFrame
from drivers.gatt import uuids
from gateway.api import kiosk, stream
from gateway.api.app import build_app, check_exposure
from gateway.api.history import trend_of
from gateway.api.page import FILES
from gateway.config import ApiConfig
from gateway.errors import ConfigError
from tests.support.kiosk import CUFF_ADDRESS, KioskRig, bpm, cuff_pressure, kiosk_gateway
from uplink.codec import wire_dict

PIN = "2468"
ROOT = Path(__file__).resolve().parents[2]
JSON_HEADERS = {"Content-Type": "application/json"}
BP = {"kind": "blood_pressure", "values": {"systolic": 150, "diastolic": 85, "pulse_rate": 70}}


# ---------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
async def rig(state_dir: Path) -> AsyncIterator[KioskRig]:
    async with kiosk_gateway(state_dir, ApiConfig(doctor_pin=PIN)) as r:
        r.app[kiosk.WATCH_INTERVAL] = 0.02
        yield r


@pytest.fixture
async def client(rig: KioskRig) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(rig.app)) as c:
        yield c


async def sign_in(client: TestClient, method: str, value: str) -> ClientResponse:
    return await client.post("/api/v1/session", json={"method": method, "value": value})


async def body(resp: ClientResponse) -> Any:
    return json.loads(await resp.text())


def fields(data: dict[str, Any]) -> set[str]:
    return {e["field"] for e in data.get("errors", [])}


class Sse:
    """Reads Server-Sent Events off a streaming response."""

    def __init__(self, resp: ClientResponse) -> None:
        self.resp = resp

    async def next(self) -> dict[str, str]:
        msg: dict[str, str] = {}
        while True:
            raw = await self.resp.content.readline()
            if not raw:
                raise EOFError("stream ended")
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                return {"comment": line[1:].strip()}
            if line == "":
                if msg:
                    return msg
                continue
            key, _, value = line.partition(": ")
            msg[key] = value

    async def until(self, type: str, pred: Any = None, *, within: float = 10.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                m = await self.next()
                if m.get("event") == type:
                    data = json.loads(m["data"])
                    if pred is None or pred(data):
                        return data

        return await asyncio.wait_for(find(), within)


async def open_stream(client: TestClient, **kw: Any) -> Sse:
    resp = await client.get("/api/v1/events", **kw)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    sse = Sse(resp)
    await sse.until("hello")
    return sse


def cuff_frame(rig: KioskRig, data: bytes, characteristic: str) -> RawFrame:
    return RawFrame("ble_gatt", CUFF_ADDRESS, data, rig.clock.now(), channel=characteristic)


# ---------------------------------------------------------------------------- sessions


async def test_sign_in_by_id_card_and_qr(client: TestClient) -> None:
    r = await sign_in(client, "id", "R0001")
    assert r.status == 201
    s = (await body(r))["session"]
    assert (s["resident_id"], s["display_name"], s["method"]) == ("R0001", "王秀英", "id")
    assert s["timeout_s"] == 180.0

    r = await sign_in(client, "card", " 88001234\n")  # keyboard-wedge readers add whitespace
    assert r.status == 201
    assert (await body(r))["session"]["resident_id"] == "R0002"

    r = await sign_in(client, "qr", "hut:resident:R0003")
    assert r.status == 201
    assert (await body(r))["session"]["method"] == "qr"

    r = await sign_in(client, "id", "r0001")  # keypad letters are upper case, ids may not be
    assert (await body(r))["session"]["resident_id"] == "R0001"

    got = await body(await client.get("/api/v1/session"))
    assert got["session"]["resident_id"] == "R0001"
    r = await client.delete("/api/v1/session")
    assert r.status == 200
    assert (await body(await client.get("/api/v1/session")))["session"] is None
    assert (await client.delete("/api/v1/session")).status == 200  # signing out twice is fine


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"method": "id", "value": "R9999"}, 404, "value"),
        ({"method": "card", "value": "12345"}, 404, "value"),
        ({"method": "qr", "value": "https://example.com/R0001"}, 422, "value"),
        ({"method": "qr", "value": "hut:resident:"}, 422, "value"),
        ({"method": "id", "value": "11010519491231002X"}, 422, "value"),  # national ID shape
        ({"method": "id", "value": ""}, 422, "value"),
        ({"method": "id", "value": "   "}, 422, "value"),
        ({"method": "face", "value": "R0001"}, 422, "method"),
        ({"value": "R0001"}, 422, "method"),
        ({"method": "id", "value": "R0001", "pin": "1"}, 422, "pin"),
        ({"method": "id", "value": 1}, 422, "value"),
    ],
)
async def test_bad_sign_in_is_refused_naming_the_field(
    client: TestClient, payload: dict[str, Any], status: int, field: str
) -> None:
    r = await client.post("/api/v1/session", json=payload)
    assert r.status == status
    data = await body(r)
    assert field in fields(data), data
    assert (await body(await client.get("/api/v1/session")))["session"] is None


async def test_sign_in_with_a_body_that_is_not_json(client: TestClient) -> None:
    r = await client.post("/api/v1/session", data=b"\xff{not json", headers=JSON_HEADERS)
    assert r.status == 422
    assert (await body(r))["error"] == "invalid sign-in"


async def test_session_times_out_after_inactivity_and_touch_keeps_it(
    client: TestClient, rig: KioskRig
) -> None:
    sse = await open_stream(client)
    await sign_in(client, "id", "R0001")
    ev = await sse.until("session")
    assert (ev["reason"], ev["session"]["resident_id"]) == ("signed_in", "R0001")

    rig.clock.advance(150)
    r = await client.post("/api/v1/session/touch")
    assert r.status == 200
    rig.clock.advance(150)  # 300 s since sign-in, 150 s since the touch
    assert (await body(await client.get("/api/v1/session")))["session"]["resident_id"] == "R0001"

    rig.clock.advance(31)  # 181 s without activity
    ev = await sse.until("session")
    assert ev == {"session": None, "reason": "timeout"}
    assert (await body(await client.get("/api/v1/session")))["session"] is None
    r = await client.post("/api/v1/session/touch")
    assert r.status == 409


async def test_kiosk_info(client: TestClient) -> None:
    info = await body(await client.get("/api/v1/kiosk"))
    assert info["gateway_id"] == "hut-test"
    assert info["id_keys"] == ["R"]
    assert info["doctor_pin"] is True
    assert info["uplink"] == {"enabled": False, "connected": False}
    assert info["session"] is None


# ---------------------------------------------------------------------------- event stream


async def test_posted_reading_appears_on_the_stream_within_a_second(client: TestClient) -> None:
    sse = await open_stream(client)
    started = time.monotonic()
    r = await client.post("/api/v1/readings", json={**BP, "resident_id": "R0002"})
    assert r.status == 201
    rid = (await body(r))["id"]
    ev = await sse.until("reading", lambda d: d["id"] == rid, within=1.0)
    assert time.monotonic() - started < 1.0
    assert ev["resident_id"] == "R0002"
    c = ev["classification"]
    assert (c["category"], c["label_zh"]) == ("isolated_systolic", "单纯收缩期高血压(1级)")
    assert "2018" in c["version"]


async def test_cuff_measures_through_the_frame_sink(client: TestClient, rig: KioskRig) -> None:
    sse = await open_stream(client)
    await sign_in(client, "card", "NFC04A1B2C3")
    for p in (40, 120, 165):
        await rig.gateway.frame(cuff_frame(rig, cuff_pressure(p), uuids.INTERMEDIATE_CUFF_PRESSURE))
        ev = await sse.until("cuff_pressure")
        assert ev == {"device": "cuff-1", "pressure_mmhg": p}
    await rig.gateway.frame(cuff_frame(rig, bpm(128, 82, 71), uuids.BLOOD_PRESSURE_MEASUREMENT))
    ev = await sse.until("reading")
    assert (ev["resident_id"], ev["attribution"]) == ("R0001", "session")
    assert ev["classification"]["category"] == "high_normal"
    assert ev["values"]["systolic"]["value"] == 128


async def test_crisis_reading_raises_an_alert_on_the_stream(client: TestClient) -> None:
    sse = await open_stream(client)
    await client.post(
        "/api/v1/readings",
        json={
            "kind": "blood_pressure",
            "resident_id": "R0003",
            "values": {"systolic": 192, "diastolic": 118},
        },
    )
    alert = await sse.until("alert")
    assert (alert["kind"], alert["severity"], alert["resident_id"]) == ("bp_crisis", "critical", "R0003")


async def test_stream_sends_heartbeats_and_forgets_clients_that_left(state_dir: Path) -> None:
    async with kiosk_gateway(state_dir, ApiConfig()) as rig:
        rig.app[stream.HEARTBEAT] = 0.05
        async with TestClient(TestServer(rig.app)) as client:
            sse = await open_stream(client)
            assert rig.gateway.events.subscriber_count == 1
            assert await asyncio.wait_for(sse.next(), 5) == {"comment": "keep-alive"}
            sse.resp.close()  # the browser tab went away
            for _ in range(500):
                if rig.gateway.events.subscriber_count == 0:
                    break
                await asyncio.sleep(0.01)
            assert rig.gateway.events.subscriber_count == 0
            assert not rig.app[stream.STREAMS].queues


async def test_server_shutdown_ends_open_streams(state_dir: Path) -> None:
    async with kiosk_gateway(state_dir, ApiConfig()) as rig:
        server = TestServer(rig.app)
        await server.start_server()
        async with aiohttp.ClientSession() as session:
            resp = await session.get(server.make_url("/api/v1/events"))
            sse = Sse(resp)
            await sse.until("hello")
            # the daemon stops: without the shutdown hook the stream would hold the server for
            # its whole shutdown timeout (60 s here) and then be cancelled
            closing = asyncio.create_task(server.close())
            with pytest.raises((EOFError, aiohttp.ClientError)):
                while True:
                    await asyncio.wait_for(sse.next(), 10)
            await asyncio.wait_for(closing, 10)
        assert rig.gateway.events.subscriber_count == 0


async def test_uplink_and_unknown_events_are_forwarded(client: TestClient, rig: KioskRig) -> None:
    sse = await open_stream(client)
    rig.gateway.events.publish("measurement_started", {"device": "cuff-1"})
    assert await sse.until("measurement_started") == {"device": "cuff-1"}
    rig.gateway.events.publish("uplink", {"enabled": True, "connected": True})
    assert (await sse.until("uplink"))["connected"] is True


# ---------------------------------------------------------------------------- history


async def put_manual(client: TestClient, resident: str, sys: int, dia: int, at: datetime) -> str:
    r = await client.post(
        "/api/v1/doctor/readings",
        json={
            "kind": "blood_pressure",
            "resident_id": resident,
            "values": {"systolic": sys, "diastolic": dia},
            "measured_at": at.isoformat(),
        },
        headers={"X-Doctor-PIN": PIN},
    )
    assert r.status == 201, await r.text()
    return str((await body(r))["id"])


async def test_history_only_for_the_signed_in_resident(client: TestClient, rig: KioskRig) -> None:
    now = rig.clock.now()
    for days, sys in ((20, 128), (10, 136), (5, 142), (1, 151)):
        await put_manual(client, "R0001", sys, 84, now - timedelta(days=days))
    await put_manual(client, "R0002", 118, 76, now - timedelta(days=2))

    assert (await client.get("/api/v1/residents/R0001/history")).status == 403  # nobody signed in
    await sign_in(client, "id", "R0001")
    r = await client.get("/api/v1/residents/R0002/history")
    assert r.status == 403
    assert (await client.get("/api/v1/residents/R9999/history")).status == 403  # no probing

    got = await body(await client.get("/api/v1/residents/R0001/history"))
    assert got["display_name"] == "王秀英"
    assert [x["values"]["systolic"]["value"] for x in got["readings"]] == [151, 142, 136, 128]
    assert {x["resident_id"] for x in got["readings"]} == {"R0001"}
    assert got["readings"][0]["state"] == "pending"
    trend = got["trend"]["blood_pressure"]["systolic"]
    assert (trend["count"], trend["direction"], trend["last"], trend["max"]) == (4, "rising", 151, 151)
    assert trend["change"] > 15
    assert got["trend"]["blood_pressure"]["diastolic"]["direction"] == "stable"

    got = await body(await client.get("/api/v1/residents/R0001/history?days=7&limit=1"))
    assert [x["values"]["systolic"]["value"] for x in got["readings"]] == [151]

    # the doctor sees anyone's
    r = await client.get("/api/v1/residents/R0002/history", headers={"X-Doctor-PIN": PIN})
    assert [x["values"]["systolic"]["value"] for x in (await body(r))["readings"]] == [118]
    r = await client.get("/api/v1/residents/R9999/history", headers={"X-Doctor-PIN": PIN})
    assert r.status == 404
    # a wrong PIN is refused even though a resident is signed in
    r = await client.get("/api/v1/residents/R0001/history", headers={"X-Doctor-PIN": "0000"})
    assert r.status == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=abc", "limit"), ("days=-1", "days"), ("kind=blood", "kind"), ("x=1", "x")],
)
async def test_history_bad_query_names_the_field(client: TestClient, query: str, field: str) -> None:
    await sign_in(client, "id", "R0001")
    r = await client.get(f"/api/v1/residents/R0001/history?{query}")
    assert r.status == 422
    assert field in fields(await body(r))


# ---------------------------------------------------------------------------- unattributed and assignment


async def stored(rig: KioskRig, reading_id: str) -> tuple[Stored, dict[str, Any]]:
    s = await rig.outbox.get(reading_id)
    assert s is not None
    return s, wire_dict(s.payload)


async def test_signed_in_resident_claims_a_just_measured_reading(client: TestClient, rig: KioskRig) -> None:
    r = await client.post("/api/v1/readings", json=BP)  # nobody signed in: unattributed
    rid = (await body(r))["id"]
    assert (await client.get("/api/v1/readings/unattributed")).status == 403
    assert (await client.post(f"/api/v1/readings/{rid}/assign", json={})).status == 403

    sse = await open_stream(client)
    await sign_in(client, "id", "R0003")
    listed = await body(await client.get("/api/v1/readings/unattributed"))
    assert [x["id"] for x in listed["readings"]] == [rid]
    assert listed["window_s"] == 600

    r = await client.post(f"/api/v1/readings/{rid}/assign", json={"resident_id": "R0001"})
    assert r.status == 403  # not for someone else
    r = await client.post(f"/api/v1/readings/{rid}/assign")
    assert r.status == 200
    got = (await body(r))["reading"]
    assert (got["id"], got["resident_id"]) == (rid, "R0003")
    assert (got["attribution"], got["revision"]) == ("assigned", 1)
    ev = await sse.until("reading", lambda d: d["id"] == rid)
    assert ev["resident_id"] == "R0003"

    s, data = await stored(rig, rid)  # same id, new revision: an update for the county
    assert (s.key, data["resident_id"], data["revision"]) == ("R0003", "R0003", 1)
    assert (await client.post(f"/api/v1/readings/{rid}/assign")).status == 409
    assert (await body(await client.get("/api/v1/readings/unattributed")))["readings"] == []
    history = await body(await client.get("/api/v1/residents/R0003/history"))
    assert [x["id"] for x in history["readings"]] == [rid]


async def test_old_readings_need_the_doctor(client: TestClient, rig: KioskRig) -> None:
    rid = (await body(await client.post("/api/v1/readings", json=BP)))["id"]
    rig.clock.advance(601)
    await sign_in(client, "id", "R0003")
    assert (await body(await client.get("/api/v1/readings/unattributed")))["readings"] == []
    assert (await client.post(f"/api/v1/readings/{rid}/assign")).status == 403

    doc = {"X-Doctor-PIN": PIN}
    listed = await body(await client.get("/api/v1/readings/unattributed", headers=doc))
    assert [x["id"] for x in listed["readings"]] == [rid]
    r = await client.post(f"/api/v1/readings/{rid}/assign", json={}, headers=doc)
    assert r.status == 422
    assert fields(await body(r)) == {"resident_id"}
    r = await client.post(f"/api/v1/readings/{rid}/assign", json={"resident_id": "R9999"}, headers=doc)
    assert r.status == 422
    assert fields(await body(r)) == {"resident_id"}
    r = await client.post(f"/api/v1/readings/{rid}/assign", json={"resident_id": "R0002"}, headers=doc)
    assert r.status == 200
    assert (await stored(rig, rid))[1]["resident_id"] == "R0002"
    r = await client.post("/api/v1/readings/nope/assign", json={"resident_id": "R0002"}, headers=doc)
    assert r.status == 404
    r = await client.post(f"/api/v1/readings/{rid}/assign", json={"resident": "R0002"}, headers=doc)
    assert r.status == 422
    assert "resident" in fields(await body(r))


# ---------------------------------------------------------------------------- the doctor


async def test_doctor_pin_and_token(state_dir: Path) -> None:
    cfg = ApiConfig(doctor_pin=PIN, token="tok-3f9a")
    async with kiosk_gateway(state_dir, cfg) as rig, TestClient(TestServer(rig.app)) as client:
        assert (await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": PIN})).status == 200
        bearer = {"Authorization": "Bearer tok-3f9a"}
        assert (await client.get("/api/v1/doctor", headers=bearer)).status == 200
        assert (await client.get("/api/v1/doctor")).status == 401
        assert (await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "1357"})).status == 401
        assert (await client.get("/api/v1/doctor", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (await client.get("/api/v1/doctor", headers={"Authorization": "Basic eDp5"})).status == 401


async def test_wrong_pins_are_rate_limited(client: TestClient, rig: KioskRig) -> None:
    for _ in range(4):
        assert (await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "0000"})).status == 401
    r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "0000"})
    assert r.status == 401  # the fifth wrong one starts the lock-out
    r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": PIN})
    assert r.status == 429  # even the right PIN waits
    assert r.headers["Retry-After"] == "60"
    rig.clock.advance(61)
    assert (await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": PIN})).status == 200
    # the next lock-out is longer
    for _ in range(5):
        await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "0000"})
    for _ in range(5):
        await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "1111"})
    r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": PIN})
    assert r.status == 429


async def test_doctor_without_pin_configured(state_dir: Path) -> None:
    async with kiosk_gateway(state_dir, ApiConfig()) as rig, TestClient(TestServer(rig.app)) as client:
        r = await client.get("/api/v1/doctor", headers={"X-Doctor-PIN": "1234"})
        assert r.status == 401
        assert "doctor_pin" in (await body(r))["error"]


async def test_doctor_manual_entry(client: TestClient, rig: KioskRig) -> None:
    sse = await open_stream(client)
    r = await client.post(
        "/api/v1/doctor/readings",
        json={
            "kind": "blood_pressure",
            "resident_id": "R0002",
            "values": {"systolic": 165, "diastolic": 102},
        },
        headers={"X-Doctor-PIN": PIN},
    )
    assert r.status == 201
    got = await body(r)
    assert got["reading"]["classification"]["category"] == "grade_2"
    assert (await sse.until("reading"))["id"] == got["id"]
    s, data = await stored(rig, got["id"])
    assert (data["attribution"], data["extras"]["entered_by"], s.key) == ("manual", "doctor", "R0002")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "blood_pressure", "values": {"systolic": 120, "diastolic": 80}}, "resident_id"),
        ({"kind": "blood_pressure", "resident_id": "R0001", "values": {"systolic": 120}}, "values.diastolic"),
        (
            {"kind": "blood_pressure", "resident_id": "R0001", "values": {"systolic": "x", "diastolic": 80}},
            "values.systolic",
        ),
        ({"kind": "sugar", "resident_id": "R0001", "values": {"glucose": 5}}, "kind"),
        (
            {"kind": "blood_pressure", "resident_id": "R9999", "values": {"systolic": 120, "diastolic": 80}},
            "resident_id",
        ),
        (
            {
                "kind": "blood_pressure",
                "resident_id": "R0001",
                "values": {"systolic": 120, "diastolic": 80},
                "measured_at": "2026-11-29T06:00:00",
            },
            "measured_at",
        ),
        (
            {
                "kind": "blood_pressure",
                "resident_id": "R0001",
                "values": {"systolic": 120, "diastolic": 80},
                "device": "x",
            },
            "device",
        ),
    ],
)
async def test_doctor_manual_entry_bad_input(
    client: TestClient, rig: KioskRig, payload: dict[str, Any], field: str
) -> None:
    r = await client.post("/api/v1/doctor/readings", json=payload, headers={"X-Doctor-PIN": PIN})
    assert r.status == 422
    assert field in fields(await body(r))
    assert await rig.outbox.list(stream="readings") == []


async def test_manual_entry_needs_the_doctor(client: TestClient, rig: KioskRig) -> None:
    payload = {"kind": "blood_pressure", "resident_id": "R0001", "values": {"systolic": 120, "diastolic": 80}}
    assert (await client.post("/api/v1/doctor/readings", json=payload)).status == 401
    r = await client.post("/api/v1/doctor/readings", json=payload, headers={"X-Doctor-PIN": "9999"})
    assert r.status == 401
    assert await rig.outbox.list(stream="readings") == []


# ---------------------------------------------------------------------------- token, CORS, page


async def test_exposed_api_requires_the_token(state_dir: Path) -> None:
    with pytest.raises(ConfigError):
        check_exposure(ApiConfig(listen="0.0.0.0:8080"))
    cfg = ApiConfig(listen="0.0.0.0:8080", token="tok-3f9a")
    async with kiosk_gateway(state_dir, cfg) as rig, TestClient(TestServer(rig.app)) as client:
        assert (await client.get("/api/v1/kiosk")).status == 401
        assert (await client.get("/api/v1/kiosk", headers={"Authorization": "Bearer nope"})).status == 401
        assert (await client.get("/api/v1/kiosk", headers={"Authorization": "tok-3f9a"})).status == 401
        assert (await client.get("/api/v1/events")).status == 401
        assert (await sign_in(client, "id", "R0001")).status == 401
        assert (await client.get("/api/v1/kiosk", headers={"Authorization": "Bearer tok-3f9a"})).status == 200
        await open_stream(client, params={"token": "tok-3f9a"})  # EventSource cannot send headers
        assert (await client.get("/")).status == 200  # the page itself holds no data


async def test_cors_is_closed(client: TestClient) -> None:
    evil = {"Origin": "http://evil.example"}
    r = await client.post("/api/v1/session", json={"method": "id", "value": "R0001"}, headers=evil)
    assert r.status == 403
    assert (await body(await client.get("/api/v1/session")))["session"] is None
    r = await client.options("/api/v1/session", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert r.status == 403
    r = await client.get("/api/v1/kiosk", headers=evil)
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    r = await client.post("/api/v1/readings/x/assign", json={}, headers=evil)
    assert r.status == 403


async def test_page_is_served_and_needs_no_network(client: TestClient) -> None:
    r = await client.get("/")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    html = await r.text()
    assert 'lang="zh-CN"' in html
    for name, ctype in FILES.items():
        r = await client.get(f"/static/{name}")
        assert r.status == 200
        assert r.headers["Content-Type"].startswith(ctype)
        text = await r.text()
        # no CDN, no remote font, no other host: only relative URLs
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), name
        assert not re.search(r"url\(\s*[\"']?(https?:)?//", text), name
        assert "@import" not in text
    assert (await client.get("/static/../app.py")).status == 404
    assert (await client.get("/static/secret.txt")).status == 404


# ---------------------------------------------------------------------------- OpenAPI document


def test_openapi_document_is_valid_and_lists_every_route(rig: KioskRig) -> None:
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    # the alerts routes need the notify engine (a daemon's app; tests/kiosk/test_openapi_fuzz.py)
    documented = {
        (path, method.upper())
        for path, ops in doc["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "delete", "patch") and "alerts" not in ops[method].get("tags", ())
    }
    routes = set()
    for route in build_app(rig.ports, ApiConfig()).router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        routes.add((path, route.method))
    assert routes - documented == set(), "routes missing from docs/openapi.yaml"
    assert documented - routes == set(), "docs/openapi.yaml documents routes the app does not have"


# ---------------------------------------------------------------------------- trend and damaged rows


@pytest.mark.parametrize(
    ("points", "direction", "change"),
    [
        ([(0.0, 150.0), (10.0, 140.0), (20.0, 130.0)], "falling", -20.0),
        ([(0.0, 130.0), (10.0, 134.0), (20.0, 132.0)], "stable", 2.0),
        ([(20.0, 150.0), (0.0, 120.0)], "rising", 30.0),  # any order
        ([(0.0, 150.0)], "unknown", 0.0),
        ([(5.0, 150.0), (5.0, 110.0)], "stable", 0.0),  # same instant: no slope
    ],
)
def test_trend(points: list[tuple[float, float]], direction: str, change: float) -> None:
    t = trend_of(points, 5.0)
    assert (t.direction, t.change, t.count) == (direction, change, len(points))


async def test_a_damaged_record_does_not_hide_the_history(client: TestClient, rig: KioskRig) -> None:
    good = await put_manual(client, "R0001", 128, 82, rig.clock.now())
    bp = ("readings", Lane.CLINICAL, "blood_pressure")
    await rig.outbox.put(Record("01-bad", *bp, b"\x00{", "R0001"))
    await rig.outbox.put(Record("02-bad", *bp, b"{}", None))
    r = await client.get("/api/v1/residents/R0001/history", headers={"X-Doctor-PIN": PIN})
    assert r.status == 200
    assert [x["id"] for x in (await body(r))["readings"]] == [good]
    r = await client.get("/api/v1/readings/unattributed", headers={"X-Doctor-PIN": PIN})
    assert (await body(r))["readings"] == []
    r = await client.post(
        "/api/v1/readings/02-bad/assign", json={"resident_id": "R0001"}, headers={"X-Doctor-PIN": PIN}
    )
    assert r.status == 404


async def test_a_201_means_fsynced_even_for_telemetry(state_dir: Path) -> None:
    """Telemetry nobody was told about may wait for the outbox's periodic fsync; a reading the API
    answers 201 for may not (the client is told it is safe)."""
    lazy = OutboxSettings(maintain_interval_s=None, unsynced_max_s=60.0)
    async with kiosk_gateway(state_dir, ApiConfig(), outbox_settings=lazy) as rig:
        outbox = rig.outbox
        hr = {"kind": "heart_rate", "resident_id": "R0002", "values": {"heart_rate": 72}}
        processed = rig.gateway.pipeline.from_manual(
            "heart_rate", {"heart_rate": 72}, resident_id="R0002", measured_at=None, entered_by="test"
        )
        await rig.gateway.submit(processed)  # as a wristband's stream: no acknowledgement
        assert (await outbox.stats()).unsynced_commits == 1
        async with TestClient(TestServer(rig.app)) as client:
            r = await client.post("/api/v1/readings", json=hr)
            assert r.status == 201
        assert (await outbox.stats()).unsynced_commits == 0  # fsynced before the 201, and all before it
