"""sd_notify and the watchdog against real AF_UNIX datagram sockets (no systemd needed)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sdnotify import Notifier, Watchdog, watchdog_interval

REPO = Path(__file__).resolve().parents[2]


class Receiver:
    """The systemd end: a bound datagram socket that collects notifications."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def recv(self) -> list[str]:
        self.sock.settimeout(10)  # a guard against hanging, not a timed assertion
        return self.sock.recv(4096).decode().split("\n")

    def drain(self) -> list[list[str]]:
        self.sock.setblocking(False)
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode().split("\n"))
            except BlockingIOError:
                return out


@pytest.fixture
def path_receiver(tmp_path: Path) -> Iterator[Receiver]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        yield Receiver(sock, str(path))
    finally:
        sock.close()


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"hutgw-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Receiver:
    return request.getfixturevalue(f"{request.param}_receiver")  # type: ignore[no-any-return]


def test_lifecycle_messages_arrive(receiver: Receiver) -> None:
    with Notifier.from_env({"NOTIFY_SOCKET": receiver.env_value}) as n:
        assert n.enabled
        assert n.ready("outbox, uplink and 3 devices up")
        assert receiver.recv() == ["READY=1", "STATUS=outbox, uplink and 3 devices up"]
        assert n.status("uplink connected")
        assert receiver.recv() == ["STATUS=uplink connected"]
        assert n.watchdog()
        assert receiver.recv() == ["WATCHDOG=1"]
        assert n.mainpid(4242)
        assert receiver.recv() == ["MAINPID=4242"]
        assert n.extend_timeout(2.5)
        assert receiver.recv() == ["EXTEND_TIMEOUT_USEC=2500000"]
        assert n.stopping("flushing outbox")
        assert receiver.recv() == ["STOPPING=1", "STATUS=flushing outbox"]
        assert n.last_status == "flushing outbox"


def test_status_is_kept_on_one_line(path_receiver: Receiver) -> None:
    with Notifier(path_receiver.env_value) as n:
        n.status("line one\nWATCHDOG=1")
    assert path_receiver.recv() == ["STATUS=line one WATCHDOG=1"]


async def test_status_given_through_notify_is_restored_after_recovery(path_receiver: Receiver) -> None:
    notifier = Notifier(path_receiver.env_value)
    notifier.notify("READY=1", "STATUS=ready: API http://127.0.0.1:8080")
    wd = Watchdog(notifier, 10.0, Script(["uplink stuck", True]))
    wd.tick()
    wd.tick()
    notifier.close()
    assert path_receiver.drain() == [
        ["READY=1", "STATUS=ready: API http://127.0.0.1:8080"],
        ["STATUS=unhealthy: uplink stuck"],
        ["WATCHDOG=1", "STATUS=ready: API http://127.0.0.1:8080"],
    ]
    assert notifier.last_status == "ready: API http://127.0.0.1:8080"


def test_the_kernel_names_the_sending_process(path_receiver: Receiver) -> None:
    """systemd's NotifyAccess=main checks the sender pid; it must be the daemon process itself."""
    path_receiver.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    env = {**os.environ, "NOTIFY_SOCKET": path_receiver.env_value}
    code = (
        "import os; from gateway.sdnotify import Notifier\n"
        "n = Notifier.from_env(unset=True)\n"
        "assert 'NOTIFY_SOCKET' not in os.environ\n"
        "raise SystemExit(0 if n.ready('up') else 3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO)
    assert proc.wait(timeout=60) == 0
    path_receiver.sock.settimeout(10)
    data, ancdata, _flags, _addr = path_receiver.sock.recvmsg(4096, socket.CMSG_SPACE(12))
    assert data.decode().split("\n") == ["READY=1", "STATUS=up"]
    creds = [d for level, kind, d in ancdata if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS]
    pid, uid, _gid = struct.unpack("3i", creds[0][:12])
    assert (pid, uid) == (proc.pid, os.getuid())


def test_without_notify_socket_everything_is_a_no_op() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert n.ready("x") is False
    assert n.watchdog() is False
    assert n.stopping() is False


def test_unsupported_address_is_off_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        n = Notifier("vsock:2:1234")
    assert not n.enabled
    assert n.ready() is False
    assert "not an AF_UNIX path" in caplog.text


def test_unreachable_socket_reports_false_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier(str(tmp_path / "nobody-listens"))
    with caplog.at_level(logging.WARNING):
        assert n.ready() is False
    assert "failed" in caplog.text
    n.close()


def test_from_env_can_unset_the_variable() -> None:
    env = {"NOTIFY_SOCKET": "@x", "OTHER": "1"}
    n = Notifier.from_env(env, unset=True)
    assert n.enabled
    assert env == {"OTHER": "1"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "self"}, 30.0),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "junk"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    env = {k: (str(os.getpid()) if v == "self" else v) for k, v in env.items()}
    assert watchdog_interval(env) == expected


