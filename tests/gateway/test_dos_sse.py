"""Event-stream clients that never read (issue 17 item 9): the number of streams is capped,
each stream's queue is bounded and a client that falls behind is dropped, its socket closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.api import stream
from gateway.api.app import ApiServer, start_api
from gateway.config import ApiConfig
from gateway.events import DROPPED, EventBus
from tests.support.kiosk import KioskRig, kiosk_gateway

REQUEST = b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
async def api(state_dir: Path) -> AsyncIterator[tuple[KioskRig, ApiServer]]:
    cfg = ApiConfig(max_event_streams=4)
    async with kiosk_gateway(state_dir, cfg) as rig:
        server = await start_api(rig.app, cfg, port=0)
        try:
            yield rig, server
        finally:
            await server.aclose()


async def until(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def open_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(REQUEST)
    async with asyncio.timeout(10):
        assert (await r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await r.readuntil(b"event: hello\n")
    return r, w


async def closed(r: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(10):
            while await r.read(65536):
                pass
    except ConnectionResetError:
        pass
    return True


def test_a_subscriber_that_falls_behind_is_dropped_not_lagged() -> None:
    async def run() -> None:
        bus = EventBus(queue_size=8)
        async with bus.subscribe() as lagging, bus.subscribe(queue_size=4, drop_when_full=True) as dropping:
            for i in range(100):
                bus.publish("reading", {"i": i})
            assert lagging.qsize() == 8  # the default: oldest events give way to "lagged"
            assert dropping.qsize() == 1 and dropping.get_nowait() is DROPPED
            assert bus.subscriber_count == 1 and bus.dropped == 1

    asyncio.run(run())


async def test_streams_beyond_the_cap_close_the_oldest(api: tuple[KioskRig, ApiServer]) -> None:
    rig, server = api
    clients = [await open_stream(server.port) for _ in range(10)]
    assert rig.gateway.events.subscriber_count == 4
    assert rig.app[stream.STREAMS].evicted == 6
    for r, _ in clients[:6]:
        assert await closed(r)
    rig.gateway.events.publish("uplink", {"connected": True})
    for r, _ in clients[6:]:
        async with asyncio.timeout(10):
            await r.readuntil(b"event: uplink\n")
    for _, w in clients:
        w.close()


async def test_a_client_that_never_reads_is_dropped_and_its_socket_closed(
    api: tuple[KioskRig, ApiServer],
) -> None:
    rig, server = api
    _, writer = await open_stream(server.port)
    # the client reads nothing more; the hut goes on publishing (a busy relay, a watch)
    big = {"detail": "x" * 2000}
    for i in range(2000):
        rig.gateway.events.publish("device", {"i": i, **big})
        if i % 50 == 0:
            await asyncio.sleep(0.01)
            if rig.gateway.events.subscriber_count == 0:
                break
    await until(lambda: rig.gateway.events.subscriber_count == 0)
    assert rig.app[stream.STREAMS].dropped_slow == 1
    assert not rig.app[stream.STREAMS].queues
    await until(lambda: server.connections.open == 0)
    writer.close()
