"""The outbox's SQLite schema and connection settings."""

from __future__ import annotations

import hashlib
import re
import sqlite3

from buffer.record import State

SCHEMA_VERSION = 3

#: State values as stored (small integers keep rows and partial indexes small).
STATE_CODE: dict[State, int] = {State.PENDING: 0, State.INFLIGHT: 1, State.DELIVERED: 2, State.REJECTED: 3}
CODE_STATE: dict[int, State] = {v: k for k, v in STATE_CODE.items()}
PENDING, INFLIGHT, DELIVERED, REJECTED = 0, 1, 2, 3

# What a commit of new rows touches is what the SD card pays for, so the two look-ups every put
# needs are kept in integer-keyed (rowid) tables rather than indexes: appending to a rowid table
# adds a page without rebalancing its neighbours, an index b-tree rebalances three siblings.
#   ids(h, seq)        id -> seq, keyed by a 64-bit key of the id (for UUIDv7 ids its first 8
#                      bytes, so time-ordered appends); ids_more holds the rare second id whose
#                      key was taken (same millisecond and random bits).
#   queue(k)           the pending rows in claim order: k = lane << 48 | seq.
# Both are derived from ``records`` and rebuilt from it after a salvage or when they disagree.
# In-flight rows are NOT marked in ``records``: a claim rewriting every claimed row would rewrite
# the pages holding their payloads (two rows per 1 KiB page), so a claim only writes
#   leases(b, batch_id, lease_until)   one row per batch in flight
#   flight(seq, b)                     one small row per claimed record
# and the record keeps state 0 until the batch is answered (ack), given back (release, lease
# expiry, restart) or the record is marked delivered; only then is its ``records`` row written,
# once.  The temporary view ``rows_now`` overlays the two on ``records`` (state 1, the lease's
# batch id, one more attempt) for every read that shows rows.  ``leases`` and ``flight`` joined
# schema 2 without a new version number: the DDL creates them on open, and a row an older build
# left with state 1 is still understood (the owner's resume puts it back to pending).
# An ack likewise leaves the records rows alone on its common path (a fresh batch answered while
# in flight, schema 3): it writes
#   acks(b, batch_id, at, n)       one row per answered batch, in ack order (n: rows it delivered)
#   done(seq, b, at)               one small row per delivered record (done_b finds a batch's rows)
# instead of rewriting every delivered row and the payload pages it shares, so an ack writes a
# few pages, not one per two readings.  Rows of re-sent batches, rejected rows and rows marked
# from an import receipt are still finished in ``records`` itself (state 2 or 3): those are rare.
# A ``done`` row's record keeps state 0 and is in no queue; ``rows_now`` shows it as delivered
# under the ack's batch id and time.  Retention prunes ``done`` rows in ack order through ``acks``.
# The remaining indexes are partial, so a row sits only in the index its state needs:
# pending/in-flight rows with a batch in ``batch`` (ack, re-send), finished rows in ``finished``
# (retention and quota prune), alerts and clinical rows in ``by_key`` (kiosk history).
DDL = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
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
CREATE TABLE IF NOT EXISTS ids (h INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ids_more (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue (k INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS leases (b INTEGER PRIMARY KEY, batch_id TEXT NOT NULL, lease_until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS flight (seq INTEGER PRIMARY KEY, b INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS acks (
    b INTEGER PRIMARY KEY, batch_id TEXT NOT NULL, at REAL NOT NULL, n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS done (seq INTEGER PRIMARY KEY, b INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS done_b ON done(b);
CREATE INDEX IF NOT EXISTS batch ON records(batch_id) WHERE state <= 1 AND batch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS finished ON records(changed_at) WHERE state >= 2;
CREATE INDEX IF NOT EXISTS by_key ON records(key, seq) WHERE key IS NOT NULL AND lane <= 1;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL, kind TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (name, kind)
) WITHOUT ROWID;
"""

# Records as they stand now: a row in ``flight`` shows as in flight (state 1) under its lease's
# batch id, with the attempt the claim made counted; a row in ``done`` shows as delivered (state 2)
# under its ack's batch id and time, with the attempt of that claim counted (only a fresh batch
# answered in flight goes to ``done``).  Same column names as ``records``.
VIEW = """
CREATE TEMP VIEW IF NOT EXISTS rows_now AS
SELECT r.seq AS seq, r.id AS id, r.stream AS stream, r.lane AS lane, r.kind AS kind, r.key AS key,
       CASE WHEN f.seq IS NOT NULL THEN 1 WHEN d.seq IS NOT NULL THEN 2 ELSE r.state END AS state,
       r.created_at AS created_at,
       CASE WHEN d.seq IS NOT NULL THEN d.at ELSE r.changed_at END AS changed_at,
       CASE WHEN f.seq IS NOT NULL OR d.seq IS NOT NULL THEN r.attempts + 1 ELSE r.attempts END AS attempts,
       CASE WHEN f.seq IS NOT NULL THEN l.batch_id WHEN d.seq IS NOT NULL THEN a.batch_id
            ELSE r.batch_id END AS batch_id,
       CASE WHEN f.seq IS NOT NULL THEN l.lease_until WHEN d.seq IS NOT NULL THEN NULL
            ELSE r.lease_until END AS lease_until,
       r.revised AS revised, r.revised_at AS revised_at, r.reason AS reason, r.payload AS payload
FROM records r LEFT JOIN flight f ON f.seq = r.seq LEFT JOIN leases l ON l.b = f.b
     LEFT JOIN done d ON d.seq = r.seq LEFT JOIN acks a ON a.b = d.b
"""

SEQ_BITS = 48
SEQ_MASK = (1 << SEQ_BITS) - 1


#: Column list of a full row, in the order :func:`buffer.store.to_stored` reads it.
COLUMNS = "seq, id, stream, lane, kind, key, state, created_at, attempts, batch_id, reason, payload"
INSERT_COLUMNS = "seq, id, stream, lane, kind, key, state, created_at, changed_at, payload"


def configure(
    con: sqlite3.Connection,
    *,
    page_size: int,
    wal_autocheckpoint: int,
    journal_size_limit: int,
    synchronous: str = "FULL",
    max_page_count: int | None = None,
) -> None:
    """Pragmas for an SD card: WAL, synchronous=FULL, modest pages, bounded WAL; then the schema.

    ``page_size`` only takes effect on a new (empty) database.  The outbox passes
    ``synchronous="NORMAL"`` because it fsyncs the write-ahead log itself (its syncer), once for
    many commits, off the database thread.  ``max_page_count``: the file's page ceiling (this
    connection's; past it commits fail with ``SQLITE_FULL``, as on a full disk).
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError("synchronous must be FULL or NORMAL")
    if con.execute("PRAGMA page_count").fetchone()[0] == 0:
        con.execute(f"PRAGMA page_size = {int(page_size)}")
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not switch the outbox to WAL (journal_mode={mode})")
    con.execute(f"PRAGMA synchronous = {synchronous}")
    con.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
    con.execute(f"PRAGMA journal_size_limit = {int(journal_size_limit)}")
    con.execute("PRAGMA temp_store = MEMORY")
    # 1 MiB of page cache (SQLite's default is about 2 MB per connection): the hot pages are the
    # tails of the queue tables; the daemon must stay within 60 MB on a Pi Zero 2 W.
    con.execute("PRAGMA cache_size = -1024")
    con.execute("PRAGMA foreign_keys = OFF")
    create_schema(con)
    if max_page_count is not None:
        con.execute(f"PRAGMA max_page_count = {int(max_page_count)}")


def create_schema(con: sqlite3.Connection) -> None:
    # executescript commits any open transaction first; the DDL is idempotent.
    con.executescript(DDL)
    con.execute(VIEW)
    con.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    version = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]
    if int(version) == 2:  # 3 added acks/done (created above, empty: nothing to convert)
        con.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (SCHEMA_VERSION,))
    elif int(version) < 2:  # version 1 kept ids unique and pending rows in indexes
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("DROP INDEX IF EXISTS pending")
            rebuild_derived(con)
            con.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (SCHEMA_VERSION,))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def id_key(record_id: str) -> int:
    """The 64-bit key of an id in ``ids``: for a canonical UUID its first 8 bytes (so UUIDv7 ids,
    which sort by time, append), otherwise a hash.  Stored in the database: never change it."""
    if len(record_id) == 36 and _CANONICAL_UUID.fullmatch(record_id):
        return int(record_id[0:8] + record_id[9:13] + record_id[14:18], 16) - (1 << 63)
    digest = hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def queue_key(lane: int, seq: int) -> int:
    return (int(lane) << SEQ_BITS) | int(seq)


def rebuild_derived(con: sqlite3.Connection) -> None:
    """Recreate ``ids``, ``ids_more`` and ``queue`` from ``records`` (inside the caller's transaction).

    Rows repeating an id already stored under a lower sequence number are deleted (only a salvage of
    a damaged file can produce them).
    """
    con.create_function("hutgw_id_key", 1, id_key, deterministic=True)
    con.execute("DELETE FROM ids")
    con.execute("DELETE FROM ids_more")
    con.execute("DELETE FROM queue")
    con.execute("DELETE FROM records WHERE seq NOT IN (SELECT min(seq) FROM records GROUP BY id)")
    con.execute("DELETE FROM flight WHERE seq NOT IN (SELECT seq FROM records WHERE state = 0)")
    con.execute("DELETE FROM done WHERE seq NOT IN (SELECT seq FROM records WHERE state = 0)")
    con.execute("DELETE FROM flight WHERE seq IN (SELECT seq FROM done)")  # acked: delivered
    con.execute("DELETE FROM leases WHERE b NOT IN (SELECT b FROM flight)")
    con.execute("DELETE FROM acks WHERE b NOT IN (SELECT b FROM done)")
    con.execute("INSERT OR IGNORE INTO ids(h, seq) SELECT hutgw_id_key(id), seq FROM records ORDER BY seq")
    con.execute(
        "INSERT INTO ids_more(id, seq) SELECT r.id, r.seq FROM records r "
        "WHERE (SELECT i.seq FROM ids i WHERE i.h = hutgw_id_key(r.id)) != r.seq"
    )
    con.execute(
        f"INSERT INTO queue(k) SELECT (lane << {SEQ_BITS}) | seq FROM records "
        "WHERE state = 0 AND seq NOT IN (SELECT seq FROM flight) AND seq NOT IN (SELECT seq FROM done)"
    )
