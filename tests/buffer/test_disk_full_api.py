"""A full disk seen from the local API (issue 17 item 3): 503 with Retry-After and a sentence,
one log line (no traceback per request), the stored readings still go out, no negative counter.

The disk is filled for real through SQLite's own page ceiling (``max_page_count``): commits fail
with ``SQLITE_FULL`` exactly as on a full SD card, through the real outbox, core and API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from buffer import OutboxSettings
from gateway.config import ApiConfig
from tests.support.kiosk import KioskRig, kiosk_gateway

FULL = OutboxSettings(maintain_interval_s=None, max_page_count=120, keep_room_bytes=16 * 1024, retention_s=60)
BODY = {
    "kind": "blood_pressure",
    "resident_id": "R0001",
    "values": {"systolic": 128, "diastolic": 82, "pulse_rate": 70},
}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[KioskRig, TestClient]]:
    async with (
        kiosk_gateway(tmp_path, ApiConfig(), outbox_settings=FULL) as rig,
        TestClient(TestServer(rig.app)) as client,
    ):
        yield rig, client


async def post(client: TestClient) -> tuple[int, dict[str, Any], dict[str, str]]:
    r = await client.post("/api/v1/readings", json=BODY)
    return r.status, await r.json(), dict(r.headers)


def no_negative_gauge(metrics: str) -> None:
    for line in metrics.splitlines():
        if line.startswith("hutgw_outbox") and not line.startswith("#"):
            assert float(line.rsplit(" ", 1)[1]) >= 0, line


async def test_a_full_disk_answers_503_logs_once_and_keeps_delivering(
    rig: tuple[KioskRig, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    gw_rig, client = rig
    outbox = gw_rig.outbox
    statuses: list[int] = []
    with caplog.at_level(logging.INFO):
        for _ in range(300):
            status, reply, headers = await post(client)
            statuses.append(status)
    stored = statuses.count(201)
    refused = statuses.count(503)
    assert stored > 20 and refused > 100 and stored + refused == 300, statuses
    assert statuses[stored:] == [503] * refused  # once full, every POST is refused, none lost
    assert headers["Retry-After"] == "30"
    assert "NOT saved" in reply["error"] and "未保存" in reply["error_zh"] and reply["retry_after_s"] == 30
    assert "free space" in reply["hint"]
    failures = [r for r in caplog.records if "could not store" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None  # one line, no traceback
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert errors == failures, [r.getMessage() for r in errors]  # aiohttp logged no 500 traceback

    health = await (await client.get("/api/v1/health")).json()
    assert health["readings_pending"] == stored
    no_negative_gauge(await (await client.get("/metrics")).text())

    # The uplink's side goes on on the full disk: everything stored is claimed and acked.
    delivered = 0
    while (c := await outbox.claim(max_count=25)) is not None:
        r = await outbox.ack(c.batch_id, c.ids)
        delivered += r.delivered
    assert delivered == stored
    health = await (await client.get("/api/v1/health")).json()
    assert health["readings_pending"] == 0 and health["buffer"]["inflight"] == 0
    no_negative_gauge(await (await client.get("/metrics")).text())

    # Space comes back (retention prunes what was delivered): readings are stored again.
    gw_rig.clock.advance(120)
    await outbox.maintain()
    status, _, _ = await post(client)
    assert status == 201
    health = await (await client.get("/api/v1/health")).json()
    assert health["readings_pending"] == 1
