"""Drain benchmark: a backlog of readings from the outbox to a local Mosquitto, in readings/s.

Run: ``.venv/bin/python bench/drain.py [--n 100000]``. In one run it measures

* raw limit 1: aiosqlite inserting the same readings with ``executemany`` (one commit per batch),
* raw limit 2: aiomqtt publishing the same envelopes at QoS 1 (several in flight),
* ``broker`` ack mode: the uplink (in its own process) drains the outbox, settling on PUBACK,
* ``county`` ack mode: the same, settling on the reference receiver's ack (the receiver runs as
  ``hutgw receiver`` in another process, storing every reading in SQLite),

and prints the ratios to the raw SQLite rate (targets: broker >= 0.5, county >= 0.25) and the
gateway process's peak RSS. Mosquitto is started privately with ``max_queued_messages 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import aiosqlite
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from buffer.ids import uuid7  # noqa: E402
from buffer.outbox import Outbox  # noqa: E402
from buffer.record import Lane, Record, State  # noqa: E402
from devtools.mosquitto import running_broker  # noqa: E402
from uplink import envelope  # noqa: E402
from uplink.client import Uplink  # noqa: E402
from uplink.settings import UplinkSettings  # noqa: E402

RESIDENTS = [f"r-{i:04d}" for i in range(300)]


def make_readings(n: int) -> list[Record]:
    out = []
    for i in range(n):
        rid = uuid7()
        resident = RESIDENTS[i % len(RESIDENTS)]
        obj: dict[str, object] = {
            "id": rid,
            "kind": "weight",
            "resident_id": resident,
            "attribution": "personal",
            "device": {"id": "scale-1"},
            "received_at": "2026-11-29T08:00:01+00:00",
            "effective_at": "2026-11-29T08:00:00+00:00",
            "time_source": "gateway",
            "values": {"weight": {"value": 40 + (i % 600) / 10, "unit": "kg"}},
        }
        if i % 4 == 0:  # one in four is a blood pressure reading (three values)
            obj["kind"] = "blood_pressure"
            obj["device"] = {"id": "cuff-2", "profile": "omron.bp.ble"}
            obj["values"] = {
                "systolic": {"value": 110 + i % 50, "unit": "mm[Hg]"},
                "diastolic": {"value": 70 + i % 30, "unit": "mm[Hg]"},
                "pulse": {"value": 60 + i % 40, "unit": "/min"},
            }
        # bytes(...) copies to an exact-size object: orjson's output buffer is over-allocated.
        out.append(
            Record(rid, "readings", Lane.CLINICAL, str(obj["kind"]), bytes(orjson.dumps(obj)), resident)
        )
    return out


def rss_mb() -> float:
    """Peak resident set of this process (VmHWM; ru_maxrss would include the parent's peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------ raw limits


async def raw_sqlite(records: list[Record], path: Path, batch: int, sync: str = "NORMAL") -> float:
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(f"PRAGMA synchronous={sync}")
        await db.execute(
            "CREATE TABLE readings (id TEXT PRIMARY KEY, resident_id TEXT, kind TEXT, payload BLOB, at REAL)"
        )
        t0 = time.perf_counter()
        for i in range(0, len(records), batch):
            chunk = records[i : i + batch]
            await db.execute("BEGIN")
            await db.executemany(
                "INSERT INTO readings VALUES (?,?,?,?,?)",
                [(r.id, r.key, r.kind, r.payload, 0.0) for r in chunk],
            )
            await db.execute("COMMIT")
        return len(records) / (time.perf_counter() - t0)


async def raw_mqtt(records: list[Record], port: int, batch: int, inflight: int) -> float:
    now = datetime.now(UTC)
    payloads = []
    for i in range(0, len(records), batch):
        items = [envelope.Item(r.id, i + n, r.payload) for n, r in enumerate(records[i : i + batch])]
        payloads.append(envelope.encode("readings", "bench", uuid7(), now, items).payload)
    async with aiomqtt.Client("127.0.0.1", port, identifier="raw-bench", max_inflight_messages=100) as c:
        c.pending_calls_threshold = 10_000
        sem = asyncio.Semaphore(inflight)

        async def one(p: bytes) -> None:
            async with sem:
                await c.publish("hut/v1/raw/readings", p, qos=1, timeout=30)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(p) for p in payloads))
        return len(records) / (time.perf_counter() - t0)


