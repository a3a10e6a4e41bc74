"""Every alert's notification state, durable in SQLite (``<state_dir>/notify.db``).

Each change of an alert (a round started, a message sent, an acknowledgement, unanswered) is one
transaction that also writes what it causes: the messages to send (table ``messages``, the
sender's queue) and the uplink events to emit (table ``events``). A restart therefore resumes an
escalation where it stood: queued messages are still queued, a round that was sent is not sent
again, the timers are wall-clock times in the rows. Written with ``synchronous=FULL`` in WAL mode
(an SOS is worth an fsync); ``hutgw alerts`` opens the same file while the daemon runs.

A message that was being handed to the modem when the process died (``sending``) is sent again
on the next start: a duplicate SMS is better than a skipped one.

Times are seconds since the epoch (floats), passed in by the caller: this module reads no clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson

from buffer.ids import uuid7
from gateway.errors import GatewayError
from gateway.notify.policy import phone_key
from uplink.codec import AckVia, AlertEvent, AlertState, AlertStatus

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    resident_id TEXT,
    resident_name TEXT NOT NULL DEFAULT '',
    raised_at REAL NOT NULL,
    detail BLOB NOT NULL DEFAULT '{}',
    urgent INTEGER NOT NULL,
    state TEXT NOT NULL,
    round INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    repeats INTEGER NOT NULL DEFAULT 0,
    acked_by TEXT,
    acked_role TEXT,
    acked_at REAL,
    ack_via TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (state, next_at);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, alert_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    alert_id TEXT NOT NULL,
    phone TEXT NOT NULL,
    phone_key TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (alert_id, phone_key)
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT,
    round INTEGER NOT NULL DEFAULT 0,
    phone TEXT NOT NULL,
    phone_key TEXT NOT NULL,
    role TEXT NOT NULL,
    purpose TEXT NOT NULL,
    priority INTEGER NOT NULL,
    exempt INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS messages_queue ON messages (status, priority, seq);
CREATE INDEX IF NOT EXISTS messages_alert ON messages (alert_id, status);
CREATE INDEX IF NOT EXISTS messages_sent ON messages (phone_key, sent_at);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS replies (phone_key TEXT PRIMARY KEY, last_answer_at REAL NOT NULL);
"""

OPEN_STATES = ("notifying", "unanswered")
LADDER_PURPOSES = ("urgent", "reminder", "unanswered")


class NotifyStoreError(GatewayError):
    """notify.db cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: str
    kind: str
    severity: str
    resident_id: str | None
    resident_name: str
    raised_at: float
    detail: Mapping[str, Any]
    urgent: bool
    state: str
    round: int
    next_at: float | None
    repeats: int
    acked_by: str | None
    acked_role: str | None
    acked_at: float | None
    ack_via: str | None

    def status_event(
        self,
        event: AlertEvent,
        at: float,
        *,
        state: AlertState | None = None,
        round: int | None = None,
        to: str | Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        role: str | None = None,
        channel: str | None = None,
        purpose: str | None = None,
        message_round: int | None = None,
        by: str | None = None,
        by_label: str | None = None,
        via: AckVia | None = None,
        error: str | None = None,
    ) -> AlertStatus:
        """This alert's step ``event`` at ``at`` (seconds since the epoch) as it travels to the
        county (``hut.alert_status/1``; ``.to_wire()`` is what the ``events`` table keeps): a new
        id, and the alert's state and round unless the step changes them."""
        return AlertStatus(
            id=uuid7(),
            alert_id=self.id,
            kind=self.kind,
            resident_id=self.resident_id,
            event=event,
            state=cast(AlertState, self.state) if state is None else state,
            round=self.round if round is None else round,
            at=datetime.fromtimestamp(at, UTC),
            to=to if to is None or isinstance(to, str) else tuple(to),
            roles=None if roles is None else tuple(roles),
            role=role,
            channel=channel,
            purpose=purpose,
            message_round=message_round,
            by=by,
            by_label=by_label,
            via=via,
            error=error,
        )


