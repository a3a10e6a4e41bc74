"""Repeated log lines are rate-limited: one line per kind per interval, with a count
(issue 17 item 8: 224,188 asyncio tracebacks in 39 s filled the SD card)."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import Iterator

import pytest

from gateway.logsetup import RateLimit, setup_logging


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def limited() -> Iterator[tuple[logging.Logger, io.StringIO, Clock]]:
    buf = io.StringIO()
    clock = Clock()
    handler = logging.StreamHandler(buf)
    handler.addFilter(RateLimit(10.0, burst=3, clock=clock))
    logger = logging.getLogger(f"test.dos.logging.{id(buf)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, buf, clock
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {n: logging.getLogger(n).level for n in ("asyncio", "aiosqlite")}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for n, lv in levels.items():
            logging.getLogger(n).setLevel(lv)


def test_a_few_lines_per_kind_per_interval_with_a_count(
    limited: tuple[logging.Logger, io.StringIO, Clock],
) -> None:
    log, buf, clock = limited
    for i in range(1000):
        log.warning("connection from %s failed", f"10.0.0.{i % 250}")
        clock.t += 0.001
    log.warning("another kind %s", 1)
    assert buf.getvalue().splitlines() == [
        "connection from 10.0.0.0 failed",
        "connection from 10.0.0.1 failed",
        "connection from 10.0.0.2 failed",
        "another kind 1",
    ]
    clock.t += 10.0
    log.warning("connection from %s failed", "10.0.0.9")
    assert (
        buf.getvalue()
        .splitlines()[-1]
        .startswith("connection from 10.0.0.9 failed [997 more like this in the last 1")
    )
    log.warning("connection from %s failed", "10.0.0.9")  # a new interval: the count starts over
    assert buf.getvalue().splitlines()[-1] == "connection from 10.0.0.9 failed"


def test_levels_are_different_kinds_and_tracebacks_go_with_their_line(
    limited: tuple[logging.Logger, io.StringIO, Clock],
) -> None:
    log, buf, _ = limited
    for _ in range(50):
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            log.exception("accept failed")
        log.info("accept failed")
    text = buf.getvalue()
    assert text.count("Traceback") == 3
    assert text.count("accept failed") == 6


def test_messages_without_arguments_are_keyed_on_their_first_line(
    limited: tuple[logging.Logger, io.StringIO, Clock],
) -> None:
    log, buf, _ = limited
    for i in range(100):  # how asyncio's exception handler writes: context lines vary
        message = "socket.accept() out of system resource\nsocket: <socket fd=" + str(i) + ">"
        log.error(message)
    assert buf.getvalue().count("out of system resource") == 3


def test_remembered_kinds_are_bounded() -> None:
    clock = Clock()
    limit = RateLimit(10.0, clock=clock, max_kinds=100)
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    for i in range(1000):
        rec.msg = f"kind {i}"
        assert limit.filter(rec)
    assert len(limit._kinds) <= 100


async def test_asyncio_send_errors_are_rate_limited_by_setup_logging(root_restored: None) -> None:
    """asyncio's own ``socket.send() raised exception.`` warnings, through the daemon's handler."""
    buf = io.StringIO()
    setup_logging("INFO", stream=buf, journal=False)
    server_socks: list[socket.socket] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_socks.append(writer.get_extra_info("socket"))
        writer.transport.abort()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.02)
        for _ in range(8):  # the peer is gone: asyncio warns from the 5th write on
            writer.write(b"x" * 10)
            await asyncio.sleep(0)
        writer.transport.abort()
    server.close()
    await server.wait_closed()
    text = buf.getvalue()
    assert 1 <= text.count("socket.send() raised exception") <= 5, text