async def outbox_only(path: Path, batch: int) -> float:
    """Claim + ack with no network at all: what the outbox alone allows (for the record)."""
    async with Outbox(path) as ob:
        t0 = time.perf_counter()
        n = 0
        while (claim := await ob.claim(max_count=batch, max_bytes=batch * 400)) is not None:
            await ob.ack(claim.batch_id, [i.id for i in claim.items])
            n += len(claim.items)
        return n / (time.perf_counter() - t0)


# ---------------------------------------------------------------------------- gateway process


async def gateway_side(args: argparse.Namespace) -> None:
    """Child process: drain ``args.outbox`` and print {"rate", "elapsed", "rss_mb"} as JSON."""
    settings = UplinkSettings(
        broker=args.broker,
        ack_mode=args.mode,
        batch_max_count=args.batch,
        batch_max_bytes=args.batch * 400,
        max_inflight_batches=args.inflight,
        ack_timeout_s=60.0,
        heartbeat_s=60.0,
        poll_interval_s=0.05,
    )
    got = await drain_once(Path(args.gateway), settings)
    got["cpu_s"] = (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(resource.RUSAGE_SELF))
    print(json.dumps(got))


async def drain_once(path: Path, settings: UplinkSettings, encode_batch: Any = None) -> dict[str, float]:
    """Drain the outbox at ``path`` through the uplink until every pending record is acked:
    {"rate", "elapsed", "rss_mb", "left", "resent", "published", "drain_cpu_s"} (the drain's own
    CPU, both threads, start-up aside). bench/county.py's gateway child drains with it too."""
    extra = {} if encode_batch is None else {"encode_batch": encode_batch}
    async with Outbox(path) as outbox:
        st = await outbox.stats()
        total = sum(lane.get(State.PENDING.value, 0) for lane in st.depth.values())
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        async with Uplink(settings, outbox, gateway_id="bench-gw", **extra) as up:
            while up.state.acked < total:  # noqa: ASYNC110 - polling a counter, 50 times a second
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - t0
            drain_cpu_s = time.process_time() - cpu0
            state = up.state
        st = await outbox.stats()
        left = sum(
            lane.get(State.PENDING.value, 0) + lane.get(State.INFLIGHT.value, 0) for lane in st.depth.values()
        )
    return {
        "rate": total / elapsed,
        "elapsed": elapsed,
        "rss_mb": rss_mb(),
        "left": left,
        "resent": state.resent,
        "published": state.published,
        "drain_cpu_s": drain_cpu_s,
    }