@dataclass(frozen=True, slots=True)
class MessageRow:
    seq: int
    alert_id: str | None
    round: int
    phone: str
    phone_key: str
    role: str
    purpose: str
    priority: int
    exempt: bool
    text: str
    status: str
    attempts: int
    next_try_at: float
    created_at: float
    sent_at: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    phone: str
    role: str
    purpose: str
    priority: int
    text: str
    alert_id: str | None = None
    round: int = 0
    exempt: bool = False


def _alert(row: sqlite3.Row) -> AlertRow:
    return AlertRow(
        id=row["id"],
        kind=row["kind"],
        severity=row["severity"],
        resident_id=row["resident_id"],
        resident_name=row["resident_name"],
        raised_at=row["raised_at"],
        detail=orjson.loads(row["detail"]),
        urgent=bool(row["urgent"]),
        state=row["state"],
        round=row["round"],
        next_at=row["next_at"],
        repeats=row["repeats"],
        acked_by=row["acked_by"],
        acked_role=row["acked_role"],
        acked_at=row["acked_at"],
        ack_via=row["ack_via"],
    )


def _message(row: sqlite3.Row) -> MessageRow:
    return MessageRow(**{k: row[k] for k in row.keys()} | {"exempt": bool(row["exempt"])})  # noqa: SIM118


