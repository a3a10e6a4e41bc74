"""County benchmark: readings/s stored in PostgreSQL by 1, 2 and 3 receiver instances sharing one
MQTT subscription, next to raw asyncpg ``COPY`` of the same rows into the same table (same run),
and a gateway backlog drained end to end in ``county`` ack mode next to raw batched aiosqlite.

Run: ``.venv/bin/python bench/county.py [--n 100000] [--backlog 30000]``. PostgreSQL: the server at
127.0.0.1:5432 when it answers (a throw-away database is created and dropped), else a private
cluster in a temporary folder. Mosquitto is started privately. Readings look like what the kiosk
API stores (blood pressure with its classification in English and Chinese, weights, flags).

Goals (issue 18): best instance count >= 0.3 of raw COPY; end-to-end county drain >= 0.25 of raw
batched aiosqlite. Each process's peak RSS is printed.

The end-to-end gateway runs the uplink with the product's batch settings (``UplinkSettings``
defaults: at most 500 readings and 256,000 bytes an envelope, 4 envelopes in flight), which is what
a hut sends its backlog with: ~339 of these 754-byte readings an envelope. ``--drain-batches``
takes bench/drain.py's settings instead (400 bytes a reading: ~265 of them), as the figures
before 2026-12-06 21:00 did.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parents[1]
# This file's folder must not shadow the ``county`` package (run as a script it is sys.path[0]).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))


def _load_drain() -> Any:
    """bench/drain.py (the raw aiosqlite reference and the gateway child process), by its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_drain", ROOT / "bench" / "drain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


drain = _load_drain()

from buffer.ids import uuid7  # noqa: E402
from buffer.record import Lane, Record  # noqa: E402
from county.postgres import _READING_COLUMNS, PostgresStore, _init_connection, rows_for_copy  # noqa: E402
from county.receiver import prepare  # noqa: E402
from devtools.mosquitto import running_broker  # noqa: E402
from tests.county.pg import (  # noqa: E402
    SHARED_ADMIN_URL,
    create_database,
    drop_database,
    private_cluster,
    shared_server_usable,
)
from uplink import envelope  # noqa: E402

RESIDENTS = [f"r-{i:04d}" for i in range(600)]
BP_CLASS = {
    "guideline": "china-htn-2018",
    "version": "2018",
    "category": "grade1",
    "label": "Grade 1 hypertension",
    "advice": "Measure again within a week and see the village doctor.",
    "label_zh": "1级高血压",
    "advice_zh": "请在一周内复测，并请村医查看。",
}


def kiosk_readings(n: int) -> list[Record]:
    """Readings as the kiosk API stores them (the gateway's WireReading JSON, without seq)."""
    out = []
    for i in range(n):
        rid = uuid7()
        resident = RESIDENTS[i % len(RESIDENTS)]
        obj: dict[str, Any] = {
            "id": rid,
            "revision": 0,
            "kind": "blood_pressure",
            "resident_id": resident,
            "attribution": "session",
            "device": {"id": "cuff-1", "profile": "omron.bp.ble", "address": "F4:5E:AB:12:34:56"},
            "measured_at": "2026-11-29T16:00:00",
            "received_at": "2026-11-29T08:00:01.231000+00:00",
            "effective_at": "2026-11-29T08:00:00+00:00",
            "time_source": "device",
            "gateway_clock_synced": True,
            "values": {
                "systolic": {"value": 130 + i % 40, "unit": "mm[Hg]"},
                "diastolic": {"value": 80 + i % 20, "unit": "mm[Hg]"},
                "pulse": {"value": 60 + i % 40, "unit": "/min"},
            },
            "flags": ["irregular_pulse"] if i % 7 == 0 else [],
            "classification": BP_CLASS,
            "extras": {"session": f"s-{i // 3}", "cuff_fit": True},
        }
        if i % 3 == 1:
            obj["kind"] = "body_composition"
            obj["device"] = {"id": "tanita-1", "profile": "tanita.bc.serial"}
            obj["values"] = {
                "weight": {"value": 40 + (i % 600) / 10, "unit": "kg"},
                "fat_percent": {"value": 20 + (i % 150) / 10, "unit": "%"},
                "bmi": {"value": 18 + (i % 120) / 10, "unit": "kg/m2"},
            }
            obj["classification"] = None
        out.append(Record(rid, "readings", Lane.CLINICAL, str(obj["kind"]), orjson.dumps(obj), resident))
    return out


