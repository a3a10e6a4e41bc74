"""The outbox's transactions as plain functions on a ``sqlite3.Connection``.

Each public function here is one transaction and runs whole in the database thread (the outbox
hands it to aiosqlite's worker thread in a single call), so a group commit or a claim costs one
thread hop however many statements it runs.  The connection is in autocommit mode
(``isolation_level=None``); transactions are explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``.

:class:`StoreState` is the in-memory side (next sequence number, depth per lane and state); it is
only touched from the database thread and changed only after a commit succeeded.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from buffer.errors import DiskFullError, UnknownRecordError
from buffer.record import Lane, Record, Stored
from buffer.schema import (
    CODE_STATE,
    COLUMNS,
    DELIVERED,
    INFLIGHT,
    INSERT_COLUMNS,
    PENDING,
    REJECTED,
    SEQ_MASK,
    id_key,
    queue_key,
    rebuild_derived,
)

T = TypeVar("T")

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

Depth = Counter[tuple[int, int]]  # (lane, state code) -> rows


@dataclass(slots=True)
class StoreState:
    next_seq: int = 1
    depth: Depth = field(default_factory=Counter)
    data_version: int = -1
    depth_stale: bool = True
    commits: int = 0
    used_bytes: int = 0  # live bytes as of the last look (every few group commits)
    more_rows: int = -1  # rows in ids_more (almost always 0: then puts skip looking there)
    write_commits: int = 0  # commits that changed something (the syncer's marks count these)


def run(con: sqlite3.Connection, st: StoreState, fn: Callable[..., T], *args: Any) -> tuple[T, int]:
    """Run one transaction function, counting it in ``st.write_commits`` if it changed anything.

    Returns its result and its commit's number in ``st.write_commits`` (0 if it wrote nothing).

    The connection runs with synchronous=NORMAL: a commit reaches the operating system (a crash or
    kill of the process cannot undo it) and becomes durable against a power cut when the outbox's
    syncer next fsyncs the write-ahead log (:func:`buffer.diskio.fsync_wal`).
    """
    before = con.total_changes
    result: T = fn(con, *args)
    if con.total_changes == before:
        return result, 0
    st.write_commits += 1
    return result, st.write_commits


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if con.in_transaction:
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise
    try:
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise


def to_stored(row: Sequence[object]) -> Stored:
    seq, id_, stream, lane, kind, key, state, created_at, attempts, batch_id, reason, payload = row
    return Stored(
        id=str(id_),
        seq=int(seq),  # type: ignore[call-overload]
        stream=str(stream),
        lane=Lane(int(lane)),  # type: ignore[call-overload]
        kind=str(kind),
        payload=bytes(payload),  # type: ignore[call-overload]
        key=None if key is None else str(key),
        state=CODE_STATE[int(state)],  # type: ignore[call-overload]
        created_at=float(created_at),  # type: ignore[arg-type]
        attempts=int(attempts),  # type: ignore[call-overload]
        batch_id=None if batch_id is None else str(batch_id),
        reason=None if reason is None else str(reason),
    )


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


# A set of integers passed as one parameter: ``WHERE seq IN (SELECT value FROM json_each(?))``
# with a JSON array runs one statement for a whole batch instead of one per row.
_JSON_SET = "(SELECT value FROM json_each(?))"


def _json_ints(values: Iterable[int]) -> str:
    return "[" + ",".join(map(str, values)) + "]"


_LANES = tuple(Lane)  # lane code -> Lane
_INFLIGHT_STATE = CODE_STATE[INFLIGHT]


def claimed_items(rows: Sequence[Sequence[Any]], batch_id: str) -> list[Stored]:
    """Rows of a claim (read just before its UPDATE) as the caller sees them: in flight, one more attempt."""
    return [
        Stored(
            id_,
            seq,
            stream,
            _LANES[lane],
            kind,
            payload,
            key,
            _INFLIGHT_STATE,
            created_at,
            attempts + 1,
            batch_id,
        )
        for seq, id_, stream, lane, kind, key, _, created_at, attempts, _, _, payload in rows
    ]


def seq_high_water(con: sqlite3.Connection) -> int:
    """The highest sequence number ever handed out (rows may have been deleted since)."""
    row = con.execute("SELECT max(seq) FROM records").fetchone()
    high = int(row[0] or 0)
    meta = con.execute("SELECT value FROM meta WHERE name = 'seq_hwm'").fetchone()
    if meta is not None and meta[0] is not None:
        high = max(high, int(meta[0]))
    return high


def recount(con: sqlite3.Connection, st: StoreState) -> None:
    depth: Depth = Counter()
    for lane, state, n in con.execute("SELECT lane, state, count(*) FROM rows_now GROUP BY lane, state"):
        depth[(int(lane), int(state))] = int(n)
    st.depth = depth
    st.depth_stale = False


def sync_external(con: sqlite3.Connection, st: StoreState) -> None:
    """Notice commits made by another connection (a CLI process) since our last look."""
    version = int(con.execute("PRAGMA data_version").fetchone()[0])
    if version != st.data_version:
        st.data_version = version
        st.next_seq = max(st.next_seq, seq_high_water(con) + 1)
        st.depth_stale = True
        st.more_rows = _count_more(con)


def _count_more(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT count(*) FROM ids_more").fetchone()[0])


def load(con: sqlite3.Connection, st: StoreState) -> bool:
    """Read counters; rebuild the derived tables if they disagree with ``records`` (True if rebuilt)."""
    con.execute("BEGIN")  # one snapshot: another process may be committing meanwhile
    try:
        sync_external(con, st)
        recount(con, st)
        total = sum(st.depth.values())
        pending = sum(n for (_, state), n in st.depth.items() if state == PENDING)
        n_ids = int(
            con.execute("SELECT (SELECT count(*) FROM ids) + (SELECT count(*) FROM ids_more)").fetchone()[0]
        )
        n_queue = int(con.execute("SELECT count(*) FROM queue").fetchone()[0])
    finally:
        con.execute("COMMIT")
    if n_ids == total and n_queue == pending:
        return False
    with transaction(con):
        rebuild_derived(con)
    recount(con, st)
    st.more_rows = _count_more(con)
    return True


def lookup(
    con: sqlite3.Connection, ids: Sequence[str], check_more: bool = True
) -> tuple[dict[str, int], dict[str, int], set[int]]:
    """Find stored ids: (id -> seq for those stored, id -> key for all asked, keys already in ``ids``).

    ``check_more=False`` skips ``ids_more`` (the caller knows it is empty).
    """
    keys = {i: id_key(i) for i in ids}
    by_key: dict[int, list[str]] = {}
    for i, h in keys.items():
        by_key.setdefault(h, []).append(i)
    found: dict[str, int] = {}
    taken: set[int] = set()
    hs = list(by_key)
    for start in range(0, len(hs), _CHUNK):
        part = hs[start : start + _CHUNK]
        for h, seq, rid in con.execute(
            "SELECT i.h, r.seq, r.id FROM ids i JOIN records r ON r.seq = i.seq "
            f"WHERE i.h IN ({_marks(len(part))})",
            tuple(part),
        ):
            taken.add(int(h))
            if rid in keys:
                found[str(rid)] = int(seq)
    rest = [i for i in keys if i not in found] if check_more else []
    for part2 in _chunks(rest):
        for rid, seq in con.execute(
            f"SELECT id, seq FROM ids_more WHERE id IN ({_marks(len(part2))})", tuple(part2)
        ):
            found[str(rid)] = int(seq)
    return found, keys, taken


def _apply(st: StoreState, delta: Depth) -> None:
    for k, v in delta.items():
        st.depth[k] += v
    st.commits += 1


def _save_hwm(con: sqlite3.Connection, st: StoreState) -> None:
    con.execute(
        "INSERT INTO meta(name, value) VALUES ('seq_hwm', ?) "
        "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
        (st.next_seq - 1,),
    )


def save_hwm_tx(con: sqlite3.Connection, st: StoreState) -> None:
    with transaction(con):
        _save_hwm(con, st)


def _bump(con: sqlite3.Connection, name: str, counts: Mapping[str, int]) -> None:
    con.executemany(
        "INSERT INTO counters(name, kind, value) VALUES (?, ?, ?) "
        "ON CONFLICT(name, kind) DO UPDATE SET value = value + excluded.value",
        [(name, kind, n) for kind, n in counts.items() if n],
    )


# --------------------------------------------------------------------------------------------- put


def insert_group(
    con: sqlite3.Connection,
    st: StoreState,
    records: Sequence[Record],
    now: float,
    measure: bool = False,
    hard_limit_bytes: int | None = None,
    keep_room: Room | None = None,
) -> list[int]:
    """Insert records in one transaction; returns one sequence number per record.

    A record whose id is already stored (or repeated within the group) is not inserted again: its
    existing sequence number is returned negated, so the caller can count duplicates.
    ``measure`` also refreshes ``st.used_bytes`` (for the quota check).  Past ``hard_limit_bytes``
    of live pages nothing new is stored (:class:`DiskFullError`); claims, acks and maintenance
    still work, so the outbox can drain and prune its way back under the limit.
    ``keep_room``: nothing new is stored either when that would leave less room than it keeps for
    claims, acks and maintenance (:class:`Room`).
    """
    with transaction(con):
        sync_external(con, st)
        if keep_room is not None:
            keep_room.check(con)
        if hard_limit_bytes is not None:
            used = used_bytes(con)
            if used >= hard_limit_bytes:
                raise DiskFullError(
                    f"the outbox reached its hard size limit ({used} of {hard_limit_bytes} bytes); "
                    "nothing new is stored until delivered readings are pruned"
                )
        existing, keys, taken = lookup(con, list(dict.fromkeys(r.id for r in records)), st.more_rows != 0)
        seqs: list[int] = []
        rows: list[tuple[object, ...]] = []
        id_rows: list[tuple[int, int]] = []
        more_rows: list[tuple[str, int]] = []
        queue_rows: list[tuple[int]] = []
        delta: Depth = Counter()
        next_seq = st.next_seq
        for r in records:
            seq = existing.get(r.id)
            if seq is None:
                seq = next_seq
                next_seq += 1
                existing[r.id] = seq
                lane = int(r.lane)
                rows.append((seq, r.id, r.stream, lane, r.kind, r.key, PENDING, now, now, r.payload))
                h = keys[r.id]
                if h in taken:
                    more_rows.append((r.id, seq))
                else:
                    taken.add(h)
                    id_rows.append((h, seq))
                queue_rows.append((queue_key(lane, seq),))
                delta[(lane, PENDING)] += 1
                seqs.append(seq)
            else:
                seqs.append(-seq)  # negative: duplicate of an existing row
        if rows:
            con.executemany(f"INSERT INTO records({INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            con.executemany("INSERT INTO ids(h, seq) VALUES (?, ?)", id_rows)
            if more_rows:
                con.executemany("INSERT INTO ids_more(id, seq) VALUES (?, ?)", more_rows)
                st.more_rows = _count_more(con)
            con.executemany("INSERT INTO queue(k) VALUES (?)", queue_rows)
    st.next_seq = next_seq
    _apply(st, delta)
    if measure:
        st.used_bytes = used_bytes(con)
    return seqs


# ------------------------------------------------------------------------------------------- claim


@dataclass(frozen=True, slots=True)
class Claimed:
    batch_id: str
    stream: str
    rows: list[tuple[Any, ...]]  # COLUMNS as read just before the claim: see claimed_items
    resent: bool


def _take(rows: list[tuple[object, ...]], max_count: int, max_bytes: int) -> int:
    """How many of ``rows`` fit: at least one, then while count and bytes allow."""
    sizes = [len(row[-1]) for row in rows]  # type: ignore[arg-type]
    if len(rows) <= max_count and sum(sizes) <= max_bytes:
        return len(rows)  # the usual case: all of them (one C-speed pass)
    total = 0
    n = 0
    for size in sizes:
        if n >= max_count or (n > 0 and total + size > max_bytes):
            break
        total += size
        n += 1
    return n


# Pending rows in claim order: the queue drives, each row is looked up by its rowid.
_QUEUE = f"queue q CROSS JOIN records r ON r.seq = (q.k & {SEQ_MASK})"


def claim(
    con: sqlite3.Connection,
    st: StoreState,
    *,
    stream: str | None,
    max_count: int,
    max_bytes: int,
    lease_until: float,
    new_batch_id: str,
) -> Claimed | None:
    with transaction(con):
        sync_external(con, st)
        if stream is None:
            top = con.execute(f"SELECT batch_id, stream FROM {_QUEUE} ORDER BY q.k LIMIT 1").fetchone()
        else:
            top = con.execute(
                f"SELECT batch_id, stream FROM {_QUEUE} WHERE stream = ? ORDER BY q.k LIMIT 1", (stream,)
            ).fetchone()
        if top is None:
            return None
        old_batch, top_stream = top
        if old_batch is not None:
            # An expired or released batch is re-sent whole under its original id.
            rows = con.execute(
                f"SELECT {COLUMNS} FROM records WHERE batch_id = ? AND {_IN_BATCH} AND state = 0 "
                f"AND {_NOT_FLYING} ORDER BY lane, seq",
                (old_batch,),
            ).fetchall()
            n = _take(rows, max_count, max_bytes)
            if n < len(rows):  # the caller asked for less this time: the rest become fresh rows
                con.executemany(
                    "UPDATE records SET batch_id = NULL WHERE seq = ?", [(r[0],) for r in rows[n:]]
                )
            batch_id = str(old_batch)
            resent = True
        else:
            rows = con.execute(
                f"SELECT {COLUMNS} FROM {_QUEUE} WHERE batch_id IS NULL AND stream = ? ORDER BY q.k LIMIT ?",
                (top_stream, max_count),
            ).fetchall()
            n = _take(rows, max_count, max_bytes)
            batch_id = new_batch_id
            resent = False
        rows = rows[:n]
        if not rows:  # cannot happen (the top row is always taken); never lease an empty batch
            return None
        # The claim writes a lease and one small ``flight`` row per record; the records rows (and
        # the payload pages they share) are left alone until the batch is answered or given back.
        # Set-based: by range of the queue, else the batch's numbers as one JSON array.
        b = con.execute(
            "INSERT INTO leases(batch_id, lease_until) VALUES (?, ?) RETURNING b", (batch_id, lease_until)
        ).fetchone()[0]
        lo, hi = queue_key(rows[0][3], rows[0][0]), queue_key(rows[-1][3], rows[-1][0])
        if (
            len(rows)
            == con.execute("SELECT count(*) FROM queue WHERE k BETWEEN ? AND ?", (lo, hi)).fetchone()[0]
        ):
            # The usual case: the batch is one unbroken stretch of the queue (one stream, no row
            # of another batch in between): move it by range, no list of numbers at all.
            con.execute(
                f"INSERT INTO flight(seq, b) SELECT k & {SEQ_MASK}, ? FROM queue WHERE k BETWEEN ? AND ?",
                (b, lo, hi),
            )
            con.execute("DELETE FROM queue WHERE k BETWEEN ? AND ?", (lo, hi))
        else:
            con.execute(
                "INSERT INTO flight(seq, b) SELECT value, ? FROM json_each(?)",
                (b, _json_ints(r[0] for r in rows)),
            )
            keys = _json_ints(queue_key(r[3], r[0]) for r in rows)
            con.execute(f"DELETE FROM queue WHERE k IN {_JSON_SET}", (keys,))
    delta: Depth = Counter()
    for lane, n in Counter(r[3] for r in rows).items():
        delta[(lane, PENDING)] -= n
        delta[(lane, INFLIGHT)] += n
    _apply(st, delta)
    # The rows go back raw: the caller turns them into ``Stored`` items (claimed_items) on its own
    # thread, so the database thread, which every claim and ack queues behind, does only SQL.
    return Claimed(batch_id, str(top_stream), rows, resent)


# --------------------------------------------------------------------------------- ack and release


@dataclass(frozen=True, slots=True)
class Acked:
    delivered: int
    rejected: int
    requeued: int
    unknown_ids: int
    stale: bool


def ack(
    con: sqlite3.Connection,
    st: StoreState,
    batch_id: str,
    accepted: set[str],
    rejected: Mapping[str, str],
    now: float,
) -> Acked:
    with transaction(con):
        sync_external(con, st)
        rows = _batch_rows(con, batch_id)
        if not rows:
            return Acked(0, 0, 0, len(accepted) + len(rejected), True)
        if all(r[3] == INFLIGHT and r[5] and not r[4] for r in rows) and accepted.issuperset(
            [r[1] for r in rows]
        ):
            got, delta = _ack_whole_batch(con, batch_id, rows, accepted, rejected, now)
        else:
            got, delta = _ack_rows(con, batch_id, rows, accepted, rejected, now)
    _apply(st, delta)  # only once committed: a COMMIT that fails (a full disk) changes no counter
    return got


def _ack_rows(
    con: sqlite3.Connection,
    batch_id: str,
    rows: list[tuple[int, str, int, int, int, int]],
    accepted: set[str],
    rejected: Mapping[str, str],
    now: float,
) -> tuple[Acked, Depth]:
    """Any other ack (inside ``ack``'s transaction), row by row where it must."""
    to_done: list[int] = []  # fresh rows answered in flight: a ``done`` row each (see schema)
    to_delivered: list[int] = []
    to_rejected: list[tuple[object, ...]] = []
    to_pending: list[tuple[object, ...]] = []
    enqueue: list[tuple[int]] = []  # in flight -> pending
    dequeue: list[tuple[int]] = []  # pending (an expired batch acked late) -> finished
    delta: Depth = Counter()
    delta.subtract((lane, state) for _, _, lane, state, _, _ in rows)
    answered = 0
    for seq, id_, lane, state, revised, fresh in rows:
        if id_ in accepted:
            answered += 1
            if not revised:
                delta[(lane, DELIVERED)] += 1
                if state == INFLIGHT and fresh:
                    to_done.append(seq)
                else:
                    to_delivered.append(seq)
                    if state == PENDING:
                        dequeue.append((queue_key(lane, seq),))
                continue
        elif id_ in rejected:
            answered += 1
            if not revised:
                to_rejected.append((now, str(rejected[id_])[:1000], seq))
                delta[(lane, REJECTED)] += 1
                if state == PENDING:
                    dequeue.append((queue_key(lane, seq),))
                continue
        to_pending.append((now, seq))
        delta[(lane, PENDING)] += 1
        if state == INFLIGHT:
            enqueue.append((queue_key(lane, seq),))
    if to_done:
        # The bulk of an ack: the records rows (and their payload pages) are not written.
        b = con.execute(
            "INSERT INTO acks(batch_id, at, n) VALUES (?, ?, ?) RETURNING b",
            (batch_id, now, len(to_done)),
        ).fetchone()[0]
        con.execute(
            "INSERT INTO done(seq, b, at) SELECT value, ?, ? FROM json_each(?)",
            (b, now, _json_ints(to_done)),
        )
    # Other finished rows are written once, here.  Rows that were in flight count the claim's
    # attempt now.
    if to_delivered:
        con.execute(
            f"UPDATE records SET state = 2, batch_id = ?, lease_until = NULL, changed_at = ?, {_ATTEMPT} "
            f"WHERE seq IN {_JSON_SET}",
            (batch_id, now, _json_ints(to_delivered)),
        )
    con.executemany(
        f"UPDATE records SET state = 3, batch_id = ?, lease_until = NULL, changed_at = ?, reason = ?, "
        f"{_ATTEMPT} WHERE seq = ?",
        [(batch_id, *r) for r in to_rejected],
    )
    con.executemany(
        "UPDATE records SET state = 0, lease_until = NULL, batch_id = NULL, revised = 0, changed_at = ?, "
        f"{_ATTEMPT} WHERE seq = ?",
        to_pending,
    )
    con.executemany("INSERT INTO queue(k) VALUES (?)", enqueue)
    con.executemany("DELETE FROM queue WHERE k = ?", dequeue)
    con.execute(f"DELETE FROM flight WHERE seq IN {_JSON_SET}", (_json_ints(r[0] for r in rows),))
    con.execute("DELETE FROM leases WHERE batch_id = ?", (batch_id,))
    unknown = len(accepted) + len(rejected.keys() - accepted) - answered
    return Acked(len(to_done) + len(to_delivered), len(to_rejected), len(to_pending), unknown, False), delta


def _ack_whole_batch(
    con: sqlite3.Connection,
    batch_id: str,
    rows: list[tuple[int, str, int, int, int, int]],
    accepted: set[str],
    rejected: Mapping[str, str],
    now: float,
) -> tuple[Acked, Depth]:
    """The common ack (inside ``ack``'s transaction): a fresh batch, in flight, every row accepted,
    none revised.  Everything moves from ``flight`` to ``done`` in SQL, no list of numbers built."""
    b = con.execute(
        "INSERT INTO acks(batch_id, at, n) VALUES (?, ?, ?) RETURNING b", (batch_id, now, len(rows))
    ).fetchone()[0]
    con.execute(
        "INSERT INTO done(seq, b, at) SELECT f.seq, ?, ? FROM leases l JOIN flight f ON f.b = l.b "
        "WHERE l.batch_id = ?",
        (b, now, batch_id),
    )
    con.execute("DELETE FROM flight WHERE seq IN (SELECT seq FROM done WHERE b = ?)", (b,))
    con.execute("DELETE FROM leases WHERE batch_id = ?", (batch_id,))
    delta: Depth = Counter()
    for lane, n in Counter(r[2] for r in rows).items():
        delta[(lane, INFLIGHT)] -= n
        delta[(lane, DELIVERED)] += n
    unknown = len(accepted) - len(rows) + len(rejected.keys() - accepted)
    return Acked(len(rows), 0, 0, unknown, False), delta


# Terms that let SQLite use the partial ``batch`` index (it cannot infer them from ``state = 1``).
_IN_BATCH = "batch_id IS NOT NULL AND state <= 1"
# A records row whose record is not in flight (see ``flight`` in buffer/schema.py).
_NOT_FLYING = "seq NOT IN (SELECT seq FROM flight)"
# In an UPDATE of records: count the attempt of the claim when the row was in flight.
_ATTEMPT = "attempts = attempts + (seq IN (SELECT seq FROM flight))"


def _batch_rows(con: sqlite3.Connection, batch_id: str) -> list[tuple[int, str, int, int, int, int]]:
    """(seq, id, lane, state, revised, fresh) of every row of a batch: in flight (state 1), or waiting
    to be re-sent (pending with the batch id kept), or in flight the schema-2 way (state 1 in
    records).  ``fresh``: in flight and claimed fresh (no batch id kept in ``records``)."""
    kept = con.execute(
        f"SELECT seq, id, lane, state, revised, 0 FROM records WHERE batch_id = ? AND {_IN_BATCH}",
        (batch_id,),
    ).fetchall()
    flying = con.execute(
        "SELECT r.seq, r.id, r.lane, 1, r.revised, r.batch_id IS NULL FROM leases l "
        "JOIN flight f ON f.b = l.b CROSS JOIN records r ON r.seq = f.seq WHERE l.batch_id = ?",
        (batch_id,),
    ).fetchall()
    if not kept:
        return flying
    rows = {r[0]: r for r in kept}
    rows.update((r[0], r) for r in flying)
    return list(rows.values())


# Rows in flight the schema-2 way (state 1 in records) back to pending, keeping the batch id.
_BACK_TO_PENDING = (
    "UPDATE records SET state = 0, lease_until = NULL, revised = 0, "
    "batch_id = CASE WHEN revised THEN NULL ELSE batch_id END "
)
# Rows of one lease back to pending under its batch id (unless revised meanwhile): the claim's
# attempt is counted now.
_LEASE_TO_PENDING = (
    "UPDATE records SET state = 0, lease_until = NULL, revised = 0, attempts = attempts + 1, "
    "batch_id = CASE WHEN revised THEN NULL ELSE ? END WHERE seq IN (SELECT seq FROM flight WHERE b = ?) "
    "RETURNING lane, seq"
)


def _back(
    con: sqlite3.Connection,
    st: StoreState,
    leases_where: str,
    legacy_where: str,
    params: tuple[object, ...],
) -> int:
    """The leases ``leases_where`` selects (and schema-2 in-flight rows ``legacy_where`` selects) go
    back to pending, keeping their batch id, so the batch is re-sent whole under the same id."""
    with transaction(con):
        sync_external(con, st)
        lanes: list[tuple[int, int]] = []
        for b, batch_id in con.execute(f"SELECT b, batch_id FROM leases {leases_where}", params).fetchall():
            lanes += con.execute(_LEASE_TO_PENDING, (batch_id, b)).fetchall()
            con.execute("DELETE FROM flight WHERE b = ?", (b,))
            con.execute("DELETE FROM leases WHERE b = ?", (b,))
        lanes += con.execute(_BACK_TO_PENDING + legacy_where + " RETURNING lane, seq", params).fetchall()
        con.executemany("INSERT INTO queue(k) VALUES (?)", [(queue_key(lane, seq),) for lane, seq in lanes])
    delta: Depth = Counter()
    for lane, _ in lanes:
        delta[(int(lane), INFLIGHT)] -= 1
        delta[(int(lane), PENDING)] += 1
    _apply(st, delta)
    return len(lanes)


def release(con: sqlite3.Connection, st: StoreState, batch_id: str) -> int:
    """In-flight rows of the batch go back to pending and keep the batch id (re-sent as the same batch)."""
    return _back(
        con, st, "WHERE batch_id = ?", f"WHERE batch_id = ? AND {_IN_BATCH} AND state = 1", (batch_id,)
    )


def expire_leases(con: sqlite3.Connection, st: StoreState, now: float) -> int:
    return _back(
        con, st, "WHERE lease_until <= ?", f"WHERE {_IN_BATCH} AND state = 1 AND lease_until <= ?", (now,)
    )


def resume(con: sqlite3.Connection, st: StoreState) -> int:
    """On open: whatever was in flight when the last process stopped goes back to pending."""
    return _back(con, st, "", f"WHERE {_IN_BATCH} AND state = 1", ())


# ------------------------------------------------------------------------------------------ revise


def revise(
    con: sqlite3.Connection,
    st: StoreState,
    record_id: str,
    payload: bytes,
    key: str | None,
    set_key: bool,
    now: float,
) -> None:
    with transaction(con):
        sync_external(con, st)
        found, _, _ = lookup(con, [record_id])
        if record_id not in found:
            raise UnknownRecordError(record_id)
        row = con.execute(
            "SELECT seq, lane, state FROM rows_now WHERE seq = ?", (found[record_id],)
        ).fetchone()
        seq, lane, state = int(row[0]), int(row[1]), int(row[2])
        key_sql = ", key = ?" if set_key else ""
        key_param: tuple[object, ...] = (key,) if set_key else ()
        delta: Depth = Counter()
        if state == INFLIGHT:
            # Goes back to pending with the new payload when its batch is answered or expires.
            con.execute(
                f"UPDATE records SET payload = ?, revised = 1, revised_at = ?{key_sql} WHERE seq = ?",
                (payload, now, *key_param, seq),
            )
        else:
            con.execute(
                "UPDATE records SET payload = ?, state = 0, batch_id = NULL, lease_until = NULL, "
                f"reason = NULL, revised = 0, revised_at = ?, changed_at = ?{key_sql}, "
                "attempts = attempts + (seq IN (SELECT seq FROM done)) WHERE seq = ?",  # bank a done attempt
                (payload, now, now, *key_param, seq),
            )
            if state != PENDING:
                delta[(lane, state)] -= 1
                delta[(lane, PENDING)] += 1
                con.execute("INSERT INTO queue(k) VALUES (?)", (queue_key(lane, seq),))
                if state == DELIVERED:
                    _undone(con, [seq])
    _apply(st, delta)


def _undone(con: sqlite3.Connection, seqs: Iterable[int]) -> None:
    """Forget the ``done`` rows of these records (pending again, or deleted)."""
    gone = con.execute(
        f"DELETE FROM done WHERE seq IN {_JSON_SET} RETURNING b", (_json_ints(seqs),)
    ).fetchall()
    if gone:
        con.execute(
            f"DELETE FROM acks WHERE b IN {_JSON_SET} "
            "AND NOT EXISTS (SELECT 1 FROM done d WHERE d.b = acks.b)",
            (_json_ints({int(b) for (b,) in gone}),),
        )


def mark_delivered(
    con: sqlite3.Connection, st: StoreState, ids: Sequence[str], now: float, exported_at: float | None
) -> int:
    """Rows named by an import receipt become delivered, unless revised after the export."""
    delta: Depth = Counter()
    marked = 0
    with transaction(con):
        sync_external(con, st)
        found, _, _ = lookup(con, list(dict.fromkeys(ids)))
        seqs = sorted(found.values())
        for start in range(0, len(seqs), _CHUNK):
            part = seqs[start : start + _CHUNK]
            rows = con.execute(
                "SELECT seq, lane, state, revised, revised_at FROM rows_now "
                f"WHERE seq IN ({_marks(len(part))})",
                tuple(part),
            ).fetchall()
            updates = []
            dequeue = []
            for seq, lane, state, revised, revised_at in rows:
                if state == DELIVERED or revised:
                    continue
                if exported_at is not None and revised_at is not None and revised_at > exported_at:
                    continue
                updates.append((now, seq))
                delta[(lane, state)] -= 1
                delta[(lane, DELIVERED)] += 1
                if state == PENDING:
                    dequeue.append((queue_key(lane, seq),))
            con.executemany(
                "UPDATE records SET state = 2, lease_until = NULL, reason = NULL, changed_at = ?, "
                "batch_id = coalesce((SELECT l.batch_id FROM flight f JOIN leases l ON l.b = f.b "
                f"WHERE f.seq = records.seq), batch_id), {_ATTEMPT} WHERE seq = ?",
                updates,
            )
            con.executemany("DELETE FROM queue WHERE k = ?", dequeue)
            con.executemany("DELETE FROM flight WHERE seq = ?", [(seq,) for _, seq in updates])
            marked += len(updates)
        con.execute("DELETE FROM leases WHERE b NOT IN (SELECT b FROM flight)")
    _apply(st, delta)
    return marked


# ------------------------------------------------------------------------------------------- reads


def get(con: sqlite3.Connection, record_id: str) -> Stored | None:
    found, _, _ = lookup(con, [record_id])
    if record_id not in found:
        return None
    row = con.execute(f"SELECT {COLUMNS} FROM rows_now WHERE seq = ?", (found[record_id],)).fetchone()
    return None if row is None else to_stored(row)


def history(
    con: sqlite3.Connection,
    st: StoreState,
    key: str,
    since: float | None,
    limit: int,
    kinds: Sequence[str] | None,
    telemetry_scan_rows: int,
) -> list[Stored]:
    """A key's rows (not rejected), newest first.

    Alerts and clinical rows come through the ``by_key`` index; telemetry rows are not indexed by
    key (a heart-rate stream would cost an index page per commit), so they are looked for among
    the newest ``telemetry_scan_rows`` sequence numbers only.
    """
    if kinds is not None and not kinds:
        return []
    extra = ""
    params: list[object] = []
    if since is not None:
        extra += " AND created_at >= ?"
        params.append(since)
    if kinds is not None:
        extra += f" AND kind IN ({_marks(len(kinds))})"
        params.extend(kinds)
    indexed = con.execute(
        f"SELECT {COLUMNS} FROM rows_now WHERE key = ? AND lane <= 1 AND state != 3{extra} "
        "ORDER BY seq DESC LIMIT ?",
        (key, *params, limit),
    ).fetchall()
    floor = max(0, st.next_seq - 1 - telemetry_scan_rows)
    scanned = con.execute(
        f"SELECT {COLUMNS} FROM rows_now WHERE seq > ? AND key = ? AND lane = 2 AND state != 3{extra} "
        "ORDER BY seq DESC LIMIT ?",
        (floor, key, *params, limit),
    ).fetchall()
    rows = sorted(indexed + scanned, key=lambda r: -int(r[0]))[:limit]
    return [to_stored(r) for r in rows]


def unkeyed(con: sqlite3.Connection, stream: str | None, since: float | None, limit: int) -> list[Stored]:
    """Records without a key (readings attributed to nobody), every state but rejected, newest first."""
    sql = f"SELECT {COLUMNS} FROM rows_now WHERE key IS NULL AND state != 3"
    params: list[object] = []
    if stream is not None:
        sql += " AND stream = ?"
        params.append(stream)
    if since is not None:
        sql += " AND created_at >= ?"
        params.append(since)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(limit)
    return [to_stored(r) for r in con.execute(sql, params)]


def listing(
    con: sqlite3.Connection, state: int | None, stream: str | None, kind: str | None, limit: int
) -> list[Stored]:
    where: list[str] = []
    params: list[object] = []
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if stream is not None:
        where.append("stream = ?")
        params.append(stream)
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    sql = f"SELECT {COLUMNS} FROM rows_now"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if state == PENDING:
        sql += " ORDER BY lane, seq LIMIT ?"
    else:
        sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [to_stored(r) for r in con.execute(sql, params)]


def undelivered_page(
    con: sqlite3.Connection, after_seq: int, since: float | None, limit: int
) -> list[Stored]:
    """Pending and in-flight rows in sequence order after ``after_seq`` (keyset pagination)."""
    sql = f"SELECT {COLUMNS} FROM rows_now WHERE seq > ? AND state <= 1"
    params: list[object] = [after_seq]
    if since is not None:
        sql += " AND created_at >= ?"
        params.append(since)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [to_stored(r) for r in con.execute(sql, params)]


def inflight_batches(con: sqlite3.Connection) -> list[tuple[str, str, int, int, float | None]]:
    """(batch_id, stream, rows, state, lease_until) of batches in flight or waiting to be re-sent."""
    flying = con.execute(
        "SELECT l.batch_id, min(r.stream), count(*), 1, l.lease_until, min(r.seq) FROM leases l "
        "JOIN flight f ON f.b = l.b CROSS JOIN records r ON r.seq = f.seq GROUP BY l.b"
    ).fetchall()
    waiting = con.execute(
        "SELECT batch_id, min(stream), count(*), max(state), max(lease_until), min(seq) FROM records "
        f"WHERE {_IN_BATCH} AND {_NOT_FLYING} GROUP BY batch_id"
    ).fetchall()
    return [
        (str(b), str(s), int(n), int(state), None if lease is None else float(lease))
        for b, s, n, state, lease, _ in sorted(flying + waiting, key=lambda r: int(r[5]))
    ]


# ------------------------------------------------------------------------------------- maintenance


@dataclass(frozen=True, slots=True)
class Room:
    """Room a put must leave for claims, acks and maintenance (they write a little too: leases,
    ``flight``, ``done`` rows), so that a full disk stops the intake, not the uplink.

    The room is the free pages inside the file plus the pages the file can still grow by: up to
    ``max_page_count`` (SQLite's ceiling) and within ``disk_free_bytes`` (the file system's).
    """

    keep_bytes: int
    disk_free_bytes: int | None  # None: unknown (only the page ceiling counts)

    def check(self, con: sqlite3.Connection) -> None:
        page_size = int(con.execute("PRAGMA page_size").fetchone()[0])
        pages = int(con.execute("PRAGMA page_count").fetchone()[0])
        free = int(con.execute("PRAGMA freelist_count").fetchone()[0])
        grow = int(con.execute("PRAGMA max_page_count").fetchone()[0]) - pages
        if self.disk_free_bytes is not None:
            grow = min(grow, self.disk_free_bytes // page_size)
        room = (free + max(0, grow)) * page_size
        if room < self.keep_bytes:
            raise DiskFullError(
                f"the disk holding the outbox is full: {room} bytes of room left, {self.keep_bytes} are "
                "kept for delivering what is stored; nothing new is stored until space is freed"
            )


def used_bytes(con: sqlite3.Connection) -> int:
    page_size = int(con.execute("PRAGMA page_size").fetchone()[0])
    pages = int(con.execute("PRAGMA page_count").fetchone()[0])
    free = int(con.execute("PRAGMA freelist_count").fetchone()[0])
    return (pages - free) * page_size


@dataclass(frozen=True, slots=True)
class Deleted:
    rows: int
    by_kind: dict[str, int]
    used_bytes: int


def _delete(
    con: sqlite3.Connection, st: StoreState, select_seqs: str, params: tuple[object, ...], counter: str | None
) -> Deleted:
    """Delete the rows whose seq ``select_seqs`` returns, in one transaction; count them per kind."""
    delta: Depth = Counter()
    by_kind: Counter[str] = Counter()
    with transaction(con):
        sync_external(con, st)
        _save_hwm(con, st)
        gone = con.execute(
            f"DELETE FROM records WHERE seq IN ({select_seqs}) RETURNING lane, state, kind, seq, id", params
        ).fetchall()
        delivered = {
            int(seq)
            for (seq,) in con.execute(
                f"SELECT seq FROM done WHERE seq IN {_JSON_SET}", (_json_ints(g[3] for g in gone),)
            )
        }
        if delivered:
            _undone(con, delivered)
        dequeue: list[tuple[int]] = []
        for lane, state, kind, seq, _ in gone:
            if seq in delivered:
                state = DELIVERED
            delta[(int(lane), int(state))] -= 1
            by_kind[str(kind)] += 1
            if state == PENDING:
                dequeue.append((queue_key(lane, seq),))
        con.executemany("DELETE FROM queue WHERE k = ?", dequeue)
        con.execute(f"DELETE FROM flight WHERE seq IN {_JSON_SET}", (_json_ints(g[3] for g in gone),))
        con.executemany("DELETE FROM ids WHERE h = ? AND seq = ?", [(id_key(i), seq) for *_, seq, i in gone])
        more_after = st.more_rows
        if st.more_rows != 0:
            con.executemany(
                "DELETE FROM ids_more WHERE id = ? AND seq = ?", [(i, seq) for *_, seq, i in gone]
            )
            more_after = _count_more(con)
        if counter == "pruned":
            _bump(con, "pruned", {"": len(gone)})
        elif counter is not None:
            _bump(con, counter, by_kind)
    st.more_rows = more_after  # only once committed: a count too low would skip a look-up
    _apply(st, delta)
    return Deleted(len(gone), dict(by_kind), used_bytes(con))


def prune_finished(con: sqlite3.Connection, st: StoreState, before: float, limit: int) -> Deleted:
    """Delivered and rejected rows finished before ``before``, oldest first (per kind of storage:
    rows finished in ``records``, then rows delivered through ``done``, in ack order)."""
    first = _delete(
        con,
        st,
        "SELECT seq FROM records WHERE state >= 2 AND changed_at < ? ORDER BY changed_at LIMIT ?",
        (before, limit),
        "pruned",
    )
    if first.rows >= limit:
        return first
    second = _delete(
        con,
        st,
        "SELECT d.seq FROM acks a JOIN done d ON d.b = a.b WHERE a.at < ? ORDER BY a.b LIMIT ?",
        (before, limit - first.rows),
        "pruned",
    )
    return _sum(first, second)


def prune_oldest_finished(con: sqlite3.Connection, st: StoreState, limit: int) -> Deleted:
    """The oldest finished rows, whichever storage holds the oldest (for the quota)."""
    in_records = con.execute("SELECT min(changed_at) FROM records WHERE state >= 2").fetchone()[0]
    in_done = con.execute("SELECT at FROM acks ORDER BY b LIMIT 1").fetchone()
    selects = [
        "SELECT seq FROM records WHERE state >= 2 ORDER BY changed_at LIMIT ?",
        "SELECT d.seq FROM acks a JOIN done d ON d.b = a.b ORDER BY a.b LIMIT ?",
    ]
    if in_done is not None and (in_records is None or float(in_done[0]) <= float(in_records)):
        selects.reverse()
    first = _delete(con, st, selects[0], (limit,), "pruned")
    if first.rows >= limit:
        return first
    return _sum(first, _delete(con, st, selects[1], (limit - first.rows,), "pruned"))


def _sum(a: Deleted, b: Deleted) -> Deleted:
    by_kind = Counter(a.by_kind)
    by_kind.update(b.by_kind)
    return Deleted(a.rows + b.rows, dict(by_kind), b.used_bytes)


def expire_ttl(con: sqlite3.Connection, st: StoreState, kind: str, before: float, limit: int) -> Deleted:
    """Pending rows of ``kind`` created before ``before`` (in-flight rows are left to their ack)."""
    return _delete(
        con,
        st,
        f"SELECT r.seq FROM {_QUEUE} WHERE r.kind = ? AND r.created_at < ? ORDER BY q.k LIMIT ?",
        (kind, before, limit),
        "ttl_expired",
    )


def drop_oldest_telemetry(con: sqlite3.Connection, st: StoreState, limit: int) -> Deleted:
    return _delete(
        con,
        st,
        f"SELECT k & {SEQ_MASK} FROM queue WHERE k >= ? ORDER BY k LIMIT ?",
        (queue_key(Lane.TELEMETRY, 0), limit),
        "dropped",
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    depth: dict[tuple[int, int], int]
    oldest_pending_created: float | None
    used_bytes: int
    seq_high: int
    counters: dict[tuple[str, str], int]


def snapshot(con: sqlite3.Connection, st: StoreState) -> Snapshot:
    sync_external(con, st)
    if st.depth_stale:
        recount(con, st)
    oldest: float | None = None
    for lane in Lane:
        row = con.execute(
            f"SELECT r.created_at FROM {_QUEUE} WHERE q.k >= ? AND q.k < ? ORDER BY q.k LIMIT 1",
            (queue_key(lane, 0), queue_key(lane + 1, 0)),
        ).fetchone()
        if row is not None:
            oldest = float(row[0]) if oldest is None else min(oldest, float(row[0]))
    counters = {(str(n), str(k)): int(v) for n, k, v in con.execute("SELECT name, kind, value FROM counters")}
    return Snapshot(
        {k: v for k, v in st.depth.items() if v}, oldest, used_bytes(con), st.next_seq - 1, counters
    )
