"""The county store on PostgreSQL (asyncpg): several receiver instances, one database.

One transaction per envelope. Readings: one statement (:data:`STORE_READINGS`, the rows as arrays,
``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` with the rejections and the receipt),
one round trip; alerts and alert-status events: copied (``COPY``, binary) into a temporary staging
table and inserted with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``. A
reading's revision is a new row, the same ``(id, revision)`` twice is one row (two instances
storing the same re-sent batch at once end with one row, the second counts duplicates), and an
id another gateway's reading has is rejected, never stored. The ack goes out after the commit.

The schema is versioned: the numbered files in ``county/migrations/`` are applied in order, each
in one transaction, under an advisory lock (instances starting together apply each once), and
recorded in ``schema_version``. A lost connection or a restarting server raises
:class:`county.errors.StoreUnavailable`; the receiver retries (nothing was acked).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from county.errors import CountyError, StoreUnavailable
from county.fleet import GatewayRow
from county.receiver import FOREIGN_READING, Prepared, Stored, result_command_id, status_state

log = logging.getLogger("hutgw.county.postgres")

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x48555447  # "HUTG": the advisory lock migrations take
TABLES = ("readings", "alerts", "alert_status", "rejections", "command_results", "gateways", "receipts")

# Errors that mean "the database is not there right now", not "this envelope is wrong".
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)

_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS stage_alerts (
    id text, gateway_id text, kind text, severity text, resident_id text, raised_at timestamptz,
    batch_id text, payload jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS stage_alert_status (
    id text, alert_id text, gateway_id text, event text, state text, at timestamptz,
    batch_id text, payload jsonb
) ON COMMIT DELETE ROWS;
"""
_READING_COLUMNS = (
    "id",
    "revision",
    "gateway_id",
    "kind",
    "resident_id",
    "effective_at",
    "batch_id",
    "payload",
)
_ALERT_COLUMNS = ("id", "gateway_id", "kind", "severity", "resident_id", "raised_at", "batch_id", "payload")
_STATUS_COLUMNS = ("id", "alert_id", "gateway_id", "event", "state", "at", "batch_id", "payload")

