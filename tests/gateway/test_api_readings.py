"""Manual-entry input is strict (issue 17 item 11, issue 21 item 9): numbers are numbers,
times are strings, no control characters, no repeated keys, and a 422 lists at most 20 errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.api.doctor import PIN_HEADER
from gateway.api.errors import MAX_LISTED_ERRORS
from gateway.config import ApiConfig
from tests.support.kiosk import kiosk_gateway

PIN = "2468"
JSON = {"Content-Type": "application/json"}
ROUTES = {
    "api": ("/api/v1/readings", JSON),
    "doctor": ("/api/v1/doctor/readings", {**JSON, PIN_HEADER: PIN}),
}


@pytest.fixture
async def client(state_dir: Path) -> AsyncIterator[TestClient]:
    async with (
        kiosk_gateway(state_dir, ApiConfig(doctor_pin=PIN)) as rig,
        TestClient(TestServer(rig.app)) as c,
    ):
        yield c


def reading(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "blood_pressure",
        "resident_id": "R0001",
        "values": {"systolic": 128, "diastolic": 82.5, "pulse_rate": 70},
    }
    body.update(over)
    return body


async def send(client: TestClient, route: str, data: bytes) -> tuple[int, Any]:
    path, headers = ROUTES[route]
    r = await client.post(path, data=data, headers=headers)
    return r.status, json.loads(await r.text())


def fields(reply: Any) -> set[str]:
    return {e["field"] for e in reply.get("errors", [])}


@pytest.mark.parametrize("route", ROUTES)
async def test_a_good_reading_is_accepted(client: TestClient, route: str) -> None:
    status, reply = await send(client, route, json.dumps(reading()).encode())
    assert status == 201, reply


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"values": {"systolic": True, "diastolic": 80}}, "values.systolic"),
        ({"values": {"systolic": "120", "diastolic": 80}}, "values.systolic"),
        ({"values": {"systolic": 120, "diastolic": None}}, "values.diastolic"),
        ({"kind": "weight", "values": {"weight": "61.5"}}, "values.weight"),
        ({"measured_at": 0}, "measured_at"),
        ({"measured_at": 1767225600}, "measured_at"),
        ({"resident_id": "R0001\n"}, "resident_id"),
    ],
)
async def test_values_are_numbers_and_times_are_strings(
    client: TestClient, route: str, over: dict[str, Any], field: str
) -> None:
    status, reply = await send(client, route, json.dumps(reading(**over)).encode())
    assert status == 422, reply
    assert field in fields(reply), reply


@pytest.mark.parametrize("bad", ["cuff\x00", "cuff\nINFO forged line", "cuff\u202egnp.exe", "cuff\u2028"])
async def test_control_characters_in_device_id_are_refused(client: TestClient, bad: str) -> None:
    status, reply = await send(client, "api", json.dumps(reading(device_id=bad)).encode())
    assert status == 422 and "device_id" in fields(reply), reply


async def test_control_characters_in_value_names_are_refused(client: TestClient) -> None:
    body = reading(values={"systolic": 128, "diastolic": 80, "pulse\u202e": 70})
    status, reply = await send(client, "api", json.dumps(body).encode())
    assert status == 422, reply


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "blood_pressure", "kind": "weight", "resident_id": "R0001", "values": {"weight": 61}}',
        b'{"kind": "blood_pressure", "resident_id": "R0001", "values": {"systolic": 120, "systolic": 190,'
        b' "diastolic": 80}}',
    ],
)
async def test_repeated_keys_are_refused(client: TestClient, route: str, raw: bytes) -> None:
    status, reply = await send(client, route, raw)
    assert status == 422, reply
    assert "more than once" in json.dumps(reply)


async def test_infinite_numbers_are_refused(client: TestClient) -> None:
    raw = b'{"kind": "weight", "resident_id": "R0001", "values": {"weight": 1e400}}'
    status, _ = await send(client, "api", raw)
    assert status == 422


@pytest.mark.parametrize("route", ROUTES)
async def test_a_422_lists_at_most_20_errors_and_counts_them_all(client: TestClient, route: str) -> None:
    body = reading()
    body.update({f"{i:x}": 0 for i in range(20_000)})  # 20,000 unknown keys in ~250 KB
    data = json.dumps(body).encode()
    assert len(data) < 256 * 1024
    path, headers = ROUTES[route]
    r = await client.post(path, data=data, headers=headers)
    text = await r.text()
    assert r.status == 422
    assert len(text) < 4096
    reply = json.loads(text)
    assert len(reply["errors"]) == MAX_LISTED_ERRORS
    assert reply["errors_total"] == 20_000
