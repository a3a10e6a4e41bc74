"""The reference receiver: what a county platform runs (or starts from) to take gateway uplinks.

``ReceiverStore`` validates envelopes and stores every reading once (idempotent by id; a higher
``revision`` replaces the stored one, a lower or equal one is a duplicate), with one SQLite
transaction per envelope. ``Receiver`` subscribes to ``<prefix>/+/readings|alerts|status|
command_results`` for any number of gateways and answers each envelope with an ``ack`` on
``<prefix>/<gateway_id>/ack``. Invalid items are rejected with a reason in the ack (and kept in
the ``rejections`` table); duplicates are acked again (the gateway needs the ack) and counted.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt
import aiosqlite
import orjson
from pydantic import BaseModel, ValidationError

from uplink.backoff import Backoff
from uplink.commands import sign_ack
from uplink.contract import (
    ALERTS_SCHEMA,
    READINGS_SCHEMA,
    Ack,
    AlertsEnvelope,
    ReadingsEnvelope,
    Rejection,
    WireAlert,
    WireReading,
)
from uplink.errors import UplinkError
from uplink.fhir import receive as fhir_receive

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
"""

STREAMS: dict[str, tuple[str, type[BaseModel]]] = {
    "readings": (READINGS_SCHEMA, WireReading),
    "alerts": (ALERTS_SCHEMA, WireAlert),
}
ENVELOPES: dict[str, type[BaseModel]] = {"readings": ReadingsEnvelope, "alerts": AlertsEnvelope}
SCHEMA_TO_STREAM = {schema: stream for stream, (schema, _) in STREAMS.items()}
MAX_IDS_PER_QUERY = 900