# A readings envelope in one statement, so in one round trip and (outside a transaction block) one
# implicit transaction that commits before the answer comes back. The rows arrive as two JSON
# parameters (readings_args). ``prior`` (what is stored of their ids) is read in the statement's
# snapshot: it looks each id up in the primary key (a correlated subquery, one index probe per
# row); a join let the planner merge-join the whole ``readings`` index instead, so every envelope cost time in
# proportion to everything ever stored (4.7 ms per 500 rows on an empty table, 38 ms at 100,000
# rows). ``foreign_``: NULL when the id is not stored yet, true when another gateway's reading has
# it (never stored over; rejected in the ack). The same statement writes the rows, the rejections
# (items the receiver refused, foreign ids) and the envelope's receipt. It replaced COPY into a
# staging table + INSERT + receipt in an explicit transaction: five round trips (BEGIN, COPY,
# INSERT, receipt, COMMIT) became one, and on a busy receiver each round trip also waited for the
# event loop, which validates the next envelope meanwhile. The payloads go straight from the array
# into the table (no join, no sort carrying them: ~1 ms of the 10 of 265 rows); the rows come
# sorted by id (readings_args), so two writers storing the same batch lock its keys in the same
# order, as the ORDER BY of the staging INSERT did.
# $1 the rows (JSON: id, revision, kind, resident_id, effective_at), $2 their payloads (a JSON
# array, in the same order), $3 gateway, $4 batch, $5-$7 refused items (id, reason, payload), $8 the
# instance, $9 the reason for a foreign id.
STORE_READINGS = """
WITH prior AS MATERIALIZED (
    SELECT s.id,
           (SELECT bool_or(r.gateway_id <> $3::text) FROM readings r WHERE r.id = s.id) AS foreign_
    FROM jsonb_to_recordset($1::jsonb) AS s(id text)
), ins AS (
    INSERT INTO readings (id, revision, gateway_id, kind, resident_id, effective_at, batch_id, payload)
    SELECT s.id, s.revision, $3::text, s.kind, s.resident_id, s.effective_at, $4::text, s.payload
    FROM ROWS FROM (
        jsonb_to_recordset($1::jsonb)
            AS (id text, revision integer, kind text, resident_id text, effective_at timestamptz),
        jsonb_array_elements($2::jsonb)
    ) AS s(id, revision, kind, resident_id, effective_at, payload)
    WHERE s.id NOT IN (SELECT id FROM prior WHERE foreign_)
    ON CONFLICT (id, revision) DO NOTHING
    RETURNING id
), counts AS (
    SELECT (SELECT count(*) FROM ins i JOIN prior p ON p.id = i.id WHERE p.foreign_ IS NULL)::int AS new,
           (SELECT count(*) FROM ins i JOIN prior p ON p.id = i.id WHERE p.foreign_ IS NOT NULL)::int
               AS revised,
           (SELECT coalesce(array_agg(id), '{}') FROM prior WHERE foreign_) AS foreign_ids
), refused AS (
    INSERT INTO rejections (gateway_id, batch_id, id, reason, payload)
    SELECT $3::text, $4::text, r.id, r.reason, r.payload
    FROM unnest($5::text[], $6::text[], $7::bytea[]) AS r(id, reason, payload)
    UNION ALL
    SELECT $3::text, $4::text, f.id, $9::text, NULL FROM counts, unnest(counts.foreign_ids) AS f(id)
), receipt AS (
    INSERT INTO receipts (gateway_id, stream, batch_id, accepted, rejected, new, revised, duplicates,
                          instance)
    SELECT $3::text, 'readings', $4::text,
           jsonb_array_length($2::jsonb) - cardinality(foreign_ids),
           cardinality($5::text[]) + cardinality(foreign_ids),
           new, revised, jsonb_array_length($2::jsonb) - new - revised - cardinality(foreign_ids), $8::text
    FROM counts
)
SELECT new, revised, foreign_ids FROM counts
"""
_INSERT_ONCE = """
WITH ins AS (
    INSERT INTO {table} ({columns}) SELECT {columns} FROM stage_{table} ORDER BY id
    ON CONFLICT (id) DO NOTHING RETURNING 1
) SELECT count(*) FROM ins
"""
_RECEIPT = (
    "INSERT INTO receipts (gateway_id, stream, batch_id, accepted, rejected, new, revised, duplicates,"
    " instance) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
)


def migrations(folder: Path = MIGRATIONS) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every numbered migration, in order."""
    found: list[tuple[int, str, str]] = []
    for path in sorted(folder.iterdir()):
        m = _MIGRATION_NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise CountyError(f"migrations in {folder} are not numbered 0001, 0002, ...: {versions}")
    return found


async def migrate(con: asyncpg.Connection, folder: Path = MIGRATIONS) -> list[int]:
    """Apply the migrations this database lacks, each in one transaction; the versions applied."""
    applied: list[int] = []
    async with con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
    for version, name, sql in migrations(folder):
        async with con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            if await con.fetchval("SELECT 1 FROM schema_version WHERE version = $1", version):
                continue
            await con.execute(sql)
            await con.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)", version, name)
            applied.append(version)
            log.info("county database: applied migration %s", name)
    return applied


def _jsonb_encode(value: bytes | str) -> bytes:
    """jsonb's binary form is a version byte (1) and the JSON text: the payload bytes go as they are."""
    return b"\x01" + (value if isinstance(value, bytes) else value.encode())


def _jsonb_decode(data: bytes) -> bytes:
    return bytes(data[1:])


async def _init_connection(con: asyncpg.Connection) -> None:
    await con.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_jsonb_encode, decoder=_jsonb_decode, format="binary"
    )
    await con.execute(_STAGE)


