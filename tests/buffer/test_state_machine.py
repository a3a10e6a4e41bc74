"""Property test: random put/claim/ack/release/expire/revise/restart sequences against a model.

No record is ever lost or duplicated, every row is in the state the contract says, and the depth
counters always match the rows.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from buffer import Claim, Lane, Outbox, OutboxSettings, Record, State
from buffer.schema import id_key, queue_key
from tests.buffer.conftest import ManualClock

RETENTION = 30.0
TTL = 20.0


@dataclass
class Row:
    lane: Lane
    seq: int
    state: State
    payload: bytes
    batch: str | None = None
    revised: bool = False
    kind: str = "bp"
    created: float = 0.0
    changed: float = 0.0
    lease_until: float = 0.0


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="outbox-sm-"))
        self.clock = ManualClock()
        self.settings = OutboxSettings(
            maintain_interval_s=None, retention_s=RETENTION, ttl_s_by_kind={"hr": TTL}
        )
        self.ob: Outbox | None = None
        self.rows: dict[str, Row] = {}
        self.claims: list[Claim] = []
        self.n = 0
        self.seq_high = 0

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    @initialize()
    def open(self) -> None:
        self.ob = Outbox(self.dir / "outbox.db", settings=self.settings, clock=self.clock)
        self.run(self.ob.__aenter__())

    def teardown(self) -> None:
        if self.ob is not None:
            self.run(self.ob.__aexit__(None, None, None))
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def outbox(self) -> Outbox:
        assert self.ob is not None
        return self.ob

    @rule(
        lanes=st.lists(st.sampled_from(list(Lane)), min_size=1, max_size=6),
        stream=st.sampled_from(["a", "b"]),
        kind=st.sampled_from(["bp", "hr"]),
    )
    def put(self, lanes: list[Lane], stream: str, kind: str) -> None:
        records = []
        for lane in lanes:
            self.n += 1
            # Ids share their first 8 bytes three ways: most of them collide on the ids key.
            rid = str(uuid.UUID(int=((self.n % 3) << 64) | self.n))
            records.append(Record(rid, stream, lane, kind, f"p{self.n}".encode(), "res"))

        async def puts() -> list[int]:
            return list(await asyncio.gather(*(self.outbox.put(r) for r in records)))

        seqs = self.run(puts())
        for r, seq in zip(records, seqs, strict=True):
            assert seq > self.seq_high  # never reused, even after rows were pruned
            self.seq_high = seq
            now = self.clock.now
            self.rows[r.id] = Row(r.lane, seq, State.PENDING, r.payload, kind=kind, created=now, changed=now)

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def put_duplicate(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.rows)))
        seq = self.run(self.outbox.put(Record(rid, "a", Lane.ALERTS, "k", b"dup", None)))
        assert seq == self.rows[rid].seq

    @rule(max_count=st.integers(1, 8), stream=st.sampled_from([None, "a", "b"]))
    def claim(self, max_count: int, stream: str | None) -> None:
        c = self.run(self.outbox.claim(stream=stream, max_count=max_count, lease_s=10))
        pending = [i for i, r in self.rows.items() if r.state is State.PENDING]
        if c is None:
            assert not [i for i in pending if stream is None or i in self._stream_ids(stream)]
            return
        assert 1 <= len(c.items) <= max_count
        for item in c.items:
            row = self.rows[item.id]
            assert row.state is State.PENDING, (item.id, row)
            assert item.payload == row.payload and item.seq == row.seq
            if c.resent:
                assert row.batch == c.batch_id
            else:
                assert row.batch is None
            row.state, row.batch, row.lease_until = State.INFLIGHT, c.batch_id, self.clock.now + 10
        if c.resent:  # a re-sent batch cut shorter than before frees the rest of its rows
            taken = set(c.ids)
            for i, row in self.rows.items():
                if row.batch == c.batch_id and row.state is State.PENDING and i not in taken:
                    row.batch = None
        self.claims.append(c)

    def _stream_ids(self, stream: str) -> set[str]:
        return {s.id for s in self.run(self.outbox.list(stream=stream, limit=10**6))}

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        c = data.draw(st.sampled_from(self.claims))
        accepted = set(data.draw(st.lists(st.sampled_from(c.ids), unique=True)))
        rejected = {
            i: "no" for i in data.draw(st.lists(st.sampled_from(c.ids), unique=True)) if i not in accepted
        }
        res = self.run(self.outbox.ack(c.batch_id, accepted, rejected))
        members = [
            i
            for i, r in self.rows.items()
            if r.batch == c.batch_id and r.state in (State.PENDING, State.INFLIGHT)
        ]
        assert res.stale == (not members)
        for i in members:
            row = self.rows[i]
            row.changed = self.clock.now
            if row.revised:
                row.state, row.batch = State.PENDING, None
            elif i in accepted:
                row.state = State.DELIVERED
            elif i in rejected:
                row.state = State.REJECTED
            else:
                row.state, row.batch = State.PENDING, None
            row.revised = False

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        c = data.draw(st.sampled_from(self.claims))
        n = self.run(self.outbox.release(c.batch_id))
        back = [r for r in self.rows.values() if r.batch == c.batch_id and r.state is State.INFLIGHT]
        assert n == len(back)
        for row in back:
            self._back_to_pending(row)

    def _back_to_pending(self, row: Row) -> None:
        row.state = State.PENDING
        if row.revised:
            row.batch = None
        row.revised = False

    @rule(seconds=st.sampled_from([1.0, 5.0, 11.0, 40.0]))
    def expire(self, seconds: float) -> None:
        self.clock.advance(seconds)
        n = self.run(self.outbox.expire_leases())
        assert n == self._expire_model()

    def _expire_model(self) -> int:
        back = [
            r for r in self.rows.values() if r.state is State.INFLIGHT and r.lease_until <= self.clock.now
        ]
        for row in back:
            self._back_to_pending(row)
        return len(back)

    @rule()
    def maintain(self) -> None:
        res = self.run(self.outbox.maintain())
        now = self.clock.now
        assert res.lease_expired == self._expire_model()
        pruned = [
            i
            for i, r in self.rows.items()
            if r.state in (State.DELIVERED, State.REJECTED) and r.changed < now - RETENTION
        ]
        expired = [
            i
            for i, r in self.rows.items()
            if r.state is State.PENDING and r.kind == "hr" and r.created < now - TTL
        ]
        assert res.pruned == len(pruned)
        assert dict(res.ttl_expired) == ({"hr": len(expired)} if expired else {})
        assert res.dropped == {} and not res.overflow
        event(f"maintain pruned={bool(pruned)} expired={bool(expired)} leases={res.lease_expired > 0}")
        for i in pruned + expired:
            del self.rows[i]

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def receipt(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.rows)), unique=True, max_size=5))
        n = self.run(self.outbox.mark_delivered(ids))
        marked = [i for i in ids if self.rows[i].state is not State.DELIVERED and not self.rows[i].revised]
        assert n == len(marked)
        for i in marked:
            self.rows[i].state, self.rows[i].changed = State.DELIVERED, self.clock.now

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def revise(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.rows)))
        self.n += 1
        payload = f"rev{self.n}".encode()
        self.run(self.outbox.revise(rid, payload))
        row = self.rows[rid]
        row.payload = payload
        row.changed = self.clock.now
        if row.state is State.INFLIGHT:
            row.revised = True
        else:
            row.state, row.batch, row.revised = State.PENDING, None, False

    @rule()
    def restart(self) -> None:
        self.run(self.outbox.__aexit__(None, None, None))
        self.ob = Outbox(self.dir / "outbox.db", settings=self.settings, clock=self.clock)
        self.run(self.ob.__aenter__())
        for row in self.rows.values():
            if row.state is State.INFLIGHT:
                self._back_to_pending(row)

    @invariant()
    def derived_tables_agree(self) -> None:
        if self.ob is None:
            return
        con = sqlite3.connect(self.dir / "outbox.db")
        try:
            queue = {k for (k,) in con.execute("SELECT k FROM queue")}
            assert queue == {queue_key(r.lane, r.seq) for r in self.rows.values() if r.state is State.PENDING}
            ids = dict(con.execute("SELECT h, seq FROM ids"))
            more = dict(con.execute("SELECT id, seq FROM ids_more"))
            assert len(ids) + len(more) == len(self.rows)
            for rid, row in self.rows.items():
                assert ids.get(id_key(rid)) == row.seq or more.get(rid) == row.seq, rid
        finally:
            con.close()

    @invariant()
    def matches_the_model(self) -> None:
        if self.ob is None:
            return
        stored = {s.id: s for s in self.run(self.outbox.list(limit=10**6))}
        assert stored.keys() == self.rows.keys()  # nothing lost, nothing extra
        for i, row in self.rows.items():
            s = stored[i]
            assert (s.state, s.payload, s.seq, s.lane) == (row.state, row.payload, row.seq, row.lane), (
                i,
                s,
                row,
            )
            if row.state in (State.PENDING, State.INFLIGHT):
                assert s.batch_id == row.batch
        stats = self.run(self.outbox.stats())
        for lane in Lane:
            for state in State:
                want = sum(1 for r in self.rows.values() if r.lane == lane and r.state == state)
                assert stats.depth[lane.name.lower()][state.value] == want


OutboxMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestOutboxStateMachine = OutboxMachine.TestCase
