"""The watch TCP listener over real sockets on 127.0.0.1, with a simulated watch."""

from __future__ import annotations

import asyncio
import logging

import pytest

from drivers import registry
from drivers.errors import TransportError
from drivers.watch.codec import build_frame
from drivers.watch.server import WatchServer
from tests.support.sinks import DecodingSink

WATCH = registry.get("watch.tcp")
ID = "1234567890"
SOS_NO_FIX = (
    "AL,150324,083000,V,0.000000,N,0.000000,E,0.00,0.0,0.0,0,80,55,1200,0,00010000,1,0,460,0,9360,4082,131"
)


def frame(content: str, wid: str = ID) -> bytes:
    return build_frame("3G", wid, None, content)


class Watch:
    """A simulated 4G watch: a real TCP client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Watch:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return cls(r, w)

    async def send(self, *chunks: bytes) -> None:
        for c in chunks:
            self.writer.write(c)
            await self.writer.drain()
            await asyncio.sleep(0.005)  # separate TCP reads on the server side

    async def expect(self, data: bytes) -> None:
        async with asyncio.timeout(10):
            assert await self.reader.readexactly(len(data)) == data

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(10):
            return await self.reader.read(100) == b""

    def close(self) -> None:
        self.writer.close()


def server(sink: DecodingSink, **kw: object) -> WatchServer:
    opts: dict[str, object] = {
        "idle_timeout_s": 30.0,
        "max_connections": 10,
        "max_frame_bytes": 1024,
    }
    opts.update(kw)
    return WatchServer("127.0.0.1", 0, sink, lambda wid: wid in {ID, "5555555555"}, **opts)  # type: ignore[arg-type]


async def test_split_and_merged_frames_heartbeat_answered_exactly() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as srv:
        w = await Watch.connect(srv.port)
        lk = b"[SG*1234567890*0002*LK]"
        await w.send(lk[:5], lk[5:13], lk[13:])  # one frame over three reads
        await w.expect(b"[SG*1234567890*0002*LK]")
        merged = frame("LK,50,100,100") + frame("PULSE,72") + frame("LK")[:9]
        await w.send(merged, frame("LK")[9:])
        await w.expect(frame("LK") + frame("LK"))
        await sink.until(lambda: len(sink.decoded) == 4)
        assert [d.fields["type"] for d in sink.decoded] == ["LK", "LK", "PULSE", "LK"]
        assert sink.decoded[2].measurements[0].kind == "heart_rate"
        assert {f.source for f in sink.frames} == {ID}
        assert all(
            f.transport == "tcp" and f.channel and f.channel.startswith("127.0.0.1:") for f in sink.frames
        )
        assert [e.state for e in sink.links] == ["connected"]
        w.close()
        await sink.until(lambda: [e.state for e in sink.links] == ["connected", "disconnected"])


async def test_sos_without_fix_reaches_the_sink_and_is_answered() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as srv:
        w = await Watch.connect(srv.port)
        await w.send(frame(SOS_NO_FIX)[:40], frame(SOS_NO_FIX)[40:])
        await w.expect(frame("AL"))
        await sink.until(lambda: len(sink.decoded) == 1)
        events = sink.decoded[0].events
        assert any(e.kind == "sos" and e.detail["valid"] is False for e in events)
        w.close()


async def test_junk_and_bad_frames_do_not_stop_the_connection() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as srv:
        w = await Watch.connect(srv.port)
        await w.send(b"\x00\xffHELLO\r\n", frame("LK"), b"garbage]]][", frame("UD,1,2"), frame("LK"))
        await w.expect(frame("LK") + frame("LK"))
        await sink.until(lambda: len(sink.frames) == 3)
        assert [e.category for e in sink.errors] == ["malformed"]
        w.close()


async def test_unknown_watch_id_is_closed_without_reaching_the_sink() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as srv:
        w = await Watch.connect(srv.port)
        await w.send(frame("LK", wid="9999999999"))
        assert await w.closed_by_server()
        assert sink.frames == [] and sink.links == []
        assert srv.rejected_ids == 1


async def test_a_connection_cannot_switch_watch_id() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as srv:
        w = await Watch.connect(srv.port)
        await w.send(frame("LK"))
        await w.expect(frame("LK"))
        await w.send(frame("LK", wid="5555555555"))
        assert await w.closed_by_server()
        assert len(sink.frames) == 1


async def test_junk_only_connection_is_closed() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_frame_bytes=256) as srv:
        w = await Watch.connect(srv.port)
        await w.send(b"GET / HTTP/1.1\r\n" * 40)
        assert await w.closed_by_server()
        assert sink.frames == []


async def test_connection_sending_only_bad_frames_is_closed() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_frame_bytes=256) as srv:
        w = await Watch.connect(srv.port)
        await w.send(b"[not a watch frame]" * 20)
        assert await w.closed_by_server()
        assert sink.frames == []


async def test_leaving_the_context_ends_open_connections() -> None:
    sink = DecodingSink(WATCH)
    srv = server(sink)
    async with srv:
        w = await Watch.connect(srv.port)
        await w.send(frame("LK"))
        await w.expect(frame("LK"))
    assert await w.closed_by_server()
    assert srv.connections == 0


async def test_oversize_frame_is_dropped_and_the_next_one_served() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_frame_bytes=256) as srv:
        w = await Watch.connect(srv.port)
        await w.send(frame("LK"), frame("TK," + "x" * 1000), frame("LK"))
        await w.expect(frame("LK") + frame("LK"))
        await sink.until(lambda: len(sink.frames) == 2)
        assert srv.dropped_bytes > 1000
        w.close()


async def test_idle_connection_is_closed() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, idle_timeout_s=0.2) as srv:
        w = await Watch.connect(srv.port)
        await w.send(frame("LK"))
        await w.expect(frame("LK"))
        assert await w.closed_by_server()
        await sink.until(lambda: [e.state for e in sink.links] == ["connected", "disconnected"])


async def test_connection_cap() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_connections=2) as srv:
        a, b = await Watch.connect(srv.port), await Watch.connect(srv.port)
        await a.send(frame("LK"))
        await a.expect(frame("LK"))
        await b.send(frame("LK", wid="5555555555"))
        await b.expect(frame("LK", wid="5555555555"))
        c = await Watch.connect(srv.port)
        assert await c.closed_by_server()
        assert srv.refused == 1
        a.close()
        await sink.until(lambda: srv.connections == 1)
        d = await Watch.connect(srv.port)
        await d.send(frame("LK"))
        await d.expect(frame("LK"))
        b.close()
        d.close()


async def test_reconnecting_watch_replaces_its_old_connection() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as srv:
        old = await Watch.connect(srv.port)
        await old.send(frame("LK"))
        await old.expect(frame("LK"))
        new = await Watch.connect(srv.port)
        await new.send(frame("LK"))
        await new.expect(frame("LK"))
        assert await old.closed_by_server()
        await sink.until(lambda: srv.connections == 1)
        assert [e.state for e in sink.links] == ["connected", "connected"]
        new.close()
        await sink.until(lambda: [e.state for e in sink.links][-1] == "disconnected")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_all_interfaces_only_when_asked(host: str) -> None:
    sink = DecodingSink(WATCH)
    with pytest.raises(TransportError, match="all interfaces"):
        WatchServer(host, 0, sink, lambda _: True)
    WatchServer(host, 0, sink, lambda _: True, allow_all_interfaces=True)


async def test_port_in_use_is_a_clear_error() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink) as first:
        with pytest.raises(TransportError, match="cannot listen"):
            async with WatchServer("127.0.0.1", first.port, sink, lambda _: True):
                pass


# ---------------------------------------------------------------- lock-out (issue 17 items 7 and 12)


async def junk_connection(
    port: int, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    w.write(b"x")  # one junk byte, as the attack did (then one every 30 s)
    return r, w


async def test_200_idle_junk_connections_cannot_keep_a_watch_out() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_connections=200, idle_timeout_s=600.0) as srv:
        junk = [await junk_connection(srv.port) for _ in range(200)]
        await asyncio.sleep(0.1)
        assert srv.connections <= 8  # one address holds few unidentified slots
        w = await Watch.connect(srv.port)
        await w.send(frame("LK"))
        await w.expect(frame("LK"))
        assert srv.evicted >= 190 and srv.refused == 0
        for _, jw in junk:
            jw.close()
        w.close()


async def test_junk_from_many_addresses_is_evicted_for_a_watch() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_connections=40, idle_timeout_s=600.0) as srv:
        junk = [await junk_connection(srv.port, f"127.0.0.{2 + i}") for i in range(60)]
        await asyncio.sleep(0.1)
        assert srv.connections == 40
        assert srv.evicted == 20
        for _ in range(3):  # watches always get in, however full the listener is
            w = await Watch.connect(srv.port)
            await w.send(frame("LK"))
            await w.expect(frame("LK"))
            w.close()
            await sink.until(lambda: [e.state for e in sink.links][-1] == "disconnected")
        for _, jw in junk:
            jw.close()


async def test_listener_full_of_watches_refuses_a_newcomer() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, max_connections=1) as srv:
        a = await Watch.connect(srv.port)
        await a.send(frame("LK"))
        await a.expect(frame("LK"))
        junk_r, junk_w = await junk_connection(srv.port)
        async with asyncio.timeout(10):
            assert await junk_r.read(10) == b""
        assert srv.refused == 1 and srv.evicted == 0
        await a.send(frame("LK"))
        await a.expect(frame("LK"))
        junk_w.close()
        a.close()


async def test_unidentified_connection_has_a_deadline_that_junk_does_not_extend() -> None:
    sink = DecodingSink(WATCH)
    async with server(sink, idle_timeout_s=30.0, first_frame_timeout_s=0.4) as srv:
        r, w = await junk_connection(srv.port)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def trickle() -> None:
            while True:
                await asyncio.sleep(0.05)
                w.write(b"x")

        t = asyncio.create_task(trickle())
        try:
            async with asyncio.timeout(5):
                while await r.read(10):
                    pass
        finally:
            t.cancel()
        assert loop.time() - start < 2.0
        assert srv.timed_out == 1
        # an identified watch is held to idle_timeout_s, not to the first-frame deadline
        ok = await Watch.connect(srv.port)
        await ok.send(frame("LK"))
        await ok.expect(frame("LK"))
        await asyncio.sleep(0.6)
        await ok.send(frame("LK"))
        await ok.expect(frame("LK"))
        ok.close()
        w.close()


async def test_same_id_from_two_addresses_at_once_is_reported() -> None:
    sink = DecodingSink(WATCH)
    seen: list[tuple[str, str, str]] = []

    async def conflict(watch_id: str, first: str, second: str) -> None:
        seen.append((watch_id, first, second))

    async with server(sink, on_conflict=conflict) as srv:
        a = await Watch.connect(srv.port)
        await a.send(frame("LK"))
        await a.expect(frame("LK"))
        again = await Watch.connect(srv.port)  # the same address: an ordinary reconnect
        await again.send(frame("LK"))
        await again.expect(frame("LK"))
        assert seen == [] and srv.conflicts == 0
        r, wr = await asyncio.open_connection("127.0.0.1", srv.port, local_addr=("127.0.0.2", 0))
        b = Watch(r, wr)
        await b.send(frame("LK"))
        await b.expect(frame("LK"))
        assert len(seen) == 1
        watch_id, first, second = seen[0]
        assert watch_id == ID and first.startswith("127.0.0.1:") and second.startswith("127.0.0.2:")
        assert srv.conflicts == 1
        for w in (a, again, b):
            w.close()


async def test_watch_ids_stay_out_of_logs_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    sink = DecodingSink(WATCH)

    async def conflict(watch_id: str, first: str, second: str) -> None:
        return None

    caplog.set_level(logging.INFO)
    async with server(sink, on_conflict=conflict) as srv:
        a = await Watch.connect(srv.port)
        await a.send(frame("LK"))
        await a.expect(frame("LK"))
        r, wr = await asyncio.open_connection("127.0.0.1", srv.port, local_addr=("127.0.0.2", 0))
        b = Watch(r, wr)
        await b.send(frame("LK"))
        await b.expect(frame("LK"))
        u = await Watch.connect(srv.port)
        await u.send(frame("LK", wid="9999999999"))
        assert await u.closed_by_server()
        for w in (a, b):
            w.close()
        await sink.until(lambda: srv.connections == 0)
    lines = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    assert any("two addresses" in m for m in lines)
    assert any("not provisioned" in m and "******9999" in m for m in lines)
    assert not [m for m in lines if ID in m or "9999999999" in m]