def default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class PostgresStore:
    """The county database (``async with``): ``dsn`` is a ``postgresql://`` URL."""

    def __init__(
        self,
        dsn: str,
        *,
        instance: str | None = None,
        clock: Any = time.time,
        timeout_s: float = 15.0,
        pool_size: int = 2,
    ) -> None:
        self._dsn = dsn
        self.instance = instance or default_instance()
        self._clock = clock
        self._timeout_s = timeout_s
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self.concurrency = pool_size  # envelopes the receiver may store at once (one per connection)

    async def __aenter__(self) -> PostgresStore:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=0,  # no background floor-keeping: a connection is made when needed
                max_size=self._pool_size,
                init=_init_connection,
                # No JIT: these are short statements on a few hundred rows, but the planner's
                # estimates (no statistics for the staging tables) crossed jit_above_cost and
                # compiling took 15-270 ms per envelope, many times the statement itself.
                server_settings={"jit": "off"},
                command_timeout=self._timeout_s,
                timeout=self._timeout_s,
            )
        except UNAVAILABLE as e:
            raise StoreUnavailable(
                f"cannot reach the county database: {e}", hint="check --db and that PostgreSQL runs"
            ) from None
        except asyncpg.PostgresError as e:
            raise CountyError(f"the county database refused us: {e}", hint="check --db") from None
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as con:
                await migrate(con)
        except BaseException as e:
            await self._pool.close()
            self._pool = None
            if isinstance(e, UNAVAILABLE):
                raise StoreUnavailable(f"the county database went away while migrating: {e}") from None
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _con(self, what: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; a database that is not there raises :class:`StoreUnavailable`."""
        if self._pool is None:
            raise CountyError("the county database is not open")
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as con:
                yield con
        except UNAVAILABLE as e:
            raise StoreUnavailable(f"{what}: {type(e).__name__}: {e}") from None

    async def commit(self, p: Prepared) -> Stored | None:
        """Store what :func:`county.receiver.prepare` made of one envelope, in one transaction."""
        if p.stream == "readings" and p.batch_id is not None:
            async with self._con("storing an envelope") as con:
                if p.invalid:
                    async with con.transaction():
                        await self._invalid(con, p)
                        row = await con.fetchrow(STORE_READINGS, *readings_args(p, self.instance))
                else:  # one statement: its own transaction, committed when the answer comes
                    row = await con.fetchrow(STORE_READINGS, *readings_args(p, self.instance))
            assert row is not None
            new, revised, foreign = int(row["new"]), int(row["revised"]), list(row["foreign_ids"])
            dups = len(p.good) - new - revised - len(foreign)
        else:
            async with self._con("storing an envelope") as con, con.transaction():
                await self._invalid(con, p)
                if p.batch_id is None:
                    return None
                new, revised, foreign = await self._once(con, p), 0, []
                dups = len(p.good) - new
                rejections = [
                    (p.gateway_id, p.batch_id, i, r, p.rejected_payloads.get(i))
                    for i, r in p.rejected.items()
                ]
                if rejections:
                    await con.executemany(
                        "INSERT INTO rejections (gateway_id, batch_id, id, reason, payload)"
                        " VALUES ($1,$2,$3,$4,$5)",
                        rejections,
                    )
                # The receipt is the envelope's counters too: an insert, no row two writers would
                # both update (a shared counter row serialises every commit behind it).
                await con.execute(
                    _RECEIPT,
                    p.gateway_id,
                    p.stream,
                    p.batch_id,
                    len(p.good),
                    len(rejections),
                    new,
                    revised,
                    dups,
                    self.instance,
                )
        if foreign:
            log.warning(
                "receiver: %s sent %d reading id(s) another gateway owns (batch %s); rejected",
                p.gateway_id,
                len(foreign),
                p.batch_id,
            )
        return Stored(p.ack(foreign), new, revised, dups)

    async def _invalid(self, con: asyncpg.Connection, p: Prepared) -> None:
        for batch_id, reason, raw in p.invalid:
            log.warning("receiver: invalid message from %s (batch %s): %s", p.gateway_id, batch_id, reason)
            await con.execute(
                "INSERT INTO rejections (gateway_id, batch_id, id, reason, payload)"
                " VALUES ($1,$2,NULL,$3,$4)",
                p.gateway_id,
                batch_id,
                reason,
                raw[:65536],
            )

    async def _once(self, con: asyncpg.Connection, p: Prepared) -> int:
        gw, batch = p.gateway_id, p.batch_id
        if p.stream == "alerts":
            columns = _ALERT_COLUMNS
            records: list[tuple[Any, ...]] = [
                (aid, gw, a.kind, a.severity, a.resident_id, a.raised_at, batch, payload)
                for aid, (a, payload) in p.good.items()
            ]
        else:
            columns = _STATUS_COLUMNS
            records = [
                (eid, e.alert_id, gw, e.event, e.state, e.at, batch, payload)
                for eid, (e, payload) in p.good.items()
            ]
        if not records:
            return 0
        await con.copy_records_to_table(f"stage_{p.stream}", records=records, columns=columns)
        sql = _INSERT_ONCE.format(table=p.stream, columns=", ".join(columns))
        return int(await con.fetchval(sql))

    async def store_status(self, gateway_id: str, raw: bytes) -> None:
        state = status_state(raw)
        async with self._con("storing a status") as con:
            await con.execute(
                "INSERT INTO gateways (gateway_id, state, status, updated_at) VALUES ($1,$2,$3,$4)"
                " ON CONFLICT (gateway_id) DO UPDATE SET state=excluded.state, status=excluded.status,"
                " updated_at=excluded.updated_at",
                gateway_id,
                state,
                raw,
                datetime.fromtimestamp(self._clock(), UTC),
            )

    async def store_command_result(self, gateway_id: str, raw: bytes) -> None:
        cid = result_command_id(raw)
        async with self._con("storing a command result") as con:
            await con.execute(
                "INSERT INTO command_results (command_id, gateway_id, payload) VALUES ($1,$2,$3)",
                cid,
                gateway_id,
                raw,
            )

    async def counters(self) -> dict[str, int]:
        """What every instance stored, summed from the receipts (and the invalid messages)."""
        async with self._con("reading counters") as con:
            row = await con.fetchrow(
                "SELECT count(*), coalesce(sum(new + revised), 0), coalesce(sum(duplicates), 0),"
                " coalesce(sum(revised), 0), coalesce(sum(rejected), 0),"
                " (SELECT count(*) FROM rejections WHERE id IS NULL) FROM receipts"
            )
        assert row is not None
        names = ("envelopes", "rows", "duplicates", "revisions", "rejected", "invalid")
        return {name: int(value) for name, value in zip(names, row, strict=True)}

    async def reading_ids(self) -> set[str]:
        async with self._con("reading ids") as con:
            return {r[0] for r in await con.fetch("SELECT DISTINCT id FROM readings")}

    async def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(table)
        async with self._con("counting") as con:
            return int(await con.fetchval(f"SELECT count(*) FROM {table}"))

    async def fleet_rows(self) -> list[GatewayRow]:
        sql = """
            SELECT g.gateway_id, g.state, g.status, extract(epoch FROM g.updated_at)::float8,
                   (SELECT count(*) FROM (SELECT DISTINCT ON (alert_id) state FROM alert_status s
                                          WHERE s.gateway_id = g.gateway_id
                                          ORDER BY alert_id, at DESC, received_at DESC) last
                     WHERE last.state = 'unanswered')
            FROM gateways g ORDER BY g.gateway_id
        """
        async with self._con("reading the fleet") as con:
            rows = await con.fetch(sql)
        return [GatewayRow(r[0], r[1], bytes(r[2] or b""), float(r[3]), int(r[4])) for r in rows]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def readings_args(p: Prepared, instance: str) -> tuple[Any, ...]:
    """The parameters of :data:`STORE_READINGS` for a readings envelope, sorted by id: the rows'
    columns as one JSON array of objects (orjson writes it in one call; a naive effective time is
    taken as UTC) and the payloads spliced into one JSON array, so the driver encodes two values
    instead of six arrays of 265 (it inspected every element of those: 7 us a row)."""
    rows: list[dict[str, Any]] = []
    payloads: list[bytes] = []
    for rid, (r, payload) in sorted(p.good.items(), key=_first):
        rows.append(
            {
                "id": rid,
                "revision": r.revision,
                "kind": r.kind,
                "resident_id": r.resident_id,
                "effective_at": r.effective_at,
            }
        )
        payloads.append(payload)
    refused = list(p.rejected)
    return (
        orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC),
        b"[" + b",".join(payloads) + b"]",
        p.gateway_id,
        p.batch_id,
        refused,
        [p.rejected[i] for i in refused],
        [p.rejected_payloads.get(i) for i in refused],
        instance,
        FOREIGN_READING,
    )


def rows_for_copy(p: Prepared) -> Sequence[tuple[Any, ...]]:
    """The staging rows of a readings envelope (what the benchmark's raw COPY writes too)."""
    return [
        (rid, r.revision, p.gateway_id, r.kind, r.resident_id, r.effective_at, p.batch_id, payload)
        for rid, (r, payload) in p.good.items()
    ]
