"""SIGKILL a writer subprocess at random moments: nothing it reported committed may be lost."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buffer import Outbox, OutboxSettings, State

WRITER = Path(__file__).with_name("crash_writer.py")
RUNS = 50


def run_and_kill(db: Path, run: int, rnd: random.Random) -> tuple[set[str], set[str]]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(run), str(rnd.randrange(1 << 30))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first == b"ready\n", first + proc.stderr.read() if proc.stderr else first
    time.sleep(rnd.uniform(0.05, 0.3))
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    put: set[str] = set()
    delivered: set[str] = set()
    lines = out.split(b"\n")
    for line in lines[:-1]:  # the last piece may be cut by the kill
        kind, _, rest = line.decode().partition(" ")
        if kind == "P":
            put.add(rest)
        elif kind == "D":
            delivered.update(rest.split()[1:])
    return put, delivered


@pytest.mark.slow
async def test_nothing_reported_committed_is_lost_across_sigkills(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    rnd = random.Random(20261129)
    all_put: set[str] = set()
    all_delivered: set[str] = set()
    settings = OutboxSettings(maintain_interval_s=None)
    for run in range(RUNS):
        put, delivered = run_and_kill(db, run, rnd)
        all_put |= put
        all_delivered |= delivered
        async with Outbox(db, settings=settings) as ob:
            assert ob.recovery is None, ob.recovery
            st = await ob.stats()
            assert st.inflight == 0  # whatever was in flight at the kill is pending again
        con = sqlite3.connect(db)
        # Delivered: state 2 in records, or a ``done`` row (an ack of a fresh batch; see buffer/schema.py).
        stored = dict(
            con.execute(
                "SELECT r.id, CASE WHEN d.seq IS NULL THEN r.state ELSE 2 END "
                "FROM records r LEFT JOIN done d ON d.seq = r.seq"
            )
        )
        seqs = [s for (s,) in con.execute("SELECT seq FROM records ORDER BY seq")]
        con.close()
        missing = all_put - stored.keys()
        assert not missing, f"run {run}: {len(missing)} committed ids lost, e.g. {sorted(missing)[:3]}"
        undelivered = {i for i in all_delivered if stored.get(i) != 2}
        assert not undelivered, f"run {run}: acked ids not delivered: {sorted(undelivered)[:3]}"
        assert len(seqs) == len(set(seqs))
    assert len(all_put) > RUNS * 10  # the writer really wrote
    assert all_delivered  # and really acked
    # Finally every row can be delivered: nothing is stuck.
    async with Outbox(db, settings=settings) as ob:
        while (c := await ob.claim(max_count=500)) is not None:
            await ob.ack(c.batch_id, c.ids)
        st = await ob.stats()
        assert st.pending == st.inflight == 0
        assert sum(by["delivered"] for by in st.depth.values()) == len(
            await ob.list(state=State.DELIVERED, limit=10**9)
        )
