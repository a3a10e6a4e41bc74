"""The local API against hostile clients (issue 17 items 8, 10, 11; issue 21 items 8-9): the
connection cap and idle timeout, Host/Origin checks (DNS rebinding), the JSON error format of
405/413/415, malformed requests without tracebacks. Real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.api.app import ApiServer, start_api
from gateway.config import ApiConfig
from tests.support.kiosk import KioskRig, kiosk_gateway

BP = {"kind": "blood_pressure", "values": {"systolic": 150, "diastolic": 85, "pulse_rate": 70}}


@pytest.fixture
async def api(state_dir: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[KioskRig, ApiServer]]:
    opts: dict[str, Any] = getattr(request, "param", {})
    cfg = ApiConfig(**opts)
    async with kiosk_gateway(state_dir, cfg) as rig:
        server = await start_api(rig.app, cfg, port=0)
        try:
            yield rig, server
        finally:
            await server.aclose()


async def raw(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or the reply's body is complete."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    try:
        async with asyncio.timeout(timeout):
            head = await r.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            return head + await r.readexactly(length)
    finally:
        w.close()


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def body(reply: bytes) -> Any:
    return json.loads(reply.split(b"\r\n\r\n", 1)[1])


def get(path: str, host: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()


def post(path: str, host: str, data: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(data)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + data


# ------------------------------------------------------------------ Host and Origin (item 10)


@pytest.mark.parametrize(
    ("host", "code"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST", 200),
        ("[::1]:{port}", 200),
        ("rebind.attacker.example:{port}", 421),
        ("127.0.0.1.nip.io:{port}", 421),
        ("", 421),
        ("127.0.0.1:notaport", 421),
    ],
)
async def test_only_the_gateways_own_host_names_are_answered(
    api: tuple[KioskRig, ApiServer], host: str, code: int
) -> None:
    _, server = api
    reply = await raw(server.port, get("/api/v1/session", host.format(port=server.port)))
    assert status(reply) == code
    if code == 421:
        assert "host" in body(reply)["error"].lower()


@pytest.mark.parametrize("api", [{"allowed_hosts": ["hut-0042.local"]}], indirect=True)
async def test_allowed_hosts_extends_the_list(api: tuple[KioskRig, ApiServer]) -> None:
    _, server = api
    assert status(await raw(server.port, get("/api/v1/session", "hut-0042.local"))) == 200
    assert status(await raw(server.port, get("/api/v1/session", "hut-0043.local"))) == 421


async def test_a_rebound_page_cannot_sign_in_read_history_or_post(api: tuple[KioskRig, ApiServer]) -> None:
    """The attack: evil.example resolves to 127.0.0.1; the browser sends Host and Origin of
    evil.example, and before the fix the Origin matched the Host it came with."""
    _, server = api
    evil = f"evil.example:{server.port}"
    origin = f"Origin: http://{evil}\r\n"
    sign_in = json.dumps({"method": "id", "value": "R001"}).encode()
    assert status(await raw(server.port, post("/api/v1/session", evil, sign_in, extra=origin))) == 421
    assert status(await raw(server.port, get("/api/v1/history", evil))) == 421
    assert status(await raw(server.port, post("/api/v1/readings", evil, json.dumps(BP).encode()))) == 421


async def test_origin_must_be_an_accepted_host(api: tuple[KioskRig, ApiServer]) -> None:
    _, server = api
    me = f"127.0.0.1:{server.port}"
    data = json.dumps(BP).encode()
    bad = f"Origin: http://evil.example:{server.port}\r\n"
    assert status(await raw(server.port, post("/api/v1/readings", me, data, extra=bad))) == 403
    good = f"Origin: http://{me}\r\n"
    assert status(await raw(server.port, post("/api/v1/readings", me, data, extra=good))) == 201
    other_port = f"Origin: http://127.0.0.1:{server.port + 1}\r\n"
    assert status(await raw(server.port, post("/api/v1/readings", me, data, extra=other_port))) == 403


# ------------------------------------------------------------------ error format (items 11, 21.8-9)


async def test_json_sent_as_text_plain_is_415(api: tuple[KioskRig, ApiServer]) -> None:
    _, server = api
    me = f"127.0.0.1:{server.port}"
    reply = await raw(server.port, post("/api/v1/readings", me, json.dumps(BP).encode(), "text/plain"))
    assert status(reply) == 415
    assert "application/json" in body(reply)["error"]


async def test_405_and_413_and_404_come_in_the_json_error_format(api: tuple[KioskRig, ApiServer]) -> None:
    _, server = api
    me = f"127.0.0.1:{server.port}"
    reply = await raw(
        server.port, f"PUT /api/v1/readings HTTP/1.1\r\nHost: {me}\r\nContent-Length: 0\r\n\r\n".encode()
    )
    assert status(reply) == 405
    assert set(body(reply)) == {"error"}
    assert b"Allow: " in reply
    big = b'{"kind": "weight", "values": {"weight": 61.5}, "pad": "' + b"x" * 300_000 + b'"}'
    reply = await raw(server.port, post("/api/v1/readings", me, big))
    assert status(reply) == 413
    assert "too large" in body(reply)["error"]
    reply = await raw(server.port, get("/api/v1/nothing-here", me))
    assert status(reply) == 404 and set(body(reply)) == {"error"}


@pytest.mark.parametrize("header", [b"X-Trace: a\x00b", b"Host: 127.0.0.1\x00evil", b"X-A: line\x0bbreak"])
async def test_a_nul_byte_in_a_header_is_400_without_a_traceback(
    api: tuple[KioskRig, ApiServer], caplog: pytest.LogCaptureFixture, header: bytes
) -> None:
    _, server = api
    caplog.set_level(logging.DEBUG)
    reply = await raw(
        server.port, b"GET /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n\r\n"
    )
    assert status(reply) == 400
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert any("bad HTTP request" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ connections (item 8)


@pytest.mark.parametrize("api", [{"max_connections": 16, "idle_timeout_s": 30.0}], indirect=True)
async def test_idle_connections_cannot_use_up_the_api(api: tuple[KioskRig, ApiServer]) -> None:
    """1,030 idle connections stopped the API before; now idle ones make room for real requests."""
    _, server = api
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(100)]
    await asyncio.sleep(0.1)
    assert server.connections.open <= 16
    assert server.connections.evicted >= 84
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            async with http.get(f"http://127.0.0.1:{server.port}/api/v1/session") as r:
                assert r.status == 200
    for _, w in idle:
        w.close()


@pytest.mark.parametrize("api", [{"idle_timeout_s": 0.3}], indirect=True)
async def test_a_connection_that_sends_no_request_is_closed(api: tuple[KioskRig, ApiServer]) -> None:
    _, server = api
    loop = asyncio.get_running_loop()
    silent = await asyncio.open_connection("127.0.0.1", server.port)
    slow = await asyncio.open_connection("127.0.0.1", server.port)
    slow[1].write(b"GET /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end
    start = loop.time()
    for r, _ in (silent, slow):
        async with asyncio.timeout(5):
            assert await r.read(100) == b""
    assert loop.time() - start < 3.0
    # kept-alive connections after a request are closed as well
    r, w = await asyncio.open_connection("127.0.0.1", server.port)
    w.write(b"GET /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    async with asyncio.timeout(5):
        assert (await r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        while await r.read(1000):
            pass
    for _, w2 in (silent, slow, (r, w)):
        w2.close()


async def test_a_page_of_another_origin_cannot_open_event_streams(api: tuple[KioskRig, ApiServer]) -> None:
    _, server = api
    me = f"127.0.0.1:{server.port}"
    reply = await raw(server.port, get("/api/v1/events", me, "Origin: https://ads.example\r\n"))
    assert status(reply) == 403


def lan_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        addr = str(s.getsockname()[0])
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


async def test_the_lan_listener_with_a_token_closes_silent_connections_too(state_dir: Path) -> None:
    addr = lan_address()
    if addr is None:
        pytest.skip("no network address besides loopback")
    cfg = ApiConfig(listen=f"{addr}:8080", token="t0ken-for-the-lan", idle_timeout_s=0.3, max_connections=8)
    async with kiosk_gateway(state_dir, cfg) as rig:
        server = await start_api(rig.app, cfg, port=0)
        try:
            idle = [await asyncio.open_connection(addr, server.port) for _ in range(20)]
            await asyncio.sleep(0.05)
            assert server.connections.open <= 8
            for r, _ in idle[-8:]:
                async with asyncio.timeout(5):
                    assert await r.read(100) == b""
            assert server.connections.timed_out >= 1
            reply = await raw_to(addr, server.port, get("/api/v1/session", f"{addr}:{server.port}"))
            assert status(reply) == 401  # the token still guards the API
            for _, w in idle:
                w.close()
        finally:
            await server.aclose()


async def raw_to(host: str, port: int, data: bytes) -> bytes:
    r, w = await asyncio.open_connection(host, port)
    w.write(data)
    try:
        async with asyncio.timeout(5):
            return await r.read(65536)
    finally:
        w.close()