def envelopes(records: list[Record], gateways: int, batch: int) -> list[tuple[str, bytes]]:
    """(gateway id, envelope bytes), the records spread over ``gateways`` gateways."""
    now = datetime.now(UTC)
    out = []
    for i in range(0, len(records), batch):
        gw = f"bench-{(i // batch) % gateways:03d}"
        items = [envelope.Item(r.id, i + n, r.payload) for n, r in enumerate(records[i : i + batch])]
        out.append((gw, envelope.encode("readings", gw, uuid7(), now, items).payload))
    return out


async def gateway_child(args: argparse.Namespace) -> None:
    """Child process: bench/drain.py's gateway (drain ``args.gateway`` in ``county`` ack mode, print
    the figures as JSON), with the uplink's own batch settings unless ``--drain-batches``."""
    import json

    from uplink.settings import UplinkSettings

    # ack_timeout_s, heartbeat_s, poll_interval_s: as bench/drain.py (nothing is re-sent by a timeout)
    common: dict[str, Any] = {"ack_timeout_s": 60.0, "heartbeat_s": 60.0, "poll_interval_s": 0.05}
    if args.drain_batches:
        common.update(batch_max_count=args.batch, batch_max_bytes=args.batch * 400)
    # A client id (so a session) of its own: acks left queued for an earlier run stay there.
    ident = f"bench-gw-{os.getpid()}"
    settings = UplinkSettings(broker=args.broker, ack_mode="county", client_id=ident, **common)
    envelopes = 0

    def counted(*a: Any) -> envelope.Encoded:
        nonlocal envelopes
        envelopes += 1
        return envelope.encode(*a)

    got = await drain.drain_once(Path(args.gateway), settings, encode_batch=counted)
    print(json.dumps({**got, "envelopes": envelopes, "cpu_s": got["drain_cpu_s"]}))


def run_gateway(outbox: Path, broker: str, batch: int, drain_batches: bool) -> dict[str, float]:
    import json

    argv = [sys.executable, __file__, "--gateway", str(outbox), "--broker", broker, "--batch", str(batch)]
    if drain_batches:
        argv.append("--drain-batches")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise SystemExit(f"gateway process failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def raw_copy(url: str, envs: list[tuple[str, bytes]]) -> float:
    """asyncpg COPY of the same rows into the same table, one transaction per envelope (only the
    COPY and its commit are timed; the rows are made just before, one envelope at a time)."""
    con = await asyncpg.connect(url)
    try:
        await _init_connection(con)
        await con.execute("TRUNCATE readings")
        columns = list(_READING_COLUMNS)
        n, spent = 0, 0.0
        for gw, raw in envs:
            rows = rows_for_copy(prepare(gw, "readings", raw))
            t0 = time.perf_counter()
            async with con.transaction():
                await con.copy_records_to_table("readings", records=rows, columns=columns)
            spent += time.perf_counter() - t0
            n += len(rows)
        await con.execute("TRUNCATE readings, receipts, rejections")
        return n / spent
    finally:
        await con.close()


async def count_rows(url: str) -> int:
    con = await asyncpg.connect(url)
    try:
        return int(await con.fetchval("SELECT count(*) FROM readings"))
    finally:
        await con.close()


async def truncate(url: str) -> None:
    con = await asyncpg.connect(url)
    try:
        await con.execute("TRUNCATE readings, receipts, rejections, gateways")
    finally:
        await con.close()


class Instances:
    """``hutgw county serve`` processes on one shared subscription."""

    def __init__(self, k: int, broker: str, db: str, key: Path, work: Path, tag: str = "") -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        if k == 0:  # the embedded store: `hutgw receiver --db FILE` (SQLite), as `make demo` runs it
            log = work / "receiver.log"
            self.logs.append(log)
            # Its own persistent session each time (a receiver without --group keeps one): what the
            # broker queued for an earlier one (the PostgreSQL drains' envelopes) would be acked
            # to this round's gateway.
            argv = [
                "receiver",
                "--broker",
                broker,
                "--db",
                db,
                "--key",
                str(key),
                "--client-id",
                f"bench-rx{tag}",
            ]
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "provisioning.cli", *argv],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=open(log, "wb"),  # noqa: SIM115 - the child owns it
                )
            )
        for i in range(k):
            log = work / f"county-{k}-{i}.log"
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable, "-m", "provisioning.cli", "county", "serve", "--broker", broker,
                        "--db", db, "--group", "bench", "--key", str(key), "--instance", f"bench-{i}",
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=open(log, "wb"),  # noqa: SIM115 - the child owns it
                )
            )  # fmt: skip

    def wait_subscribed(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for log in self.logs:
            while "subscribed" not in log.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"county instance did not subscribe:\n{log.read_text()[-2000:]}")
                time.sleep(0.05)

    def stop(self) -> list[float]:
        rss = [peak_rss_mb(p.pid) for p in self.procs]
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(20)
        return rss


