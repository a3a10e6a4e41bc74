"""A full disk: nothing is counted for a transaction that failed, and the outbox says so in one
line, not one per failed put."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from buffer import DiskFullError, Lane, Outbox, OutboxSettings
from tests.buffer.conftest import ManualClock, rec

ROOT = Path(__file__).resolve().parents[2]

# The commit itself fails: the write-ahead log may not grow (RLIMIT_FSIZE at its current size), so
# the COMMIT's write of the log fails after every statement of the ack succeeded, as when the SD
# card fills up.  In a child process: the limit applies to every file the process writes.
FAILING_COMMIT = """
import asyncio, json, os, resource, sys
from pathlib import Path
from buffer import Lane, Outbox, OutboxError, OutboxSettings
from tests.buffer.conftest import rec

async def main(path: str) -> None:
    async with Outbox(Path(path), settings=OutboxSettings(maintain_interval_s=None)) as ob:
        await ob.put_many([rec(Lane.CLINICAL) for _ in range(200)])
        whole = await ob.claim(max_count=100)
        part = await ob.claim(max_count=100)
        assert whole is not None and part is not None
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path + "-wal"), hard))
        errors = []
        for claim, accepted in ((whole, whole.ids), (part, part.ids[:50])):
            try:
                await ob.ack(claim.batch_id, accepted)
            except OutboxError as e:
                errors.append(type(e).__name__)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        st = await ob.stats()
        print(json.dumps({"errors": errors, "depth": {k: dict(v) for k, v in st.depth.items()}}))

asyncio.run(main(sys.argv[1]))
"""


def test_an_ack_whose_commit_fails_changes_no_counter(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    out = subprocess.run(
        [sys.executable, "-c", FAILING_COMMIT, str(db)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(got["errors"]) == 2, got  # both acks failed: nothing was delivered
    clinical = got["depth"]["clinical"]
    assert clinical == {"pending": 0, "inflight": 200, "delivered": 0, "rejected": 0}, got


async def test_counters_stay_true_on_a_full_database(db_path: Path, clock: ManualClock) -> None:
    """max_page_count: SQLite's own SQLITE_FULL through the real code path."""
    settings = OutboxSettings(maintain_interval_s=None, max_page_count=80, keep_room_bytes=12 * 1024)
    failed = stored = 0
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        for _ in range(100):
            try:
                await ob.put_many([rec(Lane(i % 3), payload=os.urandom(300)) for i in range(4)])
                stored += 4
            except DiskFullError:
                failed += 1
            # The uplink's work goes on on the full disk: claims and acks use the room kept.
            c = await ob.claim(max_count=3)
            if c is not None:
                await ob.ack(c.batch_id, c.ids[:2])
        while (c := await ob.claim(max_count=50)) is not None:
            await ob.ack(c.batch_id, c.ids)
        mine = {k: dict(v) for k, v in (await ob.stats()).depth.items()}
    assert failed > 10 and stored > 40
    async with Outbox(db_path, settings=OutboxSettings(maintain_interval_s=None), clock=clock) as ob:
        truth = {k: dict(v) for k, v in (await ob.stats()).depth.items()}
    assert mine == truth
    assert all(n >= 0 for by in mine.values() for n in by.values())


async def test_a_full_disk_is_logged_once_a_minute_with_a_count(
    db_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = OutboxSettings(maintain_interval_s=None, max_page_count=60, keep_room_bytes=8 * 1024)
    log = logging.getLogger("test.outbox.full")
    async with Outbox(db_path, settings=settings, clock=clock, logger=log) as ob:
        failed = 0
        with caplog.at_level(logging.INFO, logger="test.outbox.full"):
            for _ in range(300):
                try:
                    await ob.put(rec(payload=os.urandom(300)))
                except DiskFullError:
                    failed += 1
        assert 100 < failed < 300
    lines = [r for r in caplog.records if "could not store" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None
