"""docs/openapi.yaml is as strict as the API: Schemathesis (``--checks all``) against a real
daemon on loopback, the live event stream against the documented event schemas, and the
document against the routes and the kind catalogue.

Schemathesis runs as its own process (``st``) with ``tests/kiosk/schemathesis.toml``, which
relaxes, operation by operation, only what a schema cannot say. The SSE stream never ends, so
it is left out of the fuzzing and checked here event by event instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from drivers.gatt import uuids
from gateway.api.app import build_app
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.kinds import KINDS
from gateway.registry import DeviceEntry, Registry
from tests.support.kiosk import CUFF_ADDRESS, RESIDENTS, bpm, cuff_frame, cuff_pressure, free_port

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "openapi.yaml"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
ST = Path(sys.executable).with_name("st")
PIN = "2468"
#: examples per operation and run; two runs (anonymous, the doctor) take about half a minute
MAX_EXAMPLES = 40
SEED = 20261206


def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest_asyncio.fixture
async def daemon(state_dir: Path) -> AsyncIterator[Daemon]:
    with Registry(state_dir / "registry.db") as reg:
        for r in RESIDENTS:
            reg.add_resident(r)
        reg.add_device(DeviceEntry("cuff-1", "gatt.blood_pressure_measurement", CUFF_ADDRESS))
    cfg = parse(
        {
            "gateway_id": "hut-fuzz",
            "state_dir": str(state_dir),
            "api": {"listen": f"127.0.0.1:{free_port()}", "doctor_pin": PIN},
        }
    )
    async with Daemon(cfg) as d:
        yield d


async def schemathesis(url: str, cwd: Path, *extra: str) -> tuple[int, str]:
    args = [
        "--config-file", str(CONFIG),
        "run", str(DOC_PATH),
        "--url", url,
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--exclude-path", "/api/v1/events",
        "--workers", "2",
        "--generation-database", "none",
        "--no-color",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    proc = await asyncio.create_subprocess_exec(
        str(ST), *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.slow
async def test_schemathesis_finds_nothing(daemon: Daemon, tmp_path: Path) -> None:
    """Every check of Schemathesis, as a kiosk (no credentials) and as the village doctor."""
    for who, extra in (("anonymous", ()), ("doctor", ("-H", f"X-Doctor-PIN: {PIN}"))):
        code, out = await schemathesis(daemon.api_url, tmp_path, *extra)
        assert code == 0, f"schemathesis ({who}) found problems:\n{out[-12000:]}"
        assert "Tested: 19" in out, out[-3000:]  # every operation but the event stream


def event_validator(d: dict[str, Any], event: str) -> Draft202012Validator:
    ref = d["paths"]["/api/v1/events"]["get"]["responses"]["200"]["x-sse-events"][event]["$ref"]
    return Draft202012Validator({"$ref": ref, "components": d["components"]}, format_checker=FormatChecker())


class Stream:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.seen: list[tuple[str, Any]] = []
        self.taken: dict[str, int] = {}

    async def until(self, event: str, within: float = 5.0) -> Any:
        """The next event of this type not returned before (events may come in any order)."""

        async def read() -> Any:
            kind = None
            while True:
                mine = [data for k, data in self.seen if k == event]
                if len(mine) > self.taken.get(event, 0):
                    self.taken[event] = self.taken.get(event, 0) + 1
                    return mine[self.taken[event] - 1]
                line = (await self.resp.content.readline()).decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind is not None:
                    data = json.loads(line.removeprefix("data: "))
                    self.seen.append((kind, data))

        try:
            return await asyncio.wait_for(read(), within)
        except TimeoutError:
            raise AssertionError(
                f"no {event} event within {within} s; seen {[k for k, _ in self.seen]}"
            ) from None


async def test_the_event_stream_matches_the_documented_events(daemon: Daemon) -> None:
    d = doc()
    documented = set(d["paths"]["/api/v1/events"]["get"]["responses"]["200"]["x-sse-events"])
    gw = daemon.gateway
    async with aiohttp.ClientSession() as s, s.get(daemon.api_url + "/api/v1/events") as resp:
        stream = Stream(resp)
        await stream.until("hello")
        async with s.post(daemon.api_url + "/api/v1/session", json={"method": "id", "value": "R0001"}) as r:
            assert r.status == 201
        await stream.until("session")
        await gw.frame(cuff_frame(cuff_pressure(120), uuids.INTERMEDIATE_CUFF_PRESSURE))
        await stream.until("cuff_pressure")
        frame = cuff_frame(bpm(196, 121, 90), uuids.BLOOD_PRESSURE_MEASUREMENT)
        await gw.frame(frame)
        await stream.until("reading")
        await stream.until("alert_status")
        await gw.frame(frame)  # the cuff sends it again
        await stream.until("duplicate")
        async with s.delete(daemon.api_url + "/api/v1/session") as r:
            assert r.status == 200
        await stream.until("session")
    kinds = {k for k, _ in stream.seen}
    assert {"hello", "session", "measurement_started", "cuff_pressure", "reading", "alert", "alert_status",
            "duplicate"} <= kinds, kinds  # fmt: skip
    assert kinds <= documented, kinds - documented
    for kind, data in stream.seen:
        errors = [e.message for e in event_validator(d, kind).iter_errors(data)]
        assert errors == [], (kind, data, errors)


async def test_the_document_lists_every_route_of_the_daemon(daemon: Daemon) -> None:
    d = doc()
    documented = {
        (path, method.upper())
        for path, ops in d["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "delete", "patch")
    }
    app = build_app(daemon.api_ports, daemon.config.api, notify=daemon.notify)
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        routes.add((info.get("path") or info.get("formatter"), route.method))
    assert routes == documented


def test_the_document_knows_every_kind_and_its_values() -> None:
    schemas = doc()["components"]["schemas"]
    assert schemas["Kind"]["enum"] == list(KINDS)
    for prefix in ("ReadingIn", "ManualReadingIn"):
        mapping = schemas[prefix]["discriminator"]["mapping"]
        assert sorted(mapping) == sorted(KINDS), prefix
    for name, spec in KINDS.items():
        values = schemas[f"Values_{name}"]
        assert list(values["properties"]) == list(spec.values), name
        assert values["required"] == list(spec.required), name
        assert values["additionalProperties"] is False
