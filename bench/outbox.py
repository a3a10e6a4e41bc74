"""Outbox throughput and disk writes against raw aiosqlite baselines measured in the same run.

    .venv/bin/python bench/outbox.py [--seconds 3] [--writers 8] [--dir /path/on/the/sd/card]

Prints figures, not a test.  Baselines use a plain table (id, payload, created) in WAL mode with
synchronous=FULL on the same file system:
  raw-one-row   one INSERT + COMMIT per reading (what a naive gateway does)
  raw-batched   executemany of 100 rows per COMMIT (the ceiling for one connection)
Targets (issue 3): outbox >= 5x raw-one-row, >= 0.3x raw-batched, <= 1.5 KB written per reading.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from buffer import Lane, Outbox, OutboxSettings, Record
from buffer.diskio import database_bytes, write_bytes

PAYLOAD = (
    b'{"kind":"blood_pressure","device":"cuff-01","resident":"r-000123","values":{"systolic":'
    b'{"v":128,"u":"mm[Hg]"},"diastolic":{"v":84,"u":"mm[Hg]"},"pulse_rate":{"v":72,"u":"/min"}},'
    b'"measured_at":"2026-11-29T08:00:00.000Z","seq":0}'
)
assert 200 <= len(PAYLOAD) <= 240, len(PAYLOAD)

_ids = 0


def next_id() -> str:
    global _ids
    _ids += 1
    return f"0193{_ids:012x}-7000-8000-{os.getpid():04x}00000000"[:36]


def record(writer: int) -> Record:
    """Mixed load: 90 % telemetry (heart-rate streams), 8 % clinical, 2 % alerts; a resident per writer."""
    n = _ids % 50
    lane, kind = (
        (Lane.ALERTS, "alert")
        if n == 0
        else (Lane.CLINICAL, "blood_pressure")
        if n <= 4
        else (Lane.TELEMETRY, "heart_rate")
    )
    return Record(next_id(), "readings", lane, kind, PAYLOAD, key=f"r-{writer:06d}")


class Disk:
    """write_bytes of this process (falls back to file growth) around a measured section."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.bytes = 0
        self.source = ""

    def per_row(self) -> float:
        return self.bytes / max(1, self.rows)

    def __enter__(self) -> Disk:
        self.wb0 = write_bytes()
        self.size0 = database_bytes(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        wb1 = write_bytes()
        if self.wb0 is not None and wb1 is not None and wb1 > self.wb0:
            self.bytes = wb1 - self.wb0
            self.source = "/proc/self/io write_bytes"
        else:
            self.bytes = database_bytes(self.path) - self.size0
            self.source = "file growth"


async def bench_outbox(path: Path, writers: int, seconds: float) -> tuple[float, int, Disk, Outbox]:
    settings = OutboxSettings(maintain_interval_s=None)
    ob = Outbox(path, settings=settings)
    await ob.__aenter__()
    # warm up (schema, first pages)
    await ob.put_many([record(0) for _ in range(100)])
    stop = time.perf_counter() + seconds
    count = 0

    async def writer(w: int) -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await ob.put(record(w))
            count += 1

    with Disk(path) as disk:
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for w in range(writers):
                tg.create_task(writer(w))
        elapsed = time.perf_counter() - t0
    return count / elapsed, count, disk, ob


async def bench_claim_ack(ob: Outbox) -> tuple[float, int]:
    n = 0
    t0 = time.perf_counter()
    while True:
        c = await ob.claim(max_count=500, max_bytes=10_000_000)
        if c is None:
            break
        await ob.ack(c.batch_id, c.ids)
        n += len(c.items)
    return n / (time.perf_counter() - t0), n


async def raw_connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(str(path), isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute(
        "CREATE TABLE IF NOT EXISTS readings (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
        "payload BLOB NOT NULL, created REAL NOT NULL)"
    )
    return db


async def bench_raw_one_row(path: Path, seconds: float) -> tuple[float, Disk]:
    db = await raw_connect(path)
    n = 0
    with Disk(path) as disk:
        t0 = time.perf_counter()
        stop = t0 + seconds
        while time.perf_counter() < stop:
            await db.execute("BEGIN")
            await db.execute(
                "INSERT INTO readings(id, payload, created) VALUES (?, ?, ?)",
                (next_id(), PAYLOAD, time.time()),
            )
            await db.execute("COMMIT")
            n += 1
        elapsed = time.perf_counter() - t0
    await db.close()
    disk.rows = n
    return n / elapsed, disk


async def bench_raw_batched(path: Path, seconds: float, per_commit: int = 100) -> tuple[float, Disk]:
    db = await raw_connect(path)
    n = 0
    with Disk(path) as disk:
        t0 = time.perf_counter()
        stop = t0 + seconds
        while time.perf_counter() < stop:
            rows = [(next_id(), PAYLOAD, time.time()) for _ in range(per_commit)]
            await db.execute("BEGIN")
            await db.executemany("INSERT INTO readings(id, payload, created) VALUES (?, ?, ?)", rows)
            await db.execute("COMMIT")
            n += per_commit
        elapsed = time.perf_counter() - t0
    await db.close()
    disk.rows = n
    return n / elapsed, disk


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each ingest measurement")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--dir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        print(
            f"files in {d}; payload {len(PAYLOAD)} bytes; {args.writers} writers; {args.seconds:.1f} s each"
        )
        one_rate, one_disk = await bench_raw_one_row(d / "raw-one.db", args.seconds)
        batch_rate, batch_disk = await bench_raw_batched(d / "raw-batched.db", args.seconds)
        floor_rate, floor_disk = await bench_raw_batched(
            d / "raw-8.db", args.seconds, per_commit=args.writers
        )
        ob_rate, ob_n, ob_disk, ob = await bench_outbox(d / "outbox.db", args.writers, args.seconds)
        try:
            st = await ob.stats()
            claim_rate, claimed = await bench_claim_ack(ob)
        finally:
            await ob.__aexit__(None, None, None)
        ob_disk.rows = ob_n
        print()
        print(f"{'path':<34}{'readings/s':>12}{'bytes written/reading':>24}")
        for label, rate, disk in (
            ("raw aiosqlite, 1 row per commit", one_rate, one_disk),
            ("raw executemany, 100 per commit", batch_rate, batch_disk),
            (f"raw executemany, {args.writers} per commit", floor_rate, floor_disk),
            (f"outbox.put, {args.writers} writers", ob_rate, ob_disk),
        ):
            print(f"{label:<34}{rate:>12,.0f}{disk.per_row():>24,.0f}")
        print(f"{'outbox claim(500)+ack':<34}{claim_rate:>12,.0f}")
        print()
        print(f"rows per group commit: {st.puts / max(1, st.commits):.1f} ({st.commits} commits)")
        print(
            f"disk figures from: {ob_disk.source}; outbox files now {database_bytes(d / 'outbox.db'):,} bytes"
        )
        r1 = ob_rate / one_rate
        r2 = ob_rate / batch_rate
        bpr = ob_disk.per_row()
        print()
        print(f"outbox / raw-one-row   = {r1:5.2f}x   (target >= 5)    {'OK' if r1 >= 5 else 'MISSED'}")
        print(f"outbox / raw-batched   = {r2:5.2f}    (target >= 0.3)  {'OK' if r2 >= 0.3 else 'MISSED'}")
        print(f"bytes written/reading  = {bpr:5.0f}    (target <= 1536) {'OK' if bpr <= 1536 else 'MISSED'}")
        print(f"claimed and acked {claimed:,} readings")
        print(
            f"for scale: {args.writers} concurrent writers can share at most {args.writers} rows per commit; "
            f"the raw {args.writers}-per-commit line (plain table, one index) is the floor at that group size"
        )


if __name__ == "__main__":
    asyncio.run(main())
