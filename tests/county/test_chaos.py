"""Chaos at the county: 3 receiver instances (real processes) on one shared subscription, simulated
gateways draining their outboxes, one receiver SIGKILLed every 5 s and started again, PostgreSQL
(a private cluster) restarted once and the broker restarted once. Every reading stored exactly once,
nothing left in any outbox.

Scaled for ``make test`` (10 gateways x 2,000 readings); ``HUTGW_COUNTY_CHAOS=50x4000`` runs the
full size of issue 18.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from buffer.outbox import Outbox
from tests.county.pg import create_database, private_cluster
from tests.support.broker import running_broker
from tests.support.procs import Proc
from tests.uplink.conftest import settings, undelivered
from tests.uplink.helpers import reading_record
from uplink.client import Uplink

ROOT = Path(__file__).resolve().parents[2]
GATEWAYS, READINGS = (int(n) for n in os.environ.get("HUTGW_COUNTY_CHAOS", "10x2000").split("x"))


WRITE_S = 16.0


async def _write(outbox: Outbox, records: list[Any]) -> None:
    chunks = 8
    size = -(-len(records) // chunks)
    for i in range(0, len(records), size):
        await outbox.put_many(records[i : i + size])
        await asyncio.sleep(WRITE_S / chunks)


async def _rows(url: str) -> tuple[int, int]:
    con = await asyncpg.connect(url, timeout=10)
    try:
        row = await con.fetchrow("SELECT count(*), count(DISTINCT id) FROM readings")
        assert row is not None
        return int(row[0]), int(row[1])
    finally:
        await con.close()


@pytest.mark.slow
async def test_every_reading_stored_exactly_once_through_kills_and_restarts(
    tmp_path: Path, open_dir: Path
) -> None:
    key = tmp_path / "county.key"
    subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "receiver", "keygen", "--out", str(key), "--json"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    from uplink.commands import load_private_key, public_key_b64

    public = public_key_b64(load_private_key(key))
    logdir = tmp_path / "logs"
    logdir.mkdir()
    expected: set[str] = set()
    with private_cluster() as pg, running_broker(open_dir / "mq") as broker:
        db_url, _ = await create_database(pg.url)
        receivers = [
            Proc(
                f"receiver-{i}",
                [
                    sys.executable, "-m", "provisioning.cli", "county", "serve",
                    "--broker", broker.url, "--db", db_url, "--group", "chaos", "--key", str(key),
                    "--instance", f"rx-{i}", "--client-id", f"chaos-rx-{i}",
                ],
                logdir,
            )
            for i in range(3)
        ]  # fmt: skip
        for r in receivers:
            r.start()
        async with contextlib.AsyncExitStack() as stack:
            uplinks: list[Uplink] = []
            outboxes: list[Outbox] = []
            batches: list[tuple[Outbox, list[Any]]] = []
            for g in range(GATEWAYS):
                outbox = await stack.enter_async_context(Outbox(tmp_path / f"outbox-{g}.db"))
                records = [reading_record(i) for i in range(READINGS)]
                expected.update(r.id for r in records)
                half = len(records) // 2  # a backlog at the start (the receivers are busy when killed)
                await outbox.put_many(records[:half])
                batches.append((outbox, records[half:]))
                cfg = settings(
                    broker.url,
                    tmp_path / f"gw-{g}",
                    command_public_key=public,
                    ack_timeout_s=3.0,
                    lease_s=6.0,
                    io_timeout_s=3.0,
                    keepalive_s=2,
                    backoff_max_s=1.0,
                    batch_max_count=200,
                    heartbeat_s=5.0,
                )
                (tmp_path / f"gw-{g}").mkdir()
                outboxes.append(outbox)
                uplinks.append(
                    await stack.enter_async_context(Uplink(cfg, outbox, gateway_id=f"hut-{g:03d}"))
                )
            # Readings keep coming for WRITE_S seconds, so that every fault lands mid-flow.
            writers = [asyncio.create_task(_write(o, recs)) for o, recs in batches]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 150
            tick = 0
            pg_restarted = broker_restarted = False
            while True:
                await asyncio.sleep(5)
                tick += 1
                victim = receivers[tick % 3]
                victim.kill()  # SIGKILL, mid-batch as often as not
                victim.start()
                if tick == 1:
                    pg.restart("immediate")  # PostgreSQL goes down hard and comes back
                    pg_restarted = True
                elif tick == 2:
                    broker.stop(kill=True)  # the broker dies and comes back (same port, persistence)
                    await asyncio.sleep(1)
                    broker.start()
                    broker_restarted = True
                left = [await undelivered(o) for o in outboxes]
                total, distinct = await _rows(db_url)
                if (
                    tick >= 3
                    and all(w.done() for w in writers)
                    and sum(left) == 0
                    and distinct == len(expected)
                ):
                    break
                if loop.time() > deadline:
                    break
            acked = sum(u.state.acked for u in uplinks)
            resent = sum(u.state.resent for u in uplinks)
            refused = sum(u.state.acks_refused for u in uplinks)
        for r in receivers:
            r.kill(signal.SIGTERM)
        total, distinct = await _rows(db_url)
        con = await asyncpg.connect(db_url)
        try:
            stored = {r[0] for r in await con.fetch("SELECT id FROM readings")}
            counters = {
                "duplicates": int(await con.fetchval("SELECT coalesce(sum(duplicates), 0) FROM receipts"))
            }
        finally:
            await con.close()
    logs = {r.name: (logdir / f"{r.name}.log").read_text(errors="replace") for r in receivers}
    print(
        f"\ncounty chaos: {GATEWAYS} gateways x {READINGS} readings; stored {total} rows,"
        f" {distinct} distinct;"
        f" acked at the gateways {acked}, re-sent {resent}; duplicates {counters.get('duplicates', 0)};"
        f" receiver starts {[r.starts for r in receivers]}; {tick} ticks"
    )
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name} crashed:\n{text[-4000:]}"
    assert pg_restarted and broker_restarted
    assert refused == 0
    assert sum(left) == 0, f"left in the outboxes: {left}"
    assert stored == expected
    assert total == distinct == len(expected)  # exactly once
