"""The daemon and a damaged outbox: SIGTERM during the repair at start-up stops it at once; the
next start repairs again and raises ``buffer_recovered``; an emptied outbox is raised as a loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from buffer import Outbox, OutboxSettings, marks
from tests.buffer.conftest import ManualClock
from tests.buffer.test_salvage_bounds import make_database
from tests.support.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
HUTGW = [sys.executable, "-m", "provisioning.entry"]


def start(state: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [*HUTGW, "run", "--state-dir", str(state), "--gateway-id", "hut-rep", "--api", f"127.0.0.1:{port}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    return proc, f"http://127.0.0.1:{port}"


def wait_until(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.002)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
            return bool(json.loads(r.read())["gateway_id"])
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def alerts_of_kind(db: Path, kind: str) -> int:
    async with Outbox(db, settings=OutboxSettings(maintain_interval_s=None)) as ob:
        return len(await ob.list(stream="alerts", kind=kind, limit=1000))


async def test_sigterm_during_the_repair_stops_the_daemon_and_the_next_start_reports_it(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "outbox.db"
    claimed = await make_database(db, 60_000, ManualClock())
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)
    log = tmp_path / "daemon.log"
    proc, _ = start(state, log)
    try:
        mark = marks.recovery_path(db)
        wait_until(lambda: mark.exists() and db.exists(), 30, "repair")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    t0 = time.monotonic()
    assert stop(proc) == 0, log.read_text()
    assert time.monotonic() - t0 < 5.0, log.read_text()
    got = marks.read_recovery(db)
    assert got is not None and got.phase == marks.SALVAGING, log.read_text()  # stopped half-way
    assert "stop signal during start-up: stopped" in log.read_text()

    proc, url = start(state, log)
    try:
        wait_until(lambda: answers(url), 60, "API")
    finally:
        assert stop(proc) == 0, log.read_text()
    assert "was interrupted (stopped or killed); starting it over" in log.read_text()
    assert marks.read_recovery(db) is None  # reported: not raised again
    assert await alerts_of_kind(db, "buffer_recovered") == 1
    async with Outbox(db, settings=OutboxSettings(maintain_interval_s=None)) as ob:
        assert ob.recovery is None
        assert (await ob.stats()).seq_high > claimed


async def test_an_emptied_outbox_is_raised_as_a_loss_and_numbering_goes_on(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "outbox.db"
    claimed = await make_database(db, 3000, ManualClock())
    assert marks.read_seq_high(db) is not None
    db.write_bytes(b"")  # the card lost the file's contents (0 bytes), the folder kept its name
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    log = tmp_path / "daemon.log"
    proc, url = start(state, log)
    try:
        wait_until(lambda: answers(url), 60, "API")
    finally:
        assert stop(proc) == 0, log.read_text()
    assert await alerts_of_kind(db, "buffer_recovered") == 1
    async with Outbox(db, settings=OutboxSettings(maintain_interval_s=None)) as ob:
        assert ob.recovery is None
        assert min(s.seq for s in await ob.list(limit=100)) > claimed
