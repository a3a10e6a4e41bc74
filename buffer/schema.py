"""The outbox's SQLite schema and connection settings."""

from __future__ import annotations

import sqlite3

from buffer.record import State

SCHEMA_VERSION = 1

#: State values as stored (small integers keep rows and partial indexes small).
STATE_CODE: dict[State, int] = {State.PENDING: 0, State.INFLIGHT: 1, State.DELIVERED: 2, State.REJECTED: 3}
CODE_STATE: dict[int, State] = {v: k for k, v in STATE_CODE.items()}
PENDING, INFLIGHT, DELIVERED, REJECTED = 0, 1, 2, 3

# Indexes are partial so a row sits only in the index its state needs: pending rows in
# ``pending`` (claim order), pending/in-flight rows with a batch in ``batch`` (ack, re-send),
# finished rows in ``finished`` (retention and quota prune).  ``by_key`` serves the kiosk history.
DDL = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    lane INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT,
    state INTEGER NOT NULL,
    created_at REAL NOT NULL,
    changed_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    batch_id TEXT,
    lease_until REAL,
    revised INTEGER NOT NULL DEFAULT 0,
    revised_at REAL,
    reason TEXT,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS pending ON records(lane, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS batch ON records(batch_id) WHERE state <= 1 AND batch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS finished ON records(changed_at) WHERE state >= 2;
CREATE INDEX IF NOT EXISTS by_key ON records(key, seq) WHERE key IS NOT NULL AND lane <= 1;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL, kind TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (name, kind)
) WITHOUT ROWID;
"""

#: Column list of a full row, in the order :func:`buffer.store.to_stored` reads it.
COLUMNS = "seq, id, stream, lane, kind, key, state, created_at, attempts, batch_id, reason, payload"
INSERT_COLUMNS = "seq, id, stream, lane, kind, key, state, created_at, changed_at, payload"


def configure(
    con: sqlite3.Connection, *, page_size: int, wal_autocheckpoint: int, journal_size_limit: int
) -> None:
    """Pragmas for an SD card: WAL, synchronous=FULL, modest pages, bounded WAL; then the schema.

    ``page_size`` only takes effect on a new (empty) database.
    """
    if con.execute("PRAGMA page_count").fetchone()[0] == 0:
        con.execute(f"PRAGMA page_size = {int(page_size)}")
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not switch the outbox to WAL (journal_mode={mode})")
    con.execute("PRAGMA synchronous = FULL")
    con.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
    con.execute(f"PRAGMA journal_size_limit = {int(journal_size_limit)}")
    con.execute("PRAGMA temp_store = MEMORY")
    con.execute("PRAGMA foreign_keys = OFF")
    create_schema(con)


def create_schema(con: sqlite3.Connection) -> None:
    # executescript commits any open transaction first; the DDL is idempotent.
    con.executescript(DDL)
    con.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