def _reason(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(item)"
    more = f" (+{e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"schema: {where}: {first['msg']}{more}"


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one envelope did."""

    ack: Ack
    new: int
    revised: int
    duplicates: int


@dataclass(slots=True)
class Prepared:
    """One envelope parsed and validated, ready to store (no I/O was done)."""

    gateway_id: str
    stream: str
    batch_id: str | None  # None: too broken to ack
    good: dict[str, tuple[BaseModel, dict[str, Any]]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    rejected_payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: list[tuple[str | None, str, bytes]] = field(default_factory=list)  # (batch, reason, raw)
    fhir_bundle: bytes | None = None  # payload_format = "fhir": stored by uplink.fhir.receive (docs/fhir.md)


def prepare(gateway_id: str, stream: str, raw: bytes) -> Prepared:
    """Parse and validate one envelope (pure: CPU only, so it can overlap the previous commit).

    The cyclic garbage collector is paused meanwhile: validating a batch allocates thousands of
    (acyclic) objects, which would set off a dozen collections per envelope, each walking every
    object that survived the ones before (measured: 40 % of the validation time). Reference
    counting frees all of it as before; the collector resumes, once, when this returns.
    """
    if not gc.isenabled():
        return _prepare(gateway_id, stream, raw)
    gc.disable()
    try:
        return _prepare(gateway_id, stream, raw)
    finally:
        gc.enable()


def _prepare(gateway_id: str, stream: str, raw: bytes) -> Prepared:
    out = Prepared(gateway_id, stream, None)
    if stream == "readings" and fhir_receive.is_bundle(raw):
        out.fhir_bundle = raw
        return out
    try:
        env = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        out.invalid.append((None, f"not JSON: {e}", raw))
        return out
    if not isinstance(env, dict) or not isinstance(env.get("batch_id"), str):
        out.invalid.append((None, "envelope without batch_id", raw))
        return out
    batch_id: str = env["batch_id"]
    schema, model = STREAMS[stream]
    items = env.get(stream)
    if not isinstance(items, list):
        out.invalid.append((batch_id, f"envelope has no {stream!r} list", raw))
        return out
    out.batch_id = batch_id
    problem = None
    if env.get("schema") != schema:
        problem = f"envelope schema {env.get('schema')!r} is not {schema!r}"
    elif env.get("gateway_id") != gateway_id:
        problem = f"envelope gateway_id {env.get('gateway_id')!r} does not match the topic ({gateway_id!r})"
    extra = set(env) - {"schema", "gateway_id", "batch_id", "sent_at", stream}
    if problem is None and extra:
        problem = f"envelope has unknown fields {sorted(extra)}"
    good = out.good
    if problem is None:
        # Fast path: pydantic-core validates the whole envelope from JSON about 3x faster than
        # item by item from dicts; only an envelope with a bad item takes the slow path.
        try:
            fast: list[BaseModel] = getattr(ENVELOPES[stream].model_validate_json(raw), stream)
        except ValidationError:
            pass
        else:
            for parsed, item in zip(fast, items, strict=True):
                prev = good.get(item["id"])
                if prev is None or getattr(parsed, "revision", 0) > getattr(prev[0], "revision", 0):
                    good[item["id"]] = (parsed, item)
            return out
    for item in items:
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            out.invalid.append((batch_id, "item without an id", orjson.dumps(item)))
            continue
        if problem is not None:
            out.rejected[item_id] = problem
            out.rejected_payloads[item_id] = item
            continue
        try:
            parsed = model.model_validate(item)
        except ValidationError as e:
            out.rejected[item_id] = _reason(e)
            out.rejected_payloads[item_id] = item
            continue
        prev = good.get(item_id)
        if prev is None or getattr(parsed, "revision", 0) > getattr(prev[0], "revision", 0):
            good[item_id] = (parsed, item)
    return out


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


@dataclass(frozen=True, slots=True)
class _Finish:
    """What closes an envelope's transaction: its rejections (rows) and the envelope counter."""

    rejections: list[tuple[Any, ...]]


def _finish_rows(
    gateway_id: str,
    batch_id: str,
    rejected: dict[str, str],
    rejected_payloads: dict[str, dict[str, Any]],
    now: float,
) -> _Finish:
    return _Finish(
        [
            (gateway_id, batch_id, i, r, orjson.dumps(rejected_payloads.get(i)), now)
            for i, r in rejected.items()
        ]
    )


FOREIGN_READING = "id belongs to another gateway's reading (a revision must come from its own gateway)"


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


def _finish_tx(con: sqlite3.Connection, finish: _Finish, dups: int, revised: int) -> None:
    if finish.rejections:
        con.executemany(_INSERT_REJECTION, finish.rejections)
    con.executemany(
        _BUMP_COUNTER,
        [
            ("envelopes", 1),
            ("duplicates", dups),
            ("revisions", revised),
            ("rejected", len(finish.rejections)),
        ],
    )


def _readings_tx(
    con: sqlite3.Connection, rows: list[tuple[Any, ...]], revisions: list[int], finish: _Finish
) -> tuple[int, int, int, list[str]]:
    """One envelope's readings in one transaction: new ids inserted, higher revisions replace the
    stored row, the rest are duplicates; an id another gateway's reading has is rejected (kept in
    ``rejections``), never stored over it.  Returns (new, revised, duplicates, foreign ids)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        existing = _existing_tx(con, "readings", [r[-1] for r in rows])
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        foreign: list[tuple[Any, ...]] = []
        for row, revision in zip(rows, revisions, strict=True):
            old = existing.get(row[-1])
            if old is None:
                inserts.append(row)
            elif old[1] != row[0]:
                foreign.append(row)
            elif revision > old[0]:
                updates.append(row)
        con.executemany(_INSERT_READING, inserts)
        con.executemany(_UPDATE_READING, updates)
        dups = len(rows) - len(inserts) - len(updates) - len(foreign)
        rejections = finish.rejections + [
            (row[0], row[5], row[-1], FOREIGN_READING, row[6], row[7]) for row in foreign
        ]
        _finish_tx(con, _Finish(rejections), dups, len(updates))
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return len(inserts), len(updates), dups, [row[-1] for row in foreign]


def _alerts_tx(con: sqlite3.Connection, rows: list[tuple[Any, ...]], finish: _Finish) -> tuple[int, int, int]:
    """One envelope's alerts in one transaction: an id already stored is a duplicate."""
    con.execute("BEGIN IMMEDIATE")
    try:
        existing = _existing_tx(con, "alerts", [r[0] for r in rows])
        inserts = [r for r in rows if r[0] not in existing]
        con.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?)", inserts)
        dups = len(rows) - len(inserts)
        _finish_tx(con, finish, dups, 0)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return len(inserts), 0, dups


