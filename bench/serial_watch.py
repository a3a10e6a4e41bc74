"""Serial and watch paths against raw baselines measured in the same run.

Run: ``.venv/bin/python bench/serial_watch.py [--n 20000]``. It prints, per path, the rate and the
ratio to its raw baseline:

* Tanita decode: the format engine (``tanita.serial``: pairs, checksum, field table, measurement)
  vs a bare ``split(",")`` + ``float`` of the same line (the least any parser must do).
* NMEA decode: ``nmea`` (checksum, RMC fields, position) vs a bare XOR + ``split``.
* Serial transport on a real pty: lines through ``SerialTransport`` (pyserial-asyncio-fast,
  framer, RawFrame, sink) vs a raw ``os.read`` loop on the same kind of pty splitting lines.
* Watch listener on 127.0.0.1: ``LK`` heartbeats through ``WatchServer`` with a sink that decodes
  and replies vs a raw asyncio echo server answering each ``]``-terminated frame.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import tty
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers import registry  # noqa: E402
from drivers.frames import RawFrame  # noqa: E402
from drivers.serial.checksums import sum8_hex, xor8_hex  # noqa: E402
from drivers.serial.transport import SerialTransport  # noqa: E402
from drivers.source import LinkEvent  # noqa: E402
from drivers.watch.codec import build_frame  # noqa: E402
from drivers.watch.server import WatchServer  # noqa: E402

_T = '{0,16,~0,1,~1,1,~2,1,MO,"SC-240",SN,"00000002",Bt,0,GE,1,AG,30,Hm,170,Pt,0.0,Wk,82.7,FW,18.6,'
_T += "fW,15.4,MW,67.3,mW,64.0,sW,19,bW,3.3,wW,48.0,ww,58.0,MI,28.6,Sw,63.6,OV,30.0,IF,6,rb,8255,"
_T += "rB,1973,rJ,12,rA,28,ZF,369.4,"
TANITA = (_T + "CS," + sum8_hex(_T.encode()) + "\r\n").encode()
_N = "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"
NMEA = f"${_N}*{xor8_hex(_N.encode())}\r\n".encode()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def rate(n: int, fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return n / (time.perf_counter() - t)


def bench_decode(n: int) -> list[tuple[str, float, float]]:
    tanita, nmea = registry.get("tanita.serial"), registry.get("nmea")
    tf = RawFrame("serial", "b", TANITA, NOW)
    nf = RawFrame("serial", "b", NMEA, NOW)

    def raw_tanita() -> None:
        for _ in range(n):
            parts = TANITA.decode().rstrip().split(",")
            for v in parts[9::2]:
                with contextlib.suppress(ValueError):
                    float(v)

    def raw_nmea() -> None:
        for _ in range(n):
            body = NMEA.decode().rstrip()
            star = body.rfind("*")
            xor8_hex(body[1:star].encode())
            f = body[1:star].split(",")
            float(f[3]), float(f[5])

    return [
        (
            "tanita decode (lines/s)",
            rate(n, lambda: [tanita.decode(tf) for _ in range(n)]),
            rate(n, raw_tanita),
        ),
        ("nmea decode (lines/s)", rate(n, lambda: [nmea.decode(nf) for _ in range(n)]), rate(n, raw_nmea)),
    ]


class CountingSink:
    def __init__(self, want: int) -> None:
        self.count = 0
        self.want = want
        self.done = asyncio.Event()
        self.connected = asyncio.Event()

    async def frame(self, frame: RawFrame) -> bytes | None:
        self.count += 1
        if self.count >= self.want:
            self.done.set()
        return None

    def link(self, event: LinkEvent) -> None:
        if event.state == "connected":
            self.connected.set()


def _pty(link: Path) -> int:
    master, slave = os.openpty()
    tty.setraw(slave)
    link.unlink(missing_ok=True)
    link.symlink_to(os.ttyname(slave))
    os.close(slave)
    return master


async def _writer(master: int, n: int) -> None:
    chunk = TANITA * 50
    sent = 0
    loop = asyncio.get_running_loop()
    while sent < n:
        await loop.run_in_executor(None, os.write, master, chunk)
        sent += 50


async def bench_serial(n: int, tmp: Path) -> tuple[str, float, float]:
    # raw: read the pty slave directly and split lines
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(slave, False)
    loop = asyncio.get_running_loop()
    got = 0
    buf = b""
    done = asyncio.Event()

    def readable() -> None:
        nonlocal got, buf
        buf += os.read(slave, 65536)
        *lines, buf = buf.split(b"\n")
        got += len(lines)
        if got >= n:
            done.set()

    loop.add_reader(slave, readable)
    t = time.perf_counter()
    writer = asyncio.create_task(_writer(master, n))
    await done.wait()
    raw = n / (time.perf_counter() - t)
    loop.remove_reader(slave)
    await writer
    os.close(slave)
    os.close(master)

    link = tmp / "bench-tty"
    master = _pty(link)
    sink = CountingSink(n)
    async with SerialTransport("bench", str(link), registry.get("tanita.serial"), sink):
        await sink.connected.wait()
        t = time.perf_counter()
        writer = asyncio.create_task(_writer(master, n))
        await sink.done.wait()
        ours = n / (time.perf_counter() - t)
        await writer
    os.close(master)
    return ("serial transport, tanita lines (lines/s)", ours, raw)


class ReplyingSink(CountingSink):
    def __init__(self, want: int) -> None:
        super().__init__(want)
        self.profile = registry.get("watch.tcp")

    async def frame(self, frame: RawFrame) -> bytes | None:
        await super().frame(frame)
        return self.profile.decode(frame).reply


async def _watch_client(port: int, n: int, window: int = 100) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lk = build_frame("3G", "1234567890", None, "LK")
    t = time.perf_counter()
    for _ in range(n // window):
        writer.write(lk * window)
        await reader.readexactly(len(lk) * window)
    elapsed = time.perf_counter() - t
    writer.close()
    return (n // window * window) / elapsed


async def bench_watch(n: int) -> tuple[str, float, float]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = b""
        while data := await reader.read(4096):
            buf += data
            *frames, buf = buf.split(b"]")
            writer.write(b"".join(f + b"]" for f in frames))
            await writer.drain()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    raw = await _watch_client(server.sockets[0].getsockname()[1], n)
    server.close()
    sink = ReplyingSink(n)
    async with WatchServer("127.0.0.1", 0, sink, lambda _: True) as srv:
        ours = await _watch_client(srv.port, n)
    return ("watch listener, LK answered (frames/s)", ours, raw)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    rows = bench_decode(args.n)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        rows.append(await bench_serial(args.n, Path(d)))
    rows.append(await bench_watch(args.n))
    print(f"{'path':44} {'ours':>12} {'raw':>12} {'ratio':>7}")
    for name, ours, raw in rows:
        print(f"{name:44} {ours:12,.0f} {raw:12,.0f} {ours / raw:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
