"""``GET /metrics`` on a real running daemon, read back with Prometheus' own parser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from devtools.simulate import PtyDevice, tanita_line
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.metrics import CONTENT_TYPE
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from tests.support.broker import Broker, free_port

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def samples(text: str) -> tuple[Samples, dict[str, str]]:
    """name -> {sorted label pairs -> value}, and family name -> type, as Prometheus reads them."""
    out: Samples = {}
    types: dict[str, str] = {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out, types


def one(got: Samples, name: str, **labels: str) -> float:
    return got[name][tuple(sorted(labels.items()))]


async def scrape(url: str, **headers: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics", headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def eventually(predicate: Any, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_metrics_reflect_the_running_gateway(tmp_path: Path, broker: Broker) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with PtyDevice(tmp_path / "dev" / "tanita") as scale:
        with Registry(state / "registry.db") as reg:
            reg.add_resident(ResidentEntry(id="R0001", name="Wang", birth_year=1950, height_cm=156.0))
            reg.add_device(DeviceEntry(id="scale-1", profile="tanita.serial", address=str(scale.path)))
        config = parse(
            {
                "gateway_id": "hut-metrics",
                "state_dir": str(state),
                "api": {"listen": f"127.0.0.1:{free_port()}"},
                "uplink": {"broker": broker.url},
            }
        )
        async with Daemon(config) as daemon, aiohttp.ClientSession() as http:
            gw = daemon.gateway
            await eventually(lambda: _true(daemon.uplink is not None and daemon.uplink.state.connected))
            body = {"kind": "blood_pressure", "values": {"systolic": 128, "diastolic": 82, "pulse_rate": 71}}
            async with http.post(daemon.api_url + "/api/v1/readings", json=body) as r:
                assert r.status == 201, await r.text()
            # The serial transport opens the port within a reconcile pass; write until it reads.
            good = tanita_line(weight_kg=61.4, body_fat_pct=33.2, height_cm=156.0)
            scale.write(b"\x00\xff garbage line\r\n")

            async def scale_read() -> bool:
                if gw.counters.readings["body_composition"] == 0:
                    scale.write(good)
                    await asyncio.sleep(0.3)
                return (
                    gw.counters.readings["body_composition"] > 0
                    and gw.counters.decode_errors["tanita.serial"] > 0
                )

            await eventually(scale_read, timeout=20)
            status, ctype, text = await scrape(daemon.api_url)
    assert status == 200
    assert ctype == CONTENT_TYPE
    got, types = samples(text)

    assert one(got, "hutgw_readings_total", kind="blood_pressure") == 1
    assert one(got, "hutgw_readings_total", kind="body_composition") >= 1
    assert one(got, "hutgw_frames_total", profile="tanita.serial") >= 2
    decode = {labels: v for labels, v in got["hutgw_decode_errors_total"].items()}
    assert any(dict(k)["profile"] == "tanita.serial" and v >= 1 for k, v in decode.items()), decode
    assert one(got, "hutgw_quarantined_frames_total") >= 1
    assert one(got, "hutgw_device_last_seen_timestamp_seconds", device="scale-1") > 1.7e9
    assert one(got, "hutgw_uplink_connected") == 1
    assert one(got, "hutgw_uplink_state", state="connected") == 1
    assert one(got, "hutgw_uplink_state", state="disconnected") == 0
    assert one(got, "hutgw_uplink_enabled") == 1
    # Three records at least (two readings, maybe alerts) went to the uplink or are waiting for it.
    in_outbox = sum(got["hutgw_outbox_records"].values())
    assert in_outbox >= 2
    lanes = {dict(k)["lane"] for k in got["hutgw_outbox_records"]}
    assert lanes == {"alerts", "clinical", "telemetry"}
    assert set(got["hutgw_outbox_pending"]) == {(("lane", lane),) for lane in lanes}
    assert one(got, "hutgw_outbox_oldest_pending_age_seconds") >= 0
    assert one(got, "hutgw_outbox_disk_bytes") > 0
    assert one(got, "hutgw_outbox_fsyncs_total") >= 1  # the readings were posted: fsynced before 201
    assert one(got, "hutgw_outbox_unsynced_commits") >= 0
    assert types["hutgw_outbox_fsyncs"] == "counter"  # the parser names counter families without _total
    assert types["hutgw_outbox_unsynced_commits"] == "gauge"
    assert one(got, "hutgw_kiosk_session_active") == 0
    assert one(got, "hutgw_healthy") == 1
    assert one(got, "process_resident_memory_bytes") > 10_000_000
    assert one(got, "process_cpu_seconds_total") > 0
    assert types["hutgw_readings"] == "counter" and types["hutgw_outbox_pending"] == "gauge"
    # No resident data in labels: only lanes, states, profiles, kinds, outcomes, device ids.
    for series in got.values():
        for labels in series:
            assert "R0001" not in str(labels)


async def _true(value: bool) -> bool:
    return value


async def test_metrics_without_uplink_or_devices(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = parse(
        {"gateway_id": "hut-offline", "state_dir": str(state), "api": {"listen": f"127.0.0.1:{free_port()}"}}
    )
    async with Daemon(config) as daemon:
        status, _, text = await scrape(daemon.api_url)
        got, _ = samples(text)
        assert status == 200
        assert one(got, "hutgw_uplink_enabled") == 0
        assert one(got, "hutgw_uplink_state", state="disabled") == 1
        assert one(got, "hutgw_outbox_oldest_pending_age_seconds") == 0
        assert "hutgw_device_last_seen_timestamp_seconds" not in got  # no device has spoken yet
        # a second scrape renders the same families again (collectors are idempotent)
        _, _, again = await scrape(daemon.api_url)
        assert set(samples(again)[0]) == set(got)


async def test_metrics_need_the_token_when_the_api_is_exposed(tmp_path: Path) -> None:
    port = free_port()
    config = parse(
        {
            "gateway_id": "hut-exposed",
            "state_dir": str(tmp_path / "state"),
            "api": {"listen": f"0.0.0.0:{port}", "token": "s3cret-token"},
        }
    )
    async with Daemon(config):
        url = f"http://127.0.0.1:{port}"
        status, _, _ = await scrape(url)
        assert status == 401
        status, _, text = await scrape(url, Authorization="Bearer s3cret-token")
        assert status == 200 and "hutgw_outbox_pending" in text
