"""A TCP proxy for chaos tests: forwards 127.0.0.1:<port> to a target, and can misbehave.

* ``drop()``: close every open connection at once (RST-like: the peers see a reset/EOF).
* ``blackhole(True)``: keep connections open but forward nothing, and accept new connections
  without connecting them anywhere (what a dead NAT or a cut cable looks like); ``False`` stops.
* ``chaos(rng, period)``: a task that, at random, drops or blackholes for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from dataclasses import dataclass, field


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    port: int = field(default_factory=_free_port)
    drops: int = 0
    blackholes: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _open: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._open.set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop(count=False)
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def drop(self, *, count: bool = True) -> None:
        if count:
            self.drops += 1
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                sock = w.get_extra_info("socket")
                if sock is not None:  # abortive close: the peer gets a reset
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                w.transport.abort()
        self._writers.clear()

    async def pause(self) -> None:
        """Stop listening and drop every connection: reconnects are refused until ``resume``."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.drop()

    async def resume(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    def blackhole(self, on: bool) -> None:
        if on:
            self.blackholes += 1
            self._open.clear()
        else:
            self._open.set()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        await self._open.wait()
        try:
            server_r, server_w = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port), 5
            )
        except (OSError, TimeoutError):
            client_w.transport.abort()
            self._writers.discard(client_w)
            return
        self._writers.add(server_w)
        a = asyncio.create_task(self._pipe(client_r, server_w))
        b = asyncio.create_task(self._pipe(server_r, client_w))
        self._tasks.update((a, b))
        try:
            await asyncio.wait((a, b), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (a, b):
                t.cancel()
            for w in (client_w, server_w):
                w.transport.abort()
                self._writers.discard(w)
            self._tasks.difference_update((a, b))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            await self._open.wait()  # blackholed: hold the bytes (the peer sees silence)
            writer.write(data)
            await writer.drain()

    async def chaos(self, rng: random.Random, *, period: float = 1.0, blackhole_s: float = 3.0) -> None:
        """Until cancelled: every ~``period`` s maybe drop all connections or blackhole for a while."""
        while True:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * period)
            roll = rng.random()
            if roll < 0.35:
                self.drop()
            elif roll < 0.55:
                self.blackhole(True)
                await asyncio.sleep(rng.uniform(0.5, 1.0) * blackhole_s)
                self.blackhole(False)
                self.drop()  # the stalled connections are dead to their peers by now