class ReceiverStore:
    """The receiver's SQLite database (``async with``)."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self._path = path
        self._clock = clock
        self._db: aiosqlite.Connection | None = None

    async def __aenter__(self) -> ReceiverStore:
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
            raise UplinkError("the receiver database is not open")
        return self._db

    async def store(self, gateway_id: str, stream: str, raw: bytes) -> Stored | None:
        """Validate and store one envelope; ``None`` when it is too broken to ack (counted)."""
        return await self.commit(prepare(gateway_id, stream, raw))

    async def commit(self, p: Prepared) -> Stored | None:
        """Store what :func:`prepare` made of one envelope, in one transaction."""
        if p.fhir_bundle is not None:
            return await fhir_receive.store(self, p.gateway_id, p.fhir_bundle)
        for batch_id, reason, raw in p.invalid:
            await self._invalid(p.gateway_id, batch_id, reason, raw)
        if p.batch_id is None:
            return None
        foreign: list[str] = []
        if p.stream == "readings":
            new, revised, dups, foreign = await self._store_readings(
                p.gateway_id, p.batch_id, p.good, p.rejected, p.rejected_payloads
            )
        else:
            new, revised, dups = await self._store_alerts(
                p.gateway_id, p.batch_id, p.good, p.rejected, p.rejected_payloads
            )
        rejected = [Rejection(id=i, reason=r) for i, r in p.rejected.items()]
        accepted = list(p.good)
        if foreign:
            log.warning(
                "receiver: %s sent %d reading id(s) another gateway owns (batch %s); rejected",
                p.gateway_id,
                len(foreign),
                p.batch_id,
            )
            gone = set(foreign)
            accepted = [i for i in accepted if i not in gone]
            rejected += [Rejection(id=i, reason=FOREIGN_READING) for i in foreign]
        ack = Ack(batch_id=p.batch_id, gateway_id=p.gateway_id, accepted=accepted, rejected=rejected)
        return Stored(ack, new, revised, dups)

    async def _existing(self, table: str, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """id -> (stored revision, owning gateway) of the ids already stored."""
        found: dict[str, tuple[int, str]] = {}
        col = "revision" if table == "readings" else "0"
        for i in range(0, len(ids), MAX_IDS_PER_QUERY):
            chunk = ids[i : i + MAX_IDS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT id, {col}, gateway_id FROM {table} WHERE id IN ({marks})",
                chunk,
            ) as cur:
                for row in await cur.fetchall():
                    found[row[0]] = (int(row[1]), row[2])
        return found

    async def _in_db(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(con, *args)`` whole in aiosqlite's thread: one hop per envelope, not one per
        statement (each hop costs a thread switch both ways)."""
        db = self.db
        return await db._execute(fn, db._conn, *args)  # type: ignore[no-untyped-call]

    async def _store_readings(
        self,
        gateway_id: str,
        batch_id: str,
        good: dict[str, tuple[BaseModel, dict[str, Any]]],
        rejected: dict[str, str],
        rejected_payloads: dict[str, dict[str, Any]],
    ) -> tuple[int, int, int, list[str]]:
        now = self._clock()
        rows: list[tuple[Any, ...]] = []  # built before the transaction: pure CPU
        revisions: list[int] = []
        for rid, (parsed, item) in good.items():
            assert isinstance(parsed, WireReading)
            rows.append(
                (
                    gateway_id,
                    parsed.revision,
                    parsed.kind,
                    parsed.resident_id,
                    parsed.effective_at.isoformat(),
                    batch_id,
                    orjson.dumps(item),
                    now,
                    rid,
                )
            )
            revisions.append(parsed.revision)
        finish = _finish_rows(gateway_id, batch_id, rejected, rejected_payloads, now)
        result: tuple[int, int, int, list[str]] = await self._in_db(_readings_tx, rows, revisions, finish)
        return result

    async def _store_alerts(
        self,
        gateway_id: str,
        batch_id: str,
        good: dict[str, tuple[BaseModel, dict[str, Any]]],
        rejected: dict[str, str],
        rejected_payloads: dict[str, dict[str, Any]],
    ) -> tuple[int, int, int]:
        now = self._clock()
        rows: list[tuple[Any, ...]] = []
        for aid, (parsed, item) in good.items():
            assert isinstance(parsed, WireAlert)
            rows.append(
                (
                    aid,
                    gateway_id,
                    parsed.kind,
                    parsed.severity,
                    parsed.resident_id,
                    batch_id,
                    orjson.dumps(item),
                    now,
                )
            )
        finish = _finish_rows(gateway_id, batch_id, rejected, rejected_payloads, now)
        result: tuple[int, int, int] = await self._in_db(_alerts_tx, rows, finish)
        return result

    async def _finish(
        self,
        gateway_id: str,
        batch_id: str,
        rejected: dict[str, str],
        rejected_payloads: dict[str, dict[str, Any]],
        dups: int,
        revised: int,
        now: float,
    ) -> None:
        db = self.db
        if rejected:
            await db.executemany(
                _INSERT_REJECTION,
                [
                    (gateway_id, batch_id, i, r, orjson.dumps(rejected_payloads.get(i)), now)
                    for i, r in rejected.items()
                ],
            )
        await db.executemany(
            _BUMP_COUNTER,
            [("envelopes", 1), ("duplicates", dups), ("revisions", revised), ("rejected", len(rejected))],
        )
        await db.execute("COMMIT")

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
        try:
            obj = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            obj = {}
        state = obj.get("state") if isinstance(obj, dict) else None
        await self.db.execute(
            "INSERT INTO gateways VALUES (?,?,?,?) ON CONFLICT(gateway_id) DO UPDATE SET"
            " state=excluded.state, status=excluded.status, updated_at=excluded.updated_at",
            (gateway_id, state, raw, self._clock()),
        )

    async def store_command_result(self, gateway_id: str, raw: bytes) -> None:
        try:
            obj = orjson.loads(raw)
            cid = obj.get("command_id") if isinstance(obj, dict) else None
        except orjson.JSONDecodeError:
            cid = None
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
        if table not in ("readings", "alerts", "rejections", "command_results", "gateways"):
            raise ValueError(table)
        async with self.db.execute(f"SELECT COUNT(*) FROM {table}") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    url: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str = "hutgw-receiver"
    protocol: str = "3.1.1"

    def client(self, **kwargs: Any) -> aiomqtt.Client:
        from urllib.parse import urlsplit

        from uplink.settings import TlsSettings
        from uplink.tls import client_context

        parts = urlsplit(self.url)
        tls = None
        if parts.scheme == "mqtts":
            tls = client_context(TlsSettings(self.ca_file, self.cert_file, self.key_file))
        version = aiomqtt.ProtocolVersion.V5 if self.protocol == "5" else aiomqtt.ProtocolVersion.V311
        client = aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if tls else 1883),
            username=self.username,
            password=self.password,
            tls_context=tls,
            protocol=version,
            logger=logging.getLogger("hutgw.receiver.mqtt"),
            **kwargs,
        )
        client.pending_calls_threshold = 10_000
        return client


