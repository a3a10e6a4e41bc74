"""Outbox throughput and disk writes against raw aiosqlite baselines measured in the same run.

    .venv/bin/python bench/outbox.py [--rounds 6] [--slice 0.5] [--writers 8] [--dir /on/the/sd/card]

Prints figures, not a test.  Every path runs in ``--rounds`` short slices, interleaved, so that a
busy machine (fsync latency drifts a lot on a shared box) affects all paths alike; the figures are
sums over the slices.  Baselines use a plain table (id UNIQUE, payload, created) in WAL mode with
synchronous=FULL on the same file system, one aiosqlite connection:
  raw 1 row/commit     BEGIN, one INSERT, COMMIT per reading (what a naive gateway does)
  raw 100 rows/commit  executemany of 100 rows per COMMIT (the ceiling for one connection)
  raw N rows/commit    executemany of N = --writers rows per COMMIT: N concurrent writers that
                       each wait for their own commit can never share more than N rows per commit,
                       so this is the floor for the outbox's group size
  outbox, N writers    --more-writers (default 32 and 128), for context: a group holds at most as
                       many rows as there are writers waiting
Targets (issue 3): outbox >= 5x raw 1 row/commit, >= 0.3x raw 100 rows/commit, <= 1.5 KB per reading,
judged on --writers (8).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
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
    """UUIDv7-shaped, time-ordered ids like the gateway's."""
    global _ids
    _ids += 1
    return f"0193{_ids >> 16:04x}-{_ids & 0xFFFF:04x}-7000-8000-{os.getpid():012x}"


def record(writer: int) -> Record:
    """Mixed load: 90 % telemetry (heart-rate streams), 8 % clinical, 2 % alerts; a resident per writer."""
    rid = next_id()
    n = _ids % 50
    if n == 0:
        lane, kind = Lane.ALERTS, "alert"
    elif n <= 4:
        lane, kind = Lane.CLINICAL, "blood_pressure"
    else:
        lane, kind = Lane.TELEMETRY, "heart_rate"
    return Record(rid, "readings", lane, kind, PAYLOAD, key=f"r-{writer:06d}")


