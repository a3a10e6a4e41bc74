"""The serial port transport: pyserial through pyserial-asyncio-fast, framed by the profile.

``async with SerialTransport(...)`` owns one task that opens the port, frames what arrives
(the profile's framer: bounded lines, noise dropped) and hands every line to the sink as a
:class:`~drivers.frames.RawFrame`. When the port goes away (USB adapter unplugged, device
node gone, read error) it reports ``disconnected``, closes, and reopens with jittered
exponential backoff, reporting ``connected`` again once the port is back.

This is the only module of ``drivers.serial`` that imports pyserial.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import serial
import serial_asyncio_fast

from drivers.frames import RawFrame
from drivers.profile import Framer, Profile, SerialSettings
from drivers.serial.framer import LineFramer
from drivers.source import FrameSink, LinkEvent, LinkState


class Backoff:
    """Jittered exponential backoff: ``initial * 2**n`` capped at ``maximum``, times 0.5..1."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return delay * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0


class _Reader(asyncio.Protocol):
    """Bridges pyserial-asyncio-fast's protocol callbacks to a queue, pausing the port when full."""

    def __init__(self, high_water: int) -> None:
        self.queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self._high = high_water
        self.paused = False
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.queue.put_nowait(data)
        if self.queue.qsize() >= self._high and not self.paused:
            self.paused = True  # the consumer is behind: stop reading rather than grow without bound
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(exc)

    def taken(self) -> None:
        if self.paused and self.queue.qsize() < self._high // 2:
            self.paused = False
            self.transport.resume_reading()


class SerialTransport:
    def __init__(
        self,
        device_id: str | None,
        port_path: str,
        profile: Profile,
        sink: FrameSink,
        settings: SerialSettings | None = None,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
        queue_size: int = 256,
    ) -> None:
        self.source = device_id or port_path
        self.port_path = port_path
        self.profile = profile
        self.settings = settings or profile.serial or SerialSettings()
        self._sink = sink
        self._clock = clock
        self._log = logger or logging.getLogger("hutgw.serial")
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng)
        self._queue_size = queue_size
        self._task: asyncio.Task[None] | None = None
        self._tg: asyncio.TaskGroup | None = None
        self.state: LinkState | None = None
        self.frames = 0
        self.dropped_bytes = 0
        self.opens = 0

    async def __aenter__(self) -> SerialTransport:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._task = self._tg.create_task(self._run(), name=f"serial:{self.source}")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._tg is not None:
            await self._tg.__aexit__(et, e, tb)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _link(self, state: LinkState, detail: str = "") -> None:
        if state == self.state:
            return
        self.state = state
        self._sink.link(LinkEvent(self.source, state, self._now(), detail))

    def _framer(self) -> Framer:
        return self.profile.framer() if self.profile.framer is not None else LineFramer(b"\n")

    async def _open(self, reader: _Reader) -> Any:
        s = self.settings
        loop = asyncio.get_running_loop()
        transport, _ = await asyncio.wait_for(
            serial_asyncio_fast.create_serial_connection(
                loop,
                lambda: reader,
                self.port_path,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                exclusive=True,
            ),
            timeout=10.0,
        )
        return transport

    async def _run(self) -> None:
        while True:
            reader = _Reader(self._queue_size)
            try:
                transport = await self._open(reader)
            except (OSError, serial.SerialException, TimeoutError, ValueError) as e:
                self._link("disconnected", f"cannot open {self.port_path}: {e}")
                delay = self._backoff.next()
                self._log.debug(
                    "%s: cannot open %s (%s); retry in %.1f s", self.source, self.port_path, e, delay
                )
                await asyncio.sleep(delay)
                continue
            self.opens += 1
            self._backoff.reset()
            self._log.info("%s: %s open at %d baud", self.source, self.port_path, self.settings.baudrate)
            self._link("connected", self.port_path)
            try:
                reason = await self._pump(reader, transport)
            finally:
                transport.close()
            self._log.warning("%s: %s lost (%s); reopening", self.source, self.port_path, reason)
            self._link("disconnected", reason)
            await asyncio.sleep(self._backoff.next())

    async def _pump(self, reader: _Reader, transport: Any) -> str:
        framer = self._framer()
        while True:
            item = await reader.queue.get()
            reader.taken()
            if item is None:
                return "port closed"
            if isinstance(item, BaseException):
                return str(item) or type(item).__name__
            before = getattr(framer, "dropped_bytes", 0)
            for line in framer.feed(item):
                reply = await self._emit(line)
                if reply:
                    transport.write(reply)
            dropped = getattr(framer, "dropped_bytes", 0) - before
            if dropped:
                self.dropped_bytes += dropped
                self._log.warning(
                    "%s: dropped %d bytes: a line longer than the profile allows (wrong baud rate?)",
                    self.source,
                    dropped,
                )

    async def _emit(self, line: bytes) -> bytes | None:
        self.frames += 1
        raw = RawFrame(
            transport="serial",
            source=self.source,
            data=line,
            received_at=self._now(),
            channel=self.port_path,
            monotonic=time.monotonic(),
        )
        try:
            return await self._sink.frame(raw)
        except Exception:  # the sink must not raise; if it does, keep the port alive
            self._log.exception("%s: sink failed on a frame", self.source)
            return None