def _ack_sent(task: asyncio.Task[None], pending: set[asyncio.Task[None]]) -> None:
    pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # The gateway sends the batch again after its ack timeout; we ack it then.
        log.warning("receiver: could not publish an ack: %s", task.exception())


def ack_bytes(ack: Ack, gateway_id: str, key: Ed25519PrivateKey | None) -> bytes:
    """What goes out on ``<prefix>/<gateway_id>/ack``: signed by the county key when there is one."""
    if key is not None:
        return sign_ack(key, ack, gateway_id=gateway_id)
    return ack.model_dump_json(by_alias=True, exclude_none=True).encode()


class Receiver:
    """Subscribes for all gateways under ``prefix``, stores, acks. ``await run()`` until cancelled."""

    def __init__(
        self,
        store: ReceiverStore,
        broker: BrokerOptions,
        *,
        prefix: str = "hut/v1",
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self._store = store
        self._broker = broker
        self._prefix = prefix.rstrip("/")
        self._key = signing_key  # the county key: every ack is signed with it (docs/uplink.md)
        self.connected = asyncio.Event()
        self.envelopes = 0

    async def run(self) -> None:
        backoff = Backoff(0.2, 10.0, 30.0, rng=random.Random())
        loop = asyncio.get_running_loop()
        while True:
            started: float | None = None
            try:
                session: dict[str, Any] = (
                    {"clean_start": False} if self._broker.protocol == "5" else {"clean_session": False}
                )
                client = self._broker.client(
                    identifier=self._broker.client_id, max_inflight_messages=100, keepalive=15, **session
                )
                async with AsyncExitStack() as stack:
                    async with asyncio.timeout(20):
                        await stack.enter_async_context(client)
                    started = loop.time()
                    await self._session(client)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                cause: BaseException = e
                while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
                    cause = cause.exceptions[0]  # report the cause, not the group
                delay = backoff.next_delay()
                log.warning("receiver: broker connection ended (%s); retrying in %.1f s", cause, delay)
            else:  # pragma: no cover
                delay = backoff.next_delay()
            finally:
                self.connected.clear()
            if started is not None:
                backoff.connection_ended(loop.time() - started)
            await asyncio.sleep(delay)

    async def _session(self, client: aiomqtt.Client) -> None:
        for leaf in ("readings", "alerts", "status", "command_results"):
            await client.subscribe(f"{self._prefix}/+/{leaf}", qos=1, timeout=15)
        log.info("receiver: subscribed to %s/+/{readings,alerts,status,command_results}", self._prefix)
        self.connected.set()
        # Two stages: parsing/validating the next envelope (CPU, this thread) overlaps storing
        # the previous one (SQLite, aiosqlite's thread). Acks go out after the commit.
        queue: asyncio.Queue[Prepared | tuple[str, str, bytes]] = asyncio.Queue(maxsize=4)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read(client, queue), name="receiver-read")
            tg.create_task(self._write(client, queue), name="receiver-write")

    async def _read(
        self, client: aiomqtt.Client, queue: asyncio.Queue[Prepared | tuple[str, str, bytes]]
    ) -> None:
        async for message in client.messages:
            parts = message.topic.value.rsplit("/", 2)
            if len(parts) != 3 or parts[0] != self._prefix:
                continue
            _, gateway_id, leaf = parts
            raw = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if leaf in STREAMS:
                await queue.put(prepare(gateway_id, leaf, raw))
            elif leaf in ("status", "command_results"):
                await queue.put((gateway_id, leaf, raw))
        raise UplinkError("message stream ended")

    async def _write(
        self, client: aiomqtt.Client, queue: asyncio.Queue[Prepared | tuple[str, str, bytes]]
    ) -> None:
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, tuple):
                    gateway_id, leaf, raw = item
                    if leaf == "status":
                        await self._store.store_status(gateway_id, raw)
                    else:
                        await self._store.store_command_result(gateway_id, raw)
                    continue
                stored = await self._store.commit(item)
                self.envelopes += 1
                if stored is None:
                    continue
                body = ack_bytes(stored.ack, item.gateway_id, self._key)
                task = asyncio.create_task(
                    client.publish(f"{self._prefix}/{item.gateway_id}/ack", body, qos=1, timeout=15)
                )
                pending.add(task)
                task.add_done_callback(lambda t: _ack_sent(t, pending))
                while len(pending) > 50:
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in pending:
                t.cancel()


