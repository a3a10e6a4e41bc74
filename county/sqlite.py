"""The embedded store: one SQLite file (``hutgw receiver``, ``make demo``, small counties).

Every reading once by id (a higher ``revision`` from the same gateway replaces the stored one, a
lower or equal one is a duplicate, an id another gateway's reading has is rejected), alerts and
alert-status events once by id, one transaction per envelope committed with ``synchronous=FULL``
before the ack goes out. PostgreSQL (:mod:`county.postgres`) keeps every revision as a row.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from county.errors import CountyError
from county.fleet import GatewayRow
from county.receiver import FOREIGN_READING, Prepared, Stored, prepare, result_command_id, status_state

log = logging.getLogger("hutgw.receiver")

SCHEMA = """
PRAGMA journal_mode=WAL;
-- FULL: an ack promises the reading is stored; in WAL mode NORMAL could still lose the last
-- transactions to a power cut after their ack went out, and the gateway would never resend them.
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS readings (
    id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL,
    resident_id TEXT,
    effective_at TEXT,
    batch_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    resident_id TEXT,
    batch_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_status (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL,
    at TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_status_alert ON alert_status (alert_id, at);
CREATE TABLE IF NOT EXISTS rejections (
    gateway_id TEXT NOT NULL,
    batch_id TEXT,
    id TEXT,
    reason TEXT NOT NULL,
    payload BLOB,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gateways (
    gateway_id TEXT PRIMARY KEY,
    state TEXT,
    status BLOB,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS command_results (
    command_id TEXT,
    gateway_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    gateway_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    received_at REAL NOT NULL
);
"""

MAX_IDS_PER_QUERY = 900
TABLES = ("readings", "alerts", "alert_status", "rejections", "command_results", "gateways", "receipts")

_INSERT_READING = (
    "INSERT INTO readings (gateway_id, revision, kind, resident_id, effective_at, batch_id,"
    " payload, received_at, id) VALUES (?,?,?,?,?,?,?,?,?)"
)
_UPDATE_READING = (
    "UPDATE readings SET gateway_id=?, revision=?, kind=?, resident_id=?, effective_at=?,"
    " batch_id=?, payload=?, received_at=? WHERE id=?"
)
_INSERT_REJECTION = "INSERT INTO rejections VALUES (?,?,?,?,?,?)"
_BUMP_COUNTER = (
    "INSERT INTO counters (name, value) VALUES (?, ?)"
    " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)


def _existing_tx(con: sqlite3.Connection, table: str, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """id -> (stored revision (0 for alerts), owning gateway) of the ids already stored."""
    found: dict[str, tuple[int, str]] = {}
    col = "revision" if table == "readings" else "0"
    for i in range(0, len(ids), MAX_IDS_PER_QUERY):
        chunk = ids[i : i + MAX_IDS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id, {col}, gateway_id FROM {table} WHERE id IN ({marks})"
        for rid, rev, gw in con.execute(sql, chunk):
            found[rid] = (int(rev), gw)
    return found


def _finish_tx(
    con: sqlite3.Connection,
    p: Prepared,
    rejections: list[tuple[Any, ...]],
    counts: tuple[int, int, int],
    accepted: int,
    now: float,
) -> None:
    _new, revised, dups = counts
    if rejections:
        con.executemany(_INSERT_REJECTION, rejections)
    con.executemany(
        _BUMP_COUNTER,
        [("envelopes", 1), ("duplicates", dups), ("revisions", revised), ("rejected", len(rejections))],
    )
    con.execute(
        "INSERT INTO receipts VALUES (?,?,?,?,?,?)",
        (p.gateway_id, p.stream, p.batch_id, accepted, len(rejections), now),
    )


def _rejection_rows(p: Prepared, now: float) -> list[tuple[Any, ...]]:
    return [
        (p.gateway_id, p.batch_id, i, r, p.rejected_payloads.get(i, b"null"), now)
        for i, r in p.rejected.items()
    ]


def _readings_tx(con: sqlite3.Connection, p: Prepared, now: float) -> tuple[tuple[int, int, int], list[str]]:
    """One envelope's readings in one transaction: new ids inserted, higher revisions replace the
    stored row, the rest are duplicates; an id another gateway's reading has is rejected (kept in
    ``rejections``), never stored over it.  Returns ((new, revised, duplicates), foreign ids)."""
    rows: list[tuple[Any, ...]] = []
    for rid, (parsed, payload) in p.good.items():
        eff = parsed.effective_at
        rows.append(
            (
                p.gateway_id,
                parsed.revision,
                parsed.kind,
                parsed.resident_id,
                eff.isoformat() if eff is not None else None,
                p.batch_id,
                payload,
                now,
                rid,
            )
        )
    con.execute("BEGIN IMMEDIATE")
    try:
        existing = _existing_tx(con, "readings", list(p.good))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        foreign: list[tuple[Any, ...]] = []
        for row in rows:
            old = existing.get(row[-1])
            if old is None:
                inserts.append(row)
            elif old[1] != row[0]:
                foreign.append(row)
            elif row[1] > old[0]:
                updates.append(row)
        con.executemany(_INSERT_READING, inserts)
        con.executemany(_UPDATE_READING, updates)
        dups = len(rows) - len(inserts) - len(updates) - len(foreign)
        rejections = _rejection_rows(p, now) + [
            (row[0], row[5], row[-1], FOREIGN_READING, row[6], now) for row in foreign
        ]
        counts = (len(inserts), len(updates), dups)
        _finish_tx(con, p, rejections, counts, len(rows) - len(foreign), now)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return counts, [row[-1] for row in foreign]


def _once_tx(con: sqlite3.Connection, p: Prepared, now: float) -> tuple[tuple[int, int, int], list[str]]:
    """One envelope of alerts or alert-status events: an id already stored is a duplicate."""
    rows: list[tuple[Any, ...]] = []
    if p.stream == "alerts":
        sql = "INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?)"
        for aid, (a, payload) in p.good.items():
            rows.append((aid, p.gateway_id, a.kind, a.severity, a.resident_id, p.batch_id, payload, now))
    else:
        sql = "INSERT INTO alert_status VALUES (?,?,?,?,?,?,?,?,?)"
        for eid, (e, payload) in p.good.items():
            rows.append(
                (eid, e.alert_id, p.gateway_id, e.event, e.state, e.at.isoformat(), p.batch_id, payload, now)
            )
    con.execute("BEGIN IMMEDIATE")
    try:
        existing = _existing_tx(con, p.stream, [r[0] for r in rows])
        inserts = [r for r in rows if r[0] not in existing]
        con.executemany(sql, inserts)
        counts = (len(inserts), 0, len(rows) - len(inserts))
        _finish_tx(con, p, _rejection_rows(p, now), counts, len(rows), now)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return counts, []


class SqliteStore:
    """The receiver's SQLite database (``async with``)."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self._path = path
        self._clock = clock
        self._db: aiosqlite.Connection | None = None

    async def __aenter__(self) -> SqliteStore:
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.executescript(SCHEMA)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise CountyError("the receiver database is not open")
        return self._db

    async def store(self, gateway_id: str, stream: str, raw: bytes) -> Stored | None:
        """Validate and store one envelope; ``None`` when it is too broken to ack (counted)."""
        return await self.commit(prepare(gateway_id, stream, raw))

    async def _in_db(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(con, *args)`` whole in aiosqlite's thread: one hop per envelope, not one per
        statement (each hop costs a thread switch both ways)."""
        db = self.db
        return await db._execute(fn, db._conn, *args)  # type: ignore[no-untyped-call]

    async def commit(self, p: Prepared) -> Stored | None:
        """Store what :func:`county.receiver.prepare` made of one envelope, in one transaction."""
        for batch_id, reason, raw in p.invalid:
            await self._invalid(p.gateway_id, batch_id, reason, raw)
        if p.batch_id is None:
            return None
        now = self._clock()
        tx = _readings_tx if p.stream == "readings" else _once_tx
        counts: tuple[int, int, int]
        foreign: list[str]
        counts, foreign = await self._in_db(tx, p, now)
        if foreign:
            log.warning(
                "receiver: %s sent %d reading id(s) another gateway owns (batch %s); rejected",
                p.gateway_id,
                len(foreign),
                p.batch_id,
            )
        return Stored(p.ack(foreign), *counts)

    async def _invalid(self, gateway_id: str, batch_id: str | None, reason: str, raw: bytes) -> None:
        log.warning("receiver: invalid message from %s (batch %s): %s", gateway_id, batch_id, reason)
        await self.db.execute(
            "INSERT INTO rejections VALUES (?,?,?,?,?,?)",
            (gateway_id, batch_id, None, reason, raw[:65536], self._clock()),
        )
        await self.db.execute(
            "INSERT INTO counters (name, value) VALUES ('invalid', 1)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1"
        )

    async def store_status(self, gateway_id: str, raw: bytes) -> None:
        state = status_state(raw)
        await self.db.execute(
            "INSERT INTO gateways VALUES (?,?,?,?) ON CONFLICT(gateway_id) DO UPDATE SET"
            " state=excluded.state, status=excluded.status, updated_at=excluded.updated_at",
            (gateway_id, state, raw, self._clock()),
        )

    async def store_command_result(self, gateway_id: str, raw: bytes) -> None:
        cid = result_command_id(raw)
        await self.db.execute(
            "INSERT INTO command_results VALUES (?,?,?,?)", (cid, gateway_id, raw, self._clock())
        )

    async def counters(self) -> dict[str, int]:
        async with self.db.execute("SELECT name, value FROM counters") as cur:
            return {name: int(value) for name, value in await cur.fetchall()}

    async def reading_ids(self) -> set[str]:
        async with self.db.execute("SELECT id FROM readings") as cur:
            return {row[0] for row in await cur.fetchall()}

    async def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(table)
        async with self.db.execute(f"SELECT COUNT(*) FROM {table}") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def fleet_rows(self) -> list[GatewayRow]:
        """Every gateway's last status and its alerts whose last event left them unanswered."""
        sql = """
            SELECT g.gateway_id, g.state, g.status, g.updated_at,
                   (SELECT COUNT(*) FROM alert_status s
                     WHERE s.gateway_id = g.gateway_id AND s.state = 'unanswered'
                       AND s.at = (SELECT MAX(at) FROM alert_status t WHERE t.alert_id = s.alert_id))
            FROM gateways g ORDER BY g.gateway_id
        """
        async with self.db.execute(sql) as cur:
            return [
                GatewayRow(gw, state, bytes(status or b""), float(updated), int(unanswered))
                for gw, state, status, updated, unanswered in await cur.fetchall()
            ]