async def publish_and_wait(port: int, envs: list[tuple[str, bytes]], url: str, n: int) -> float:
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-gateways", max_inflight_messages=100) as c:
        c.pending_calls_threshold = 10_000
        sem = asyncio.Semaphore(40)

        async def one(gw: str, body: bytes) -> None:
            async with sem:
                await c.publish(f"hut/v1/{gw}/readings", body, qos=1, timeout=60)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(gw, b) for gw, b in envs))
        print(f"  (published in {time.perf_counter() - t0:.2f} s)", end="")
        while (await count_rows(url)) < n:
            await asyncio.sleep(0.05)
            if time.perf_counter() - t0 > 600:
                raise SystemExit("county instances did not store everything within 10 minutes")
        return n / (time.perf_counter() - t0)


def _what(k: int) -> str:
    return "hutgw receiver (SQLite)" if k == 0 else f"county serve x{k} (PostgreSQL)"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000, help="readings for the COPY / instances comparison")
    p.add_argument("--backlog", type=int, default=30_000, help="readings drained end to end from a gateway")
    p.add_argument("--gateways", type=int, default=20, help="gateway topics the envelopes spread over")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3, help="end-to-end rounds (reference and drains each)")
    p.add_argument(
        "--drain-batches",
        action="store_true",
        help="end to end: bench/drain.py's batch settings (400 bytes a reading) instead of the uplink's",
    )
    p.add_argument("--gateway", help=argparse.SUPPRESS)
    p.add_argument("--broker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.gateway:
        asyncio.run(gateway_child(args))
        return
    work = Path(tempfile.mkdtemp(prefix="hutgw-county-bench-"))
    work.chmod(0o755)
    cluster = None
    try:
        if shared_server_usable():
            admin, where = SHARED_ADMIN_URL, "127.0.0.1:5432"
        else:
            cluster = private_cluster()
            admin, where = cluster.__enter__().url, "a private cluster"
        url, dbname = asyncio.run(create_database(admin))
        keygen = ["receiver", "keygen", "--out", str(work / "county.key")]
        subprocess.run(
            [sys.executable, "-m", "provisioning.cli", *keygen], cwd=ROOT, check=True, capture_output=True
        )

        async def migrate() -> None:
            async with PostgresStore(url, instance="bench"):
                pass

        asyncio.run(migrate())
        records = kiosk_readings(args.n)
        avg = sum(len(r.payload) for r in records) / len(records)
        envs = envelopes(records, args.gateways, args.batch)
        print(
            f"PostgreSQL: {where}; {args.n} readings ({avg:.0f} bytes of JSON each, as the kiosk API "
            f"stores them) in {len(envs)} envelopes of {args.batch} from {args.gateways} gateways"
        )
        copy_rate = asyncio.run(raw_copy(url, envs))
        print(
            f"raw asyncpg COPY, one transaction per {args.batch} rows (reference): {copy_rate:10,.0f} rows/s"
        )
        results: dict[int, tuple[float, list[float]]] = {}
        with running_broker(work / "mosquitto") as broker:
            for k in (1, 2, 3):
                asyncio.run(truncate(url))
                inst = Instances(k, broker.url, url, work / "county.key", work)
                try:
                    inst.wait_subscribed()
                    rate = asyncio.run(publish_and_wait(broker.port, envs, url, args.n))
                finally:
                    rss = inst.stop()
                results[k] = (rate, rss)
                print(
                    f"county serve x{k} (shared subscription, signed acks): {rate:10,.0f} readings/s stored"
                    f" = {rate / copy_rate:.2f} of raw COPY; peak RSS {', '.join(f'{r:.0f}' for r in rss)} MB"
                )
            best_k = max(results, key=lambda k: results[k][0])
            best = results[best_k][0]
            print(f"best: x{best_k}, {best / copy_rate:.2f} of raw COPY (goal >= 0.30)")

            # End to end: a gateway's backlog drained in county mode, next to raw batched aiosqlite.
            # A drain lasts a second or two and the machine is shared: each round measures the
            # reference again right before its drains, and the summary takes each ratio's median.
            backlog = kiosk_readings(args.backlog)
            ratios: dict[int, list[float]] = {}
            print(f"\nbacklog {args.backlog} readings, {args.rounds} round(s)")
            for r in range(args.rounds):
                ref = asyncio.run(drain.raw_sqlite(backlog, work / f"raw-{r}.db", 100))
                print(
                    f"round {r + 1}: raw aiosqlite executemany, 100 rows per commit (reference):"
                    f" {ref:10,.0f} rows/s (load {os.getloadavg()[0]:.1f})"
                )
                for k in sorted({0, 1, best_k}):
                    asyncio.run(truncate(url))
                    outbox = work / f"outbox-{k}-{r}.db"
                    asyncio.run(drain.fill(outbox, backlog))
                    lite = work / f"county-{r}.db"
                    db = str(lite) if k == 0 else url
                    inst = Instances(k, broker.url, db, work / "county.key", work, tag=f"-{r}")
                    try:
                        inst.wait_subscribed()
                        g = run_gateway(outbox, broker.url, args.batch, args.drain_batches)
                        stored = drain.receiver_count(lite) if k == 0 else asyncio.run(count_rows(url))
                    finally:
                        rss = inst.stop()
                    ratios.setdefault(k, []).append(g["rate"] / ref)
                    print(
                        f"  gateway -> broker -> {_what(k)}, county ack mode: {g['rate']:8,.0f} readings/s"
                        f" = {g['rate'] / ref:.2f} of the reference (goal >= 0.25);"
                        f" stored {stored}/{args.backlog},"
                        f" {args.backlog / g['envelopes']:.0f} an envelope,"
                        f" re-sent {g['resent']:.0f}, left {g['left']:.0f};"
                        f" peak RSS gateway {g['rss_mb']:.0f} MB,"
                        f" county {', '.join(f'{x:.0f}' for x in rss)} MB"
                    )
            for k, got in ratios.items():
                print(
                    f"end to end, {_what(k)}: median {statistics.median(got):.2f} of the reference"
                    f" (rounds: {', '.join(f'{x:.2f}' for x in got)}; goal >= 0.25)"
                )
        print(f"benchmark process peak RSS {drain.rss_mb():.0f} MB")
        asyncio.run(drop_database(admin, dbname))
    finally:
        if cluster is not None:
            cluster.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