class NotifyStore:
    """The SQLite file; every write method is one transaction (``BEGIN IMMEDIATE``)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        try:
            if readonly:
                self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            else:
                self._db = sqlite3.connect(path, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 5000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.Error as e:
            raise NotifyStoreError(
                f"cannot open the alert notification store {path}: {e}",
                hint="check that the state folder is writable and the disk is not full / "
                "检查状态目录是否可写、磁盘是否已满",
            ) from None

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise NotifyStoreError(f"notify.db is busy or unwritable: {e}") from None
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            try:
                db.execute("COMMIT")
            except sqlite3.Error as e:
                db.execute("ROLLBACK")
                raise NotifyStoreError(f"notify.db: commit failed: {e}") from None

    # ---------------------------------------------------------------- reads

    def resolve(self, alert_id: str) -> str:
        """The alert an id stands for (a repeat merged into an open alert has its own id)."""
        row = self._db.execute("SELECT alert_id FROM aliases WHERE alias = ?", (alert_id,)).fetchone()
        return str(row[0]) if row is not None else alert_id

    def get(self, alert_id: str) -> AlertRow | None:
        row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (self.resolve(alert_id),)).fetchone()
        return _alert(row) if row is not None else None

    def open_for(self, resident_id: str | None, kind: str) -> AlertRow | None:
        if resident_id is None:
            return None
        row = self._db.execute(
            "SELECT * FROM alerts WHERE resident_id = ? AND kind = ? "
            "AND state IN ('notifying', 'unanswered') "
            "ORDER BY raised_at DESC LIMIT 1",
            (resident_id, kind),
        ).fetchone()
        return _alert(row) if row is not None else None

    def alerts(
        self, *, states: Sequence[str] | None = None, since: float | None = None, limit: int = 500
    ) -> list[AlertRow]:
        sql = "SELECT * FROM alerts WHERE 1"
        args: list[str | float | int] = []
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if since is not None:
            sql += " AND (raised_at >= ? OR state IN ('notifying', 'unanswered'))"
            args.append(since)
        sql += " ORDER BY raised_at DESC LIMIT ?"
        args.append(limit)
        return [_alert(r) for r in self._db.execute(sql, args)]

    def due(self, now: float) -> list[AlertRow]:
        rows = self._db.execute(
            "SELECT * FROM alerts WHERE state IN ('notifying', 'unanswered') AND next_at IS NOT NULL "
            "AND next_at <= ? ORDER BY next_at",
            (now,),
        )
        return [_alert(r) for r in rows]

    def next_due_at(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(next_at) FROM alerts WHERE state IN ('notifying', 'unanswered')"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def recipients(self, alert_id: str) -> list[tuple[str, str]]:
        """(phone, role) on the ladder of an alert, in the order they were added."""
        return [
            (r[0], r[1])
            for r in self._db.execute(
                "SELECT phone, role FROM recipients WHERE alert_id = ? ORDER BY rowid", (alert_id,)
            )
        ]

    def messages(self, alert_id: str) -> list[MessageRow]:
        rows = self._db.execute("SELECT * FROM messages WHERE alert_id = ? ORDER BY seq", (alert_id,))
        return [_message(r) for r in rows]

    def message(self, seq: int) -> MessageRow | None:
        row = self._db.execute("SELECT * FROM messages WHERE seq = ?", (seq,)).fetchone()
        return _message(row) if row is not None else None

    def queue(self, now: float, limit: int = 64) -> list[MessageRow]:
        """Messages that may go now, most urgent first (``sending`` ones were cut off by a restart)."""
        rows = self._db.execute(
            "SELECT * FROM messages WHERE status IN ('queued', 'sending') AND next_try_at <= ? "
            "ORDER BY priority, seq LIMIT ?",
            (now, limit),
        )
        return [_message(r) for r in rows]

    def next_try_at(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(next_try_at) FROM messages WHERE status IN ('queued', 'sending')"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def queued_count(self) -> int:
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')"
            ).fetchone()[0]
        )

    def sent_since(self, key: str, since: float) -> list[float]:
        return [
            r[0]
            for r in self._db.execute(
                "SELECT sent_at FROM messages WHERE phone_key = ? AND status = 'sent' AND exempt = 0 "
                "AND sent_at > ? ORDER BY sent_at",
                (key, since),
            )
        ]

    def open_alert_notified(self, key: str) -> AlertRow | None:
        """The open alert most recently sent to this number (what a reply "1" acknowledges)."""
        row = self._db.execute(
            "SELECT a.* FROM alerts a JOIN messages m ON m.alert_id = a.id "
            "WHERE m.phone_key = ? AND m.status = 'sent' "
            "AND m.purpose IN ('urgent', 'reminder', 'unanswered') "
            "AND a.state IN ('notifying', 'unanswered') ORDER BY m.sent_at DESC LIMIT 1",
            (key,),
        ).fetchone()
        return _alert(row) if row is not None else None

    def role_of(self, key: str) -> str | None:
        row = self._db.execute(
            "SELECT role FROM recipients WHERE phone_key = ? ORDER BY rowid DESC LIMIT 1", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def pending_events(self, limit: int = 100) -> list[tuple[int, str, bytes]]:
        return [
            (r[0], r[1], bytes(r[2]))
            for r in self._db.execute("SELECT seq, id, payload FROM events ORDER BY seq LIMIT ?", (limit,))
        ]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("notifying", "acknowledged", "unanswered", "digest")}
        for state, n in self._db.execute("SELECT state, COUNT(*) FROM alerts GROUP BY state"):
            out[state] = n
        return out

    def last_answer_at(self, key: str) -> float | None:
        row = self._db.execute("SELECT last_answer_at FROM replies WHERE phone_key = ?", (key,)).fetchone()
        return None if row is None else float(row[0])

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def digest_alerts(self) -> list[AlertRow]:
        return [
            _alert(r)
            for r in self._db.execute("SELECT * FROM alerts WHERE state = 'digest' ORDER BY raised_at")
        ]

    # ---------------------------------------------------------------- writes

    def insert_alert(
        self,
        row: AlertRow,
        *,
        recipients: Sequence[tuple[str, str]],
        messages: Sequence[NewMessage],
        events: Sequence[tuple[str, bytes]],
        now: float,
    ) -> bool:
        """A new alert with its first round; False when it was already there (a restart re-feeding it)."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM alerts WHERE id = ?", (row.id,)).fetchone() is not None:
                return False
            db.execute(
                "INSERT INTO alerts (id, kind, severity, resident_id, resident_name, raised_at, detail, "
                "urgent, "
                "state, round, next_at, repeats, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?)",
                (
                    row.id,
                    row.kind,
                    row.severity,
                    row.resident_id,
                    row.resident_name,
                    row.raised_at,
                    orjson.dumps(dict(row.detail)),
                    int(row.urgent),
                    row.state,
                    row.round,
                    row.next_at,
                    now,
                ),
            )
            self._add_recipients(db, row.id, recipients)
            self._queue(db, messages, now)
            self._events(db, events)
        return True

    def merge_repeat(self, alert_id: str, repeat_id: str, now: float) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO aliases (alias, alert_id) VALUES (?, ?)", (repeat_id, alert_id))
            db.execute(
                "UPDATE alerts SET repeats = repeats + 1, updated_at = ? WHERE id = ?", (now, alert_id)
            )

    def advance(
        self,
        alert_id: str,
        *,
        expect_state: str,
        expect_round: int,
        state: str,
        round_no: int,
        next_at: float | None,
        recipients: Sequence[tuple[str, str]] = (),
        messages: Sequence[NewMessage] = (),
        events: Sequence[tuple[str, bytes]] = (),
        now: float,
    ) -> bool:
        """Move an alert to its next step, only if nobody moved it meanwhile (an ack, another tick)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET state = ?, round = ?, next_at = ?, updated_at = ? "
                "WHERE id = ? AND state = ? AND round = ?",
                (state, round_no, next_at, now, alert_id, expect_state, expect_round),
            )
            if cur.rowcount != 1:
                return False
            self._add_recipients(db, alert_id, recipients)
            self._queue(db, messages, now)
            self._events(db, events)
        return True

    def acknowledge(
        self,
        alert_id: str,
        *,
        by: str,
        role: str | None,
        via: str,
        now: float,
        notices: Sequence[NewMessage] = (),
        events: Sequence[tuple[str, bytes]] = (),
    ) -> bool:
        """The first acknowledgement wins: False when the alert was not open any more."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET state = 'acknowledged', acked_by = ?, acked_role = ?, acked_at = ?, "
                "ack_via = ?, next_at = NULL, updated_at = ? "
                "WHERE id = ? AND state IN ('notifying', 'unanswered')",
                (by, role, now, via, now, alert_id),
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "UPDATE messages SET status = 'cancelled', error = 'acknowledged' WHERE alert_id = ? "
                "AND status = 'queued' AND purpose IN ('urgent', 'reminder', 'unanswered')",
                (alert_id,),
            )
            self._queue(db, notices, now)
            self._events(db, events)
        return True

    def mark_sending(self, seq: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET status = 'sending', attempts = attempts + 1 WHERE seq = ?", (seq,)
            )

    def mark_sent(
        self,
        seq: int,
        *,
        now: float,
        events: Sequence[tuple[str, bytes]] = (),
        round_done: tuple[str, int, float] | None = None,
    ) -> None:
        """Sent; ``round_done`` = (alert id, round, next_at): the escalation timer starts when the
        round's last message went out."""
        self._finish(seq, "sent", sent_at=now, error=None, events=events, round_done=round_done)

    def mark_retry(self, seq: int, *, error: str, next_try_at: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET status = 'queued', error = ?, next_try_at = ? WHERE seq = ?",
                (error, next_try_at, seq),
            )

    def mark_failed(
        self,
        seq: int,
        *,
        error: str,
        events: Sequence[tuple[str, bytes]] = (),
        round_done: tuple[str, int, float] | None = None,
    ) -> None:
        """Failed for good (a number the network refuses); the round's timer starts as for a sent one."""
        self._finish(seq, "failed", sent_at=None, error=error, events=events, round_done=round_done)

    def _finish(
        self,
        seq: int,
        status: str,
        *,
        sent_at: float | None,
        error: str | None,
        events: Sequence[tuple[str, bytes]],
        round_done: tuple[str, int, float] | None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET status = ?, sent_at = COALESCE(?, sent_at), error = ? WHERE seq = ?",
                (status, sent_at, error, seq),
            )
            if round_done is not None:
                self._start_timer_if_round_sent(db, *round_done)
            self._events(db, events)

    def cancel(self, seq: int, reason: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE messages SET status = 'cancelled', error = ? WHERE seq = ?", (reason, seq))

    def defer(self, seq: int, until: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE messages SET next_try_at = ? WHERE seq = ?", (until, seq))

    def queue_messages(
        self, messages: Sequence[NewMessage], now: float, *, answered: str | None = None
    ) -> list[int]:
        """Messages not tied to a step of an alert (their ``seq``); ``answered``: remember that this
        number got its one polite answer for the hour."""
        with self._tx() as db:
            seqs = self._queue(db, messages, now)
            if answered is not None:
                db.execute(
                    "INSERT INTO replies (phone_key, last_answer_at) VALUES (?, ?) "
                    "ON CONFLICT (phone_key) DO UPDATE SET last_answer_at = excluded.last_answer_at",
                    (answered, now),
                )
        return seqs

    def digested(
        self, alert_ids: Sequence[str], messages: Sequence[NewMessage], *, day: str, now: float
    ) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE alerts SET state = 'digested', updated_at = ? WHERE id = ?",
                [(now, a) for a in alert_ids],
            )
            self._queue(db, messages, now)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('digest_day', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (day,),
            )

    def events_emitted(self, seqs: Sequence[int]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])

    def prune(self, before: float) -> int:
        """Forget finished alerts (and their messages) raised before ``before``."""
        with self._tx() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM alerts WHERE raised_at < ? "
                    "AND state NOT IN ('notifying', 'unanswered', 'digest')",
                    (before,),
                )
            ]
            for a in ids:
                db.execute("DELETE FROM messages WHERE alert_id = ?", (a,))
                db.execute("DELETE FROM recipients WHERE alert_id = ?", (a,))
                db.execute("DELETE FROM aliases WHERE alert_id = ?", (a,))
                db.execute("DELETE FROM alerts WHERE id = ?", (a,))
            db.execute(
                "DELETE FROM messages WHERE alert_id IS NULL AND status NOT IN ('queued', 'sending') "
                "AND created_at < ?",
                (before,),
            )
        return len(ids)

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _start_timer_if_round_sent(
        db: sqlite3.Connection, alert_id: str, round_no: int, next_at: float
    ) -> None:
        left = db.execute(
            "SELECT COUNT(*) FROM messages WHERE alert_id = ? AND round = ? "
            "AND status IN ('queued', 'sending') AND purpose IN ('urgent', 'reminder', 'unanswered')",
            (alert_id, round_no),
        ).fetchone()[0]
        if left == 0:
            db.execute(
                "UPDATE alerts SET next_at = ? "
                "WHERE id = ? AND round = ? AND state = 'notifying' AND next_at IS NULL",
                (next_at, alert_id, round_no),
            )

    @staticmethod
    def _add_recipients(db: sqlite3.Connection, alert_id: str, recipients: Sequence[tuple[str, str]]) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO recipients (alert_id, phone, phone_key, role) VALUES (?, ?, ?, ?)",
            [(alert_id, phone, phone_key(phone), role) for phone, role in recipients],
        )

    @staticmethod
    def _queue(db: sqlite3.Connection, messages: Sequence[NewMessage], now: float) -> list[int]:
        seqs = []
        for m in messages:
            cur = db.execute(
                "INSERT INTO messages (alert_id, round, phone, phone_key, role, purpose, priority, exempt, "
                "text, next_try_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    m.alert_id,
                    m.round,
                    m.phone,
                    phone_key(m.phone),
                    m.role,
                    m.purpose,
                    m.priority,
                    int(m.exempt),
                    m.text,
                    now,
                    now,
                ),
            )
            seqs.append(int(cur.lastrowid or 0))
        return seqs

    @staticmethod
    def _events(db: sqlite3.Connection, events: Sequence[tuple[str, bytes]]) -> None:
        db.executemany("INSERT INTO events (id, payload) VALUES (?, ?)", list(events))
