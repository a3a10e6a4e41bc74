"""Chaos: readings driven in continuously while the network, the broker, the gateway and the
receiver all fail in one run (real processes). Every reading the gateway acknowledged must end
up in the receiver's database exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.support.broker import running_broker
from tests.support.procs import Proc
from tests.support.tcpproxy import TcpProxy


def _read_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if len(line) == 36]


def _receiver_rows(db: Path) -> tuple[list[str], dict[str, int]]:
    if not db.exists():
        return [], {}
    con = sqlite3.connect(db, timeout=10)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM readings")]
        counters = dict(con.execute("SELECT name, value FROM counters").fetchall())
        return ids, counters
    except sqlite3.OperationalError:
        return [], {}
    finally:
        con.close()


@pytest.mark.slow
async def test_everything_acknowledged_arrives_exactly_once(open_dir: Path) -> None:
    rng = random.Random(20261129)
    logdir = open_dir / "logs"
    logdir.mkdir()
    db = open_dir / "county.db"
    with running_broker(open_dir / "mq") as broker:
        async with TcpProxy("127.0.0.1", broker.port) as proxy:
            gateway = Proc(
                "gateway",
                [
                    sys.executable,
                    "-m",
                    "tests.uplink.chaos_gateway",
                    "--outbox",
                    str(open_dir / "outbox.db"),
                    "--broker",
                    f"mqtt://127.0.0.1:{proxy.port}",
                    "--log",
                    str(logdir),
                    "--rate",
                    "300",
                ],
                logdir,
            )
            receiver = Proc(
                "receiver",
                [
                    sys.executable,
                    "-m",
                    "provisioning.cli",
                    "receiver",
                    "--broker",
                    broker.url,
                    "--db",
                    str(db),
                    "--client-id",
                    "chaos-receiver",
                ],
                logdir,
            )
            receiver.start()
            gateway.start()
            chaos = asyncio.create_task(proxy.chaos(rng, period=1.5, blackhole_s=2.5))
            try:
                await asyncio.sleep(5)
                gateway.kill()  # SIGKILL in the middle of writing and draining
                await asyncio.sleep(0.5)
                gateway.start()
                await asyncio.sleep(3)
                broker.stop(kill=True)  # the broker dies...
                await asyncio.sleep(2)
                broker.start()  # ...and comes back (same port, same persistence folder)
                await asyncio.sleep(3)
                receiver.kill()  # the county is away for a while
                await asyncio.sleep(5)
                receiver.start()
                await asyncio.sleep(3)
                gateway.kill()
                gateway.start()
                await asyncio.sleep(3)
            finally:
                chaos.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await chaos
                proxy.blackhole(False)
            (logdir / "stop").touch()  # no more readings; let it drain
            acked = _read_ids(logdir / "acked.log")
            try:
                for _ in range(600):
                    stored, counters = _receiver_rows(db)
                    if set(acked) <= set(stored):
                        break
                    await asyncio.sleep(0.1)
            finally:
                gateway.kill(signal.SIGTERM)
                receiver.kill(signal.SIGTERM)
    intent = set(_read_ids(logdir / "intent.log"))
    stored, counters = _receiver_rows(db)
    if os.environ.get("HUTGW_CHAOS_LOGS"):
        shutil.copytree(logdir, os.environ["HUTGW_CHAOS_LOGS"], dirs_exist_ok=True)
    missing = set(acked) - set(stored)
    print(
        f"\nchaos: {len(acked)} readings acknowledged by the gateway, {len(stored)} stored by the receiver, "
        f"{counters.get('duplicates', 0)} duplicates crossed the wire (dropped by the receiver); "
        f"proxy drops {proxy.drops}, blackholes {proxy.blackholes}; gateway starts {gateway.starts}, "
        f"receiver starts {receiver.starts}"
    )
    logs = {name: (logdir / f"{name}.log").read_text(errors="replace") for name in ("gateway", "receiver")}
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name} crashed:\n{text[-4000:]}"
    assert len(acked) > 1000
    assert not missing, (
        f"{len(missing)} acknowledged readings never arrived; gateway log:\n{logs['gateway'][-3000:]}"
    )
    assert len(stored) == len(set(stored))  # exactly once: one row per id
    assert set(stored) <= intent  # nothing the gateway did not write