@dataclass(frozen=True, slots=True)
class ImportResult:
    accepted: list[str]
    rejected: list[Rejection]
    exported_at: float | None  # the earliest ``sent_at`` in the file (when the export was made)


async def import_export(store: ReceiverStore, lines: Iterable[bytes]) -> ImportResult:
    """Store an offline export (one envelope per line): accepted ids, rejections, export time."""
    accepted: list[str] = []
    rejected: list[Rejection] = []
    exported_at: float | None = None
    for lineno, raw_line in enumerate(lines, 1):
        line = raw_line.strip()
        if not line:
            continue
        try:
            env = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise UplinkError(
                f"line {lineno} is not JSON: {e}", hint="is this a `hutgw buffer export` file?"
            ) from None
        stream = SCHEMA_TO_STREAM.get(str(env.get("schema"))) if isinstance(env, dict) else None
        gateway_id = env.get("gateway_id") if isinstance(env, dict) else None
        if stream is None or not isinstance(gateway_id, str):
            raise UplinkError(f"line {lineno} is not a hut.readings/1 or hut.alerts/1 envelope")
        stored = await store.store(gateway_id, stream, line)
        if stored is None:
            raise UplinkError(f"line {lineno}: envelope is invalid (see the receiver log)")
        accepted.extend(stored.ack.accepted)
        rejected.extend(stored.ack.rejected)
        try:
            sent = datetime.fromisoformat(str(env.get("sent_at"))).timestamp()
        except ValueError:
            continue
        exported_at = sent if exported_at is None else min(exported_at, sent)
    return ImportResult(accepted, rejected, exported_at)
