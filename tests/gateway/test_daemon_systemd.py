"""The daemon under a (real-socket) systemd: READY, watchdog pings, STOPPING, graceful stop.

No systemd is needed: the tests bind the AF_UNIX datagram socket systemd would pass in
``$NOTIFY_SOCKET`` and read the daemon's notifications from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from gateway.config import parse
from gateway.daemon import Daemon
from gateway.sdnotify import Notifier
from tests.support.broker import Broker, free_port

# ``hutgw`` as installed (the console script systemd starts): provisioning.entry.
HUTGW = [sys.executable, "-m", "provisioning.entry"]


class NotifySocket:
    """The receiving end of ``$NOTIFY_SOCKET``: one datagram = one notification."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.seen: list[list[str]] = []

    def next(self, timeout: float) -> list[str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        lines = data.decode().split("\n")
        self.seen.append(lines)
        return lines

    def wait_for(self, line: str, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.next(left)
            if msg is not None and line in msg:
                return msg
        raise AssertionError(f"no {line} within {timeout} s; got {self.seen}")

    async def await_for(self, line: str, timeout: float) -> list[str]:
        """The same, from inside the daemon's own event loop (in-process tests)."""
        return await self.await_for_prefix(line, timeout, exact=True)

    async def await_for_prefix(self, prefix: str, timeout: float, *, exact: bool = False) -> list[str]:
        """The first notification with a line starting with ``prefix``; that line comes first."""
        loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        async with asyncio.timeout(timeout):
            while True:
                lines = (await loop.sock_recv(self.sock, 4096)).decode().split("\n")
                self.seen.append(lines)
                hits = [x for x in lines if (x == prefix if exact else x.startswith(prefix))]
                if hits:
                    return [hits[0], *(x for x in lines if x != hits[0])]

    async def drain(self, seconds: float) -> list[list[str]]:
        """Everything that arrives within ``seconds`` (and nothing from before)."""
        self.seen.clear()
        with contextlib.suppress(TimeoutError):
            await self.await_for("\0never", seconds)
        got, self.seen = self.seen, []
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    s = NotifySocket(tmp_path / "notify.sock")
    yield s
    s.close()


def start_daemon(
    tmp_path: Path, notify: NotifySocket, broker_url: str | None, *, watchdog_usec: int = 2_000_000
) -> tuple[subprocess.Popen[bytes], str, Path]:
    state = tmp_path / "state"
    port = free_port()
    env = dict(
        os.environ, PYTHONUNBUFFERED="1", NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC=str(watchdog_usec)
    )
    args = [*HUTGW, "run", "--state-dir", str(state), "--gateway-id", "hut-sd", "--api", f"127.0.0.1:{port}"]
    if broker_url:
        args += ["--broker", broker_url]
    log = tmp_path / "daemon.log"
    proc = subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)
    return proc, f"http://127.0.0.1:{port}", log


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as r:
        data: dict[str, object] = json.loads(r.read())
        return data


def post_reading(url: str) -> str:
    body = {"kind": "blood_pressure", "values": {"systolic": 121, "diastolic": 79, "pulse_rate": 66}}
    req = urllib.request.Request(
        url + "/api/v1/readings", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201
        rid: str = json.loads(r.read())["id"]
        return rid


def test_ready_watchdog_stopping_and_a_clean_exit(
    tmp_path: Path, notify_socket: NotifySocket, broker: Broker
) -> None:
    proc, url, log = start_daemon(tmp_path, notify_socket, broker.url)
    try:
        ready = notify_socket.wait_for("READY=1", timeout=30)
        # READY means the API already answers: no retry loop here.
        health = get_json(url + "/api/v1/health")
        assert health["gateway_id"] == "hut-sd"
        assert any(line.startswith("STATUS=ready") for line in ready)
        # WATCHDOG_USEC=2 s: a ping every second while healthy.
        for _ in range(3):
            notify_socket.wait_for("WATCHDOG=1", timeout=5)
        rid = post_reading(url)
        proc.send_signal(signal.SIGTERM)
        stopping = notify_socket.wait_for("STOPPING=1", timeout=5)
        assert "STATUS=stopping" in stopping
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "stopping: intake closed, flushing the outbox" in text and text.rstrip().endswith("stopped"), text
    assert not any("WATCHDOG=1" in m for m in notify_socket.seen[-1:])  # nothing after STOPPING
    # The database was closed cleanly: the reading is in it and the WAL was checkpointed away.
    state = tmp_path / "state"
    assert not (state / "outbox.db-wal").exists() or (state / "outbox.db-wal").stat().st_size == 0
    con = sqlite3.connect(state / "outbox.db")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        ids = {r[0] for t in tables for r in _ids(con, t)}
    finally:
        con.close()
    assert rid in ids


def _ids(con: sqlite3.Connection, table: str) -> list[tuple[str]]:
    cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    return con.execute(f"SELECT id FROM {table}").fetchall() if "id" in cols else []


def test_a_second_sigterm_during_a_slow_shutdown_exits_at_once(
    tmp_path: Path, notify_socket: NotifySocket, broker: Broker
) -> None:
    proc, url, log = start_daemon(tmp_path, notify_socket, broker.url)
    assert broker.proc is not None
    try:
        notify_socket.wait_for("READY=1", timeout=30)
        deadline = time.monotonic() + 20
        while not get_json(url + "/api/v1/health")["uplink"]["connected"]:  # type: ignore[index]
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        # A broker that stopped answering: the uplink's goodbye ("offline" status) waits for it.
        broker.proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING=1", timeout=5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 1
    finally:
        broker.proc.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "second stop signal: exiting now" in text, text
    assert not text.rstrip().endswith("stopped"), text  # the graceful path did not finish


# -- the health check behind the watchdog (in-process) -------------------------------------------


async def test_watchdog_pings_only_while_healthy(tmp_path: Path, notify_socket: NotifySocket) -> None:
    verdict: list[bool | str] = [True]
    config = parse(
        {
            "gateway_id": "hut-wd",
            "state_dir": str(tmp_path / "state"),
            "api": {"listen": f"127.0.0.1:{free_port()}"},
        }
    )
    notifier = Notifier(str(notify_socket.path))
    async with Daemon(
        config,
        notifier=notifier,
        watchdog_s=0.4,  # a ping every 0.2 s
        health_probes=[lambda: verdict[0]],
        stale_after_s=0.5,
    ) as daemon:
        await notify_socket.await_for("READY=1", 5)
        await notify_socket.await_for("WATCHDOG=1", 5)
        assert daemon.health() is None

        # 1. A probe that names a problem: pings stop, the reason goes into STATUS=.
        verdict[0] = "sensor bus wedged"
        status = await notify_socket.await_for("STATUS=unhealthy: sensor bus wedged", 5)
        assert "WATCHDOG=1" not in status
        quiet = await notify_socket.drain(1.0)  # five periods
        assert not any("WATCHDOG=1" in m for m in quiet), quiet
        verdict[0] = True
        back = await notify_socket.await_for("WATCHDOG=1", 5)
        assert "STATUS=ready: API " + daemon.api_url in back  # the last real status is restored

        # 2. A stuck outbox (a commit waiting on a database another process locked).
        lock = sqlite3.connect(tmp_path / "state" / "outbox.db", isolation_level=None, timeout=1)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            async with aiohttp.ClientSession() as http:
                body = {"kind": "blood_pressure", "values": {"systolic": 120, "diastolic": 80}}
                post = asyncio.create_task(http.post(daemon.api_url + "/api/v1/readings", json=body))
                msg = await notify_socket.await_for_prefix("STATUS=unhealthy: outbox writer stuck", 8)
                assert "WATCHDOG=1" not in msg
                assert not post.done()  # the reading is not acknowledged before it is on disk
                lock.execute("COMMIT")
                response = await post
                assert response.status == 201
                response.release()
        finally:
            lock.close()
        await notify_socket.await_for("WATCHDOG=1", 5)

        # 3. A dead component: the device supervisor task ends.
        daemon.tasks["devices"].cancel()
        msg = await notify_socket.await_for("STATUS=unhealthy: devices task stopped", 5)
        assert daemon.health() == "devices task stopped"
        quiet = await notify_socket.drain(1.0)
        assert not any("WATCHDOG=1" in m for m in quiet), quiet
    notifier.close()


async def test_a_failing_probe_is_a_reason_too(tmp_path: Path, notify_socket: NotifySocket) -> None:
    def broken() -> bool:
        raise RuntimeError("probe exploded")

    config = parse(
        {
            "gateway_id": "hut-wd2",
            "state_dir": str(tmp_path / "state"),
            "api": {"listen": f"127.0.0.1:{free_port()}"},
        }
    )
    async with Daemon(
        config, notifier=Notifier(str(notify_socket.path)), watchdog_s=0.4, health_probes=[broken]
    ):
        msg = await notify_socket.await_for_prefix("STATUS=unhealthy: health check failed", 5)
        assert "probe exploded" in msg[0]
        quiet = await notify_socket.drain(0.6)
        assert not any("WATCHDOG=1" in m for m in quiet), quiet