class Path_:
    """Accumulated figures of one measured path over its slices."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.rows = 0
        self.seconds = 0.0
        self.bytes = 0
        self.wb_ok = True

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def per_row(self) -> float:
        return self.bytes / max(1, self.rows)

    async def measure(self, files: Path, fn: Callable[[float], Awaitable[int]], seconds: float) -> None:
        wb0, size0 = write_bytes(), database_bytes(files)
        t0 = time.perf_counter()
        n = await fn(t0 + seconds)
        self.seconds += time.perf_counter() - t0
        wb1 = write_bytes()
        self.rows += n
        if wb0 is not None and wb1 is not None:
            self.bytes += wb1 - wb0
        else:
            self.wb_ok = False
            self.bytes += max(0, database_bytes(files) - size0)


async def raw_connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(str(path), isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute(
        "CREATE TABLE IF NOT EXISTS readings (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
        "payload BLOB NOT NULL, created REAL NOT NULL)"
    )
    return db


def raw_rows(db: aiosqlite.Connection, per_commit: int) -> Callable[[float], Awaitable[int]]:
    async def run(stop: float) -> int:
        n = 0
        while time.perf_counter() < stop:
            await db.execute("BEGIN")
            if per_commit == 1:
                await db.execute(
                    "INSERT INTO readings(id, payload, created) VALUES (?, ?, ?)",
                    (next_id(), PAYLOAD, time.time()),
                )
            else:
                await db.executemany(
                    "INSERT INTO readings(id, payload, created) VALUES (?, ?, ?)",
                    [(next_id(), PAYLOAD, time.time()) for _ in range(per_commit)],
                )
            await db.execute("COMMIT")
            n += per_commit
        return n

    return run


def outbox_writers(ob: Outbox, writers: int) -> Callable[[float], Awaitable[int]]:
    async def run(stop: float) -> int:
        count = 0

        async def writer(w: int) -> None:
            nonlocal count
            while time.perf_counter() < stop:
                await ob.put(record(w))
                count += 1

        async with asyncio.TaskGroup() as tg:
            for w in range(writers):
                tg.create_task(writer(w))
        return count

    return run


async def claim_ack_all(ob: Outbox) -> tuple[float, int]:
    n = 0
    t0 = time.perf_counter()
    while (c := await ob.claim(max_count=500, max_bytes=10_000_000)) is not None:
        await ob.ack(c.batch_id, c.ids)
        n += len(c.items)
    return n / (time.perf_counter() - t0), n


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6, help="interleaved slices per path")
    ap.add_argument("--slice", type=float, default=0.5, help="seconds per slice")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument(
        "--more-writers",
        type=int,
        nargs="*",
        default=[32, 128],
        help="also measured, for context: the outbox with this many writers (a daemon with 200 "
        "wristbands has 200); the targets are judged on --writers",
    )
    ap.add_argument("--dir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    args = ap.parse_args()
    w = args.writers
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        print(f"files in {d}; payload {len(PAYLOAD)} B; {w} writers; {args.rounds} x {args.slice} s per path")
        one, hundred, floor, outbox = (
            Path_("raw aiosqlite, 1 row/commit"),
            Path_("raw executemany, 100 rows/commit"),
            Path_(f"raw executemany, {w} rows/commit"),
            Path_(f"outbox.put, {w} concurrent writers"),
        )
        more = [Path_(f"outbox.put, {n} concurrent writers") for n in args.more_writers]
        dbs = {p: await raw_connect(d / f"raw-{i}.db") for i, p in enumerate((one, hundred, floor))}
        ob = Outbox(d / "outbox.db", settings=OutboxSettings(maintain_interval_s=None))
        obs_more = [
            Outbox(d / f"outbox-{n}.db", settings=OutboxSettings(maintain_interval_s=None))
            for n in args.more_writers
        ]
        await ob.__aenter__()
        for o in obs_more:
            await o.__aenter__()
        try:
            await ob.put_many([record(0) for _ in range(100)])  # warm up: schema, first pages
            for o in obs_more:
                await o.put_many([record(0) for _ in range(100)])
            for _ in range(args.rounds):
                await one.measure(d / "raw-0.db", raw_rows(dbs[one], 1), args.slice)
                await hundred.measure(d / "raw-1.db", raw_rows(dbs[hundred], 100), args.slice)
                await floor.measure(d / "raw-2.db", raw_rows(dbs[floor], w), args.slice)
                await outbox.measure(d / "outbox.db", outbox_writers(ob, w), args.slice)
                for p, o, n in zip(more, obs_more, args.more_writers, strict=True):
                    await p.measure(o.path, outbox_writers(o, n), args.slice)
            st = await ob.stats()
            claim_rate, claimed = await claim_ack_all(ob)
        finally:
            await ob.__aexit__(None, None, None)
            for o in obs_more:
                await o.__aexit__(None, None, None)
            for db in dbs.values():
                await db.close()
        source = "/proc/self/io write_bytes" if outbox.wb_ok else "file growth"
        print()
        print(f"{'path':<38}{'readings/s':>12}{'bytes written/reading':>24}")
        for p in (one, hundred, floor, outbox):
            print(f"{p.label:<38}{p.rate:>12,.0f}{p.per_row:>24,.0f}")
        print(f"{'outbox claim(500) + ack':<38}{claim_rate:>12,.0f}   ({claimed:,} readings)")
        for p in more:
            share = p.rate / max(1e-9, hundred.rate)
            print(f"{p.label:<38}{p.rate:>12,.0f}{p.per_row:>24,.0f}   (context: {share:.2f} of raw 100)")
        print()
        print(
            f"rows per group commit: {st.puts / max(1, st.commits):.1f} over {st.commits:,} commits; "
            f"{st.fsyncs:,} fsyncs (alerts and clinical rows wait for one; telemetry within 1 s)"
        )
        print(f"disk figures from {source}; outbox files now {database_bytes(d / 'outbox.db'):,} bytes")
        r1 = outbox.rate / max(1e-9, one.rate)
        r2 = outbox.rate / max(1e-9, hundred.rate)
        r3 = outbox.rate / max(1e-9, floor.rate)
        bpr = outbox.per_row
        print()
        ok = {True: "OK", False: "MISSED"}
        r4 = floor.rate / max(1e-9, hundred.rate)
        print(f"outbox / raw 1 row/commit     = {r1:6.2f}x (target >= 5)    {ok[r1 >= 5]}")
        print(f"outbox / raw 100 rows/commit  = {r2:6.2f}  (target >= 0.3)  {ok[r2 >= 0.3]}")
        print(f"bytes written per reading     = {bpr:6.0f}  (target <= 1536) {ok[bpr <= 1536]}")
        print(f"outbox / raw {w} rows/commit    = {r3:6.2f}  (a group is at most {w} rows: {w} writers wait)")
        print(f"raw {w} / raw 100 rows/commit   = {r4:6.2f}  (what any {w}-row group commit can reach)")


if __name__ == "__main__":
    asyncio.run(main())
