"""The serial transport on real pseudo-terminals: noise, split writes, unplug and replug."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers import registry
from drivers.profile import Profile
from drivers.serial.checksums import xor8_hex
from drivers.serial.transport import Backoff, SerialTransport
from tests.support.serial import tanita_line
from tests.support.sinks import DecodingSink

TANITA = registry.get("tanita.serial")


class Pty:
    """A pseudo-terminal reached through a symlink, as /dev/serial/by-id/... would be."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        os.replace(tmp, self.link)
        os.close(slave)
        self.master = master

    def unplug(self) -> None:
        assert self.master is not None
        os.close(self.master)
        self.master = None

    async def write(self, *chunks: bytes) -> None:
        assert self.master is not None
        for c in chunks:
            os.write(self.master, c)
            await asyncio.sleep(0.005)  # let the reader see each chunk on its own


@pytest.fixture
def port(tmp_path: Path) -> Iterator[Pty]:
    p = Pty(tmp_path / "usb-FTDI_FT232R_A1234-if00-port0")
    yield p
    if p.master is not None:
        p.unplug()


def transport(port: Pty, sink: DecodingSink, profile: Profile = TANITA) -> SerialTransport:
    return SerialTransport(
        "tanita-1", str(port.link), profile, sink, backoff_initial_s=0.01, backoff_max_s=0.05
    )


async def test_split_lines_noise_and_bad_checksums(port: Pty) -> None:
    port.plug()
    sink = DecodingSink(TANITA)
    async with transport(port, sink):
        await sink.until(lambda: sink.states == ["connected"])
        good = tanita_line(82.7)
        bad = good.replace(b"Wk,82.7", b"Wk,82.8")
        await port.write(
            b"\x00\xff\x13\x80\xfe\xfa",  # wrong-baud noise
            good[:7],
            good[7:30],
            good[30:],  # one line in three reads
            b"irrelevant signal\r\n",  # WB-3000 trailer: reaches the sink, rejected there
            bad,
            b"\xf0\xf8" + tanita_line(61.4),  # noise glued to the next record
            tanita_line(70.1)[:20],  # partial line: must wait
        )
        await sink.until(lambda: len(sink.frames) == 6)
        await asyncio.sleep(0.05)
        assert len(sink.frames) == 6  # the partial line waits
        assert [f.data for f in sink.frames] == [
            b"\x00\xff\x13\x80\xfe\xfa",  # noise split off the record it was glued to
            good,
            b"irrelevant signal\r\n",
            bad,
            b"\xf0\xf8",
            tanita_line(61.4),
        ]
        assert [e.category for e in sink.errors] == ["malformed", "malformed", "bad_checksum", "malformed"]
        weights = [d.measurements[0].values["weight"].value for d in sink.decoded]
        assert weights == [82.7, 61.4]
        first = sink.frames[0]
        assert first.transport == "serial" and first.source == "tanita-1" and first.channel == str(port.link)
        assert first.received_at.tzinfo is not None
        await port.write(tanita_line(70.1)[20:])
        await sink.until(lambda: len(sink.decoded) == 3)


async def test_oversize_line_is_dropped_and_the_port_keeps_working(port: Pty) -> None:
    port.plug()
    sink = DecodingSink(TANITA)
    async with transport(port, sink) as t:
        await sink.until(lambda: sink.states == ["connected"])
        await port.write(b"{0," + b"9" * 3000 + b"\r\n", tanita_line(50.0))
        await sink.until(lambda: len(sink.frames) == 1)
        assert sink.decoded[0].measurements[0].values["weight"].value == 50.0
        assert t.dropped_bytes >= 3000


async def test_unplug_and_replug(port: Pty) -> None:
    port.plug()
    sink = DecodingSink(TANITA)
    async with transport(port, sink) as t:
        await sink.until(lambda: sink.states == ["connected"])
        await port.write(tanita_line(80.0))
        await sink.until(lambda: len(sink.decoded) == 1)
        port.unplug()
        await sink.until(lambda: sink.states == ["connected", "disconnected"])
        await asyncio.sleep(0.1)  # several reopen attempts fail meanwhile: still one event
        assert sink.states == ["connected", "disconnected"]
        port.plug()
        await sink.until(lambda: sink.states == ["connected", "disconnected", "connected"])
        await port.write(tanita_line(81.0))
        await sink.until(lambda: len(sink.decoded) == 2)
        assert sink.decoded[1].measurements[0].values["weight"].value == 81.0
        assert t.opens == 2


async def test_port_missing_at_start_is_reported_then_opened(port: Pty) -> None:
    sink = DecodingSink(TANITA)
    async with transport(port, sink):
        await sink.until(lambda: sink.states == ["disconnected"])
        assert "cannot open" in sink.links[0].detail
        port.plug()
        await sink.until(lambda: sink.states == ["disconnected", "connected"])


async def test_nmea_receiver_on_a_pty(port: Pty) -> None:
    nmea = registry.get("nmea")
    port.plug()
    sink = DecodingSink(nmea)
    async with transport(port, sink, nmea):
        await sink.until(lambda: sink.states == ["connected"])
        body = "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"
        sentence = f"${body}*{xor8_hex(body.encode())}\r\n".encode()
        await port.write(b"\x00\x00" + sentence[:15], sentence[15:] + b"$GPGSV,1,1*00\r\n")
        await sink.until(lambda: len(sink.frames) == 3)
        assert sink.decoded[0].measurements[0].kind == "position"
        assert [e.category for e in sink.errors] == ["malformed", "bad_checksum"]


async def test_leaving_the_context_stops_the_task(port: Pty) -> None:
    port.plug()
    sink = DecodingSink(TANITA)
    t = transport(port, sink)
    async with t:
        await sink.until(lambda: sink.states == ["connected"])
    assert t._task is not None and t._task.done()


def test_backoff_is_jittered_exponential_and_capped() -> None:
    import random

    b = Backoff(1.0, 8.0, random.Random(1))
    delays = [b.next() for _ in range(8)]
    for n, d in enumerate(delays):
        cap = min(8.0, 2.0**n)
        assert cap / 2 <= d <= cap
    b.reset()
    assert b.next() <= 1.0