def test_watchdog_interval_for_another_pid() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "77"}, pid=77) == 4.0


class Script:
    """A health check that answers from a script, then ``then``; ``done`` once consumed."""

    def __init__(self, answers: list[bool | str], then: bool | str = True) -> None:
        self.answers = list(answers)
        self.then = then
        self.calls = 0
        self.done = asyncio.Event()

    def __call__(self) -> bool | str:
        self.calls += 1
        if not self.answers:
            return self.then
        answer = self.answers.pop(0)
        if not self.answers:
            self.done.set()
        return answer


async def test_watchdog_pings_only_while_healthy(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(receiver.env_value)
    notifier.status("running: 3 devices")
    assert receiver.recv() == ["STATUS=running: 3 devices"]
    script = Script(
        [True, True, "uplink task stuck", "uplink task stuck", "device task ble-1 dead", True, True]
    )
    with caplog.at_level(logging.INFO, logger="test.watchdog"):
        async with Watchdog(notifier, 0.02, script, logging.getLogger("test.watchdog")) as wd:
            assert wd.period == 0.01
            await script.done.wait()
    notifier.close()
    got = receiver.drain()
    expected = [
        ["WATCHDOG=1"],
        ["WATCHDOG=1"],
        ["STATUS=unhealthy: uplink task stuck"],
        # second identical answer: no ping, no repeated status
        ["STATUS=unhealthy: device task ble-1 dead"],
        ["WATCHDOG=1", "STATUS=running: 3 devices"],
        ["WATCHDOG=1"],
    ]
    assert got[: len(expected)] == expected
    assert all(m == ["WATCHDOG=1"] for m in got[len(expected) :])
    assert wd.unhealthy_reason is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2
    assert "uplink task stuck" in errors[0]
    assert "device task ble-1 dead" in errors[1]
    assert any("healthy again" in r.getMessage() for r in caplog.records)


async def test_watchdog_stops_pinging_for_good_when_unhealthy(path_receiver: Receiver) -> None:
    script = Script([True, False, "disk full", "disk full", "disk full"], then="disk full")
    notifier = Notifier(path_receiver.env_value)
    async with Watchdog(notifier, 0.02, script) as wd:
        await script.done.wait()
    notifier.close()
    got = path_receiver.drain()
    assert got == [
        ["WATCHDOG=1"],
        ["STATUS=unhealthy: unhealthy (no reason given)"],
        ["STATUS=unhealthy: disk full"],
    ]
    assert wd.pings == 1
    assert wd.unhealthy_reason == "disk full"


async def test_a_failing_health_check_counts_as_unhealthy(path_receiver: Receiver) -> None:
    def broken() -> bool | str:
        raise RuntimeError("boom")

    notifier = Notifier(path_receiver.env_value)
    wd = Watchdog(notifier, 10.0, broken)
    wd.tick()
    wd.tick()
    notifier.close()
    assert path_receiver.drain() == [["STATUS=unhealthy: health check failed: RuntimeError: boom"]]
    assert wd.pings == 0


async def test_watchdog_is_a_no_op_outside_systemd(path_receiver: Receiver) -> None:
    script = Script([True])
    async with Watchdog(Notifier(None), 0.02, script) as wd:
        assert not wd.active
        assert wd.period is None
        await asyncio.sleep(0)
    async with Watchdog(Notifier(path_receiver.env_value), None, script) as wd2:
        assert not wd2.active
        await asyncio.sleep(0)
    assert script.calls == 0
    assert path_receiver.drain() == []


async def test_watchdog_task_ends_with_the_block_even_on_error(path_receiver: Receiver) -> None:
    notifier = Notifier(path_receiver.env_value)
    with pytest.raises(ValueError, match="daemon failed"):
        async with Watchdog(notifier, 0.02, lambda: True):
            await asyncio.sleep(0.05)
            raise ValueError("daemon failed")
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "sd-watchdog"]
    notifier.close()


async def test_run_until_stop_in_the_callers_task_group(path_receiver: Receiver) -> None:
    script = Script([True, "outbox stalled", True])
    stop = asyncio.Event()
    notifier = Notifier(path_receiver.env_value)
    wd = Watchdog(notifier, 0.02, script)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(wd.run(stop), name="watchdog")
        await script.done.wait()
        stop.set()
    notifier.close()
    calls = script.calls
    assert path_receiver.drain()[:3] == [
        ["WATCHDOG=1"],
        ["STATUS=unhealthy: outbox stalled"],
        ["WATCHDOG=1", "STATUS=running"],
    ]
    assert calls == 3
    assert wd.pings == 2


async def test_run_returns_at_once_when_inactive() -> None:
    script = Script([True])
    await Watchdog(Notifier(None), 30.0, script).run(asyncio.Event())
    assert script.calls == 0
