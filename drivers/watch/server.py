"""The TCP listener 4G watches connect to.

``async with WatchServer(...)``: accepts connections (up to ``max_connections``), frames each
stream (:class:`~drivers.watch.framer.WatchFramer`, bounded by ``max_frame_bytes``), checks the
first frame's watch id against ``allowed_ids`` (unknown watches are logged and disconnected),
hands every frame to the sink as a ``RawFrame(transport="tcp", source=<watch id>)`` and writes
back whatever the sink returns (the ``LK``/``AL`` replies). A connection idle for
``idle_timeout_s`` is closed; a watch that reconnects replaces its previous connection.

Nobody may keep a provisioned watch out (issue 17 item 7):

- a connection has ``first_frame_timeout_s`` from its accept to send a frame with a provisioned
  watch id (junk bytes do not extend it);
- one source address holds at most ``max_unidentified_per_address`` connections that have not
  identified yet (identified ones are not capped per address: many watches share a carrier's
  NAT address, and each id holds one connection);
- when an address holds that many, or all ``max_connections`` are taken, an unidentified
  connection is closed to make room -- one that sent only junk first, else the oldest; only
  when every connection belongs to a provisioned watch is a newcomer refused.

A watch is identified only by its id (a protocol limit: no secret in the frames). When the same
id connects from a second address while its connection from another address is still active
(a frame within ``conflict_window_s``), ``on_conflict(watch_id, first_peer, second_peer)`` is
awaited (the daemon raises a ``gateway_fault`` alert) and the newest connection is kept. Watch
ids are logged at DEBUG only; above DEBUG a watch is named by its peer address or a masked id.

Listening on all interfaces (``0.0.0.0``, ``::``, empty host) is refused unless asked for
explicitly with ``allow_all_interfaces=True``: the watch listener belongs on the hut's LAN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from drivers.errors import DecodeError, TransportError
from drivers.frames import RawFrame
from drivers.source import FrameSink, LinkEvent
from drivers.watch.codec import parse_frame
from drivers.watch.framer import WatchFramer

ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "*"})
READ_SIZE = 4096
CONFLICT_TIMEOUT_S = 5.0

ConflictHandler = Callable[[str, str, str], Awaitable[None]]


def masked(watch_id: str) -> str:
    """A watch id as logs above DEBUG show it: only the last four characters."""
    return "*" * max(0, len(watch_id) - 4) + watch_id[-4:]


@dataclass(eq=False)
class _Conn:
    writer: asyncio.StreamWriter
    peer: str
    host: str
    opened: float
    watch_id: str | None = None
    junk_bytes: int = 0
    sent_junk: bool = False
    last_frame: float = field(default=0.0)
    task: asyncio.Task[None] | None = None


class WatchServer:
    def __init__(
        self,
        listen_host: str,
        port: int,
        sink: FrameSink,
        allowed_ids: Callable[[str], bool],
        idle_timeout_s: float = 600.0,
        max_connections: int = 200,
        max_frame_bytes: int = 16_384,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
        *,
        allow_all_interfaces: bool = False,
        write_timeout_s: float = 10.0,
        first_frame_timeout_s: float = 10.0,
        max_unidentified_per_address: int = 8,
        on_conflict: ConflictHandler | None = None,
        conflict_window_s: float = 60.0,
    ) -> None:
        if listen_host.strip() in ALL_INTERFACES and not allow_all_interfaces:
            raise TransportError(
                f"refusing to listen for watches on all interfaces ({listen_host!r})",
                hint="set [watch] listen to the hut's LAN address, e.g. 192.168.1.10:7700",
            )
        self.listen_host = listen_host
        self._port = port
        self._sink = sink
        self._allowed = allowed_ids
        self._idle = idle_timeout_s
        self._max_conns = max_connections
        self._max_frame = max_frame_bytes
        self._clock = clock
        self._log = logger or logging.getLogger("hutgw.watch")
        self._write_timeout = write_timeout_s
        self._first_frame = first_frame_timeout_s
        self._per_address = max_unidentified_per_address
        self._on_conflict = on_conflict
        self._conflict_window = conflict_window_s
        self._server: asyncio.Server | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._conns: set[_Conn] = set()
        self._by_id: dict[str, _Conn] = {}
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0
        self.conflicts = 0
        self.rejected_ids = 0
        self.dropped_bytes = 0

    @property
    def port(self) -> int:
        """The bound port (useful when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._conns)

    async def __aenter__(self) -> WatchServer:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        try:
            self._server = await asyncio.start_server(self._accept, self.listen_host, self._port)
        except OSError as e:
            await self._tg.__aexit__(None, None, None)
            raise TransportError(
                f"cannot listen for watches on {self.listen_host}:{self._port}: {e.strerror}",
                hint="check [watch] listen: the address must belong to this gateway and the port be free",
            ) from None
        self._log.info("listening for watches on %s:%d", self.listen_host, self.port)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.writer.close()
            if conn.task is not None:
                conn.task.cancel()
        if self._tg is not None:
            await self._tg.__aexit__(et, e, tb)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        host = str(peername[0]) if isinstance(peername, tuple) else str(peername)
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        if self._tg is None:
            writer.transport.abort()
            return
        # who goes first: connections that sent only junk, then the oldest
        unidentified = sorted(
            (c for c in self._conns if c.watch_id is None), key=lambda c: (not c.sent_junk, c.opened)
        )
        same_address = [c for c in unidentified if c.host == host]
        if len(same_address) >= self._per_address:
            # the oldest of this address makes room: an address full of junk keeps nobody out
            self._evict(same_address[0], peer, "unidentified connections from that address")
        elif len(self._conns) >= self._max_conns:
            if not unidentified:
                self.refused += 1
                self._log.warning(
                    "watch connection from %s refused: %d watches connected", peer, len(self._conns)
                )
                writer.transport.abort()
                return
            self._evict(unidentified[0], peer, "listener full")
        conn = _Conn(writer, peer, host, time.monotonic())
        self._conns.add(conn)
        conn.task = self._tg.create_task(self._serve(conn, reader), name=f"watch:{peer}")

    def _evict(self, conn: _Conn, newcomer: str, why: str) -> None:
        """Close an unidentified connection now to make room; its slot is free at once."""
        self.evicted += 1
        self._log.warning("watch listener: %s; closing %s for %s", why, conn.peer, newcomer)
        self._conns.discard(conn)
        conn.writer.transport.abort()
        if conn.task is not None:
            conn.task.cancel()

    async def _serve(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        try:
            await self._read_loop(conn, reader)
        except (ConnectionError, OSError) as e:
            self._log.info("watch connection from %s: error: %s", conn.peer, e)
        except asyncio.CancelledError:
            if conn in self._conns:  # the listener is closing, not an eviction
                raise
        except Exception:  # one bad connection must never stop the listener
            self._log.exception("watch connection from %s: unexpected error", conn.peer)
        finally:
            self._conns.discard(conn)
            if conn.watch_id is not None and self._by_id.get(conn.watch_id) is conn:
                del self._by_id[conn.watch_id]
                self._sink.link(LinkEvent(conn.watch_id, "disconnected", self._now(), conn.peer))
            conn.writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._write_timeout):
                    await conn.writer.wait_closed()

    async def _read_loop(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        framer = WatchFramer(self._max_frame)
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + self._first_frame
        while True:
            identified = conn.watch_id is not None
            deadline = loop.time() + self._idle if identified else first_deadline
            try:
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(READ_SIZE)
            except TimeoutError:
                if identified:
                    self._log.info("watch connection from %s: idle, closing", conn.peer)
                else:
                    self.timed_out += 1
                    self._log.info(
                        "connection from %s sent no watch frame within %.0f s, closing",
                        conn.peer,
                        self._first_frame,
                    )
                return
            if not data:
                return
            before = framer.dropped_bytes
            frames = framer.feed(data)
            self.dropped_bytes += framer.dropped_bytes - before
            conn.sent_junk = conn.sent_junk or framer.dropped_bytes > before
            if conn.watch_id is None and framer.dropped_bytes + conn.junk_bytes > self._max_frame:
                self._log.warning("connection from %s sends no watch frames, closing", conn.peer)
                return
            replies: list[bytes] = []
            keep = True
            for raw in frames:
                keep = await self._handle(conn, raw, replies)
                if not keep:
                    break
            if replies:  # one write per TCP read, however many frames it held
                conn.writer.write(b"".join(replies))
                async with asyncio.timeout(self._write_timeout):
                    await conn.writer.drain()
            if not keep:
                return

    async def _handle(self, conn: _Conn, raw: bytes, replies: list[bytes]) -> bool:
        """Deliver one frame, collecting its reply; False closes the connection."""
        try:
            watch_id: str | None = parse_frame(raw).device_id
        except DecodeError as e:
            watch_id = None
            self._log.debug("watch %s (%s): bad frame (%s)", conn.watch_id or "?", conn.peer, e)
        conn.last_frame = time.monotonic() if watch_id is not None else conn.last_frame
        if conn.watch_id is None:
            if watch_id is None:
                conn.junk_bytes += len(raw)  # unidentified junk is dropped, within a budget
                conn.sent_junk = True
                return conn.junk_bytes <= self._max_frame
            if not self._allowed(watch_id):
                self.rejected_ids += 1
                self._log.debug("unknown watch id %s from %s", watch_id, conn.peer)
                self._log.warning(
                    "unknown watch id %s from %s: not provisioned, closing", masked(watch_id), conn.peer
                )
                return False
            await self._identify(conn, watch_id)
        elif watch_id is not None and watch_id != conn.watch_id:
            self._log.warning("watch connection from %s sent a frame with another id: closing", conn.peer)
            return False
        assert conn.watch_id is not None
        frame = RawFrame(
            transport="tcp",
            source=conn.watch_id,
            data=raw,
            received_at=self._now(),
            channel=conn.peer,
            monotonic=time.monotonic(),
        )
        try:
            reply = await self._sink.frame(frame)
        except Exception:
            self._log.exception("watch connection from %s: sink failed on a frame", conn.peer)
            return True
        if reply:
            replies.append(reply)
        return True

    async def _identify(self, conn: _Conn, watch_id: str) -> None:
        conn.watch_id = watch_id
        old = self._by_id.get(watch_id)
        self._by_id[watch_id] = conn
        if old is not None:
            active = old in self._conns and time.monotonic() - old.last_frame < self._conflict_window
            self._log.debug("watch %s reconnected from %s; closing %s", watch_id, conn.peer, old.peer)
            self._log.info("a watch reconnected from %s; closing its connection from %s", conn.peer, old.peer)
            old.writer.close()
            if active and old.host != conn.host:
                self.conflicts += 1
                self._log.warning(
                    "watch id %s connected from two addresses at once (%s and %s): "
                    "another device may be using its id",
                    masked(watch_id),
                    old.peer,
                    conn.peer,
                )
                if self._on_conflict is not None:
                    try:
                        async with asyncio.timeout(CONFLICT_TIMEOUT_S):
                            await self._on_conflict(watch_id, old.peer, conn.peer)
                    except Exception:
                        self._log.exception("reporting a watch id conflict failed")
        self._log.debug("watch %s connected from %s", watch_id, conn.peer)
        self._log.info("a watch connected from %s", conn.peer)
        self._sink.link(LinkEvent(watch_id, "connected", self._now(), conn.peer))