def run_gateway(outbox: Path, broker: str, mode: str, batch: int, inflight: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--gateway",
            str(outbox),
            "--broker",
            broker,
            "--mode",
            mode,
            "--batch",
            str(batch),
            "--inflight",
            str(inflight),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"gateway process failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def fill(path: Path, records: list[Record]) -> None:
    async with Outbox(path) as ob:
        for i in range(0, len(records), 5000):
            await ob.put_many(records[i : i + 5000])


def receiver_count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
    finally:
        con.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--inflight", type=int, default=4)
    p.add_argument(
        "--raw-batch",
        type=int,
        default=100,
        help="rows per commit of the raw SQLite reference (100, as in the measured limits)",
    )
    p.add_argument("--gateway", help=argparse.SUPPRESS)
    p.add_argument("--broker", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.gateway:
        asyncio.run(gateway_side(args))
        return

    work = Path(tempfile.mkdtemp(prefix="hutgw-bench-"))
    work.chmod(0o755)  # the broker drops to the mosquitto user
    try:
        records = make_readings(args.n)
        avg = sum(len(r.payload) for r in records) / len(records)
        print(
            f"backlog: {args.n} readings, {avg:.0f} bytes each (WireReading JSON); "
            f"batch {args.batch}, {args.inflight} batches in flight"
        )
        with running_broker(work / "mosquitto") as broker:
            sqlite_rate = asyncio.run(raw_sqlite(records, work / "raw.db", args.raw_batch))
            same_rate = asyncio.run(raw_sqlite(records, work / "raw2.db", args.batch))
            full_rate = asyncio.run(raw_sqlite(records, work / "raw3.db", args.batch, "FULL"))
            mqtt_rate = asyncio.run(raw_mqtt(records, broker.port, args.batch, args.inflight))
            print(
                f"raw aiosqlite executemany ({args.raw_batch}/commit, reference): {sqlite_rate:10,.0f} rows/s"
            )
            print(f"raw aiosqlite executemany ({args.batch}/commit):  {same_rate:10,.0f} rows/s")
            print(f"  the same with synchronous=FULL (the outbox's):  {full_rate:10,.0f} rows/s")
            print(f"raw aiomqtt QoS 1 publish ({args.batch}/message):  {mqtt_rate:10,.0f} readings/s")
            asyncio.run(fill(work / "outbox-only.db", records))
            ob_rate = asyncio.run(outbox_only(work / "outbox-only.db", args.batch))
            print(
                f"outbox claim + ack alone, no network:  {ob_rate:10,.0f} readings/s (the gateway's ceiling)"
            )

            asyncio.run(fill(work / "outbox-broker.db", records))
            b = run_gateway(work / "outbox-broker.db", broker.url, "broker", args.batch, args.inflight)
            kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            rx_db = work / "county.db"
            rx = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "provisioning.cli",
                    "receiver",
                    "--broker",
                    broker.url,
                    "--db",
                    str(rx_db),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=open(work / "receiver.log", "wb"),  # noqa: SIM115
            )
            try:
                deadline = time.monotonic() + 20
                while "subscribed" not in (work / "receiver.log").read_text() and time.monotonic() < deadline:
                    time.sleep(0.05)
                asyncio.run(fill(work / "outbox-county.db", records))
                c = run_gateway(work / "outbox-county.db", broker.url, "county", args.batch, args.inflight)
                stored = receiver_count(rx_db)
            finally:
                rx.terminate()
                rx.wait(10)
            kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            rx_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime) - c["cpu_s"]
            print()
            print(
                f"{'uplink mode':<26}{'readings/s':>12}{'x reference':>13}{'target':>8}"
                f"{'x same batch':>14}{'x outbox alone':>16}{'gateway peak RSS':>18}"
            )
            for name, r, target in (("broker (PUBACK)", b, 0.5), ("county (receiver acks)", c, 0.25)):
                print(
                    f"{name:<26}{r['rate']:>12,.0f}{r['rate'] / sqlite_rate:>13.2f}{target:>8.2f}"
                    f"{r['rate'] / same_rate:>14.2f}{r['rate'] / ob_rate:>16.2f}{r['rss_mb']:>15.0f} MB"
                )
            print(
                f"CPU: gateway {b['cpu_s']:.1f} s (broker mode), {c['cpu_s']:.1f} s (county mode); "
                f"receiver {rx_cpu:.1f} s (county mode, incl. start-up)"
            )
            print(
                f"receiver stored {stored} of {args.n}; county mode re-sent {c['resent']:.0f}; "
                f"left in the outboxes: {b['left']:.0f} + {c['left']:.0f}"
            )
            ok_b = b["rate"] >= 0.5 * sqlite_rate
            ok_c = c["rate"] >= 0.25 * sqlite_rate and stored == args.n
            print(f"targets: broker {'met' if ok_b else 'MISSED'}, county {'met' if ok_c else 'MISSED'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
