"""The shared drainer (uplink/drainer.py) behind a fake sender, on a real outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from buffer.outbox import Outbox
from uplink.backoff import Backoff
from uplink.drainer import Batch, ClaimLike, Drainer, Encoded, UplinkState

from .conftest import undelivered, wait_until
from .helpers import alert_record, reading_record


class FakeSender:
    """Takes readings only; ``answer`` decides what happens to each batch handed over."""

    def __init__(self, answer: Callable[[Batch], object] | None = None, bad: frozenset[str] = frozenset()):
        self.handed: list[Batch] = []
        self.answer = answer
        self.bad = bad
        self.drainer: Drainer | None = None

    def refuses(self, stream: str) -> str | None:
        return None if stream == "readings" else f"no mapping for {stream}"

    async def encode(self, claim: ClaimLike) -> Encoded:
        ids = tuple(i.id for i in claim.items if i.id not in self.bad)
        return Encoded(ids, {i: "cannot encode" for i in self.bad if i in {x.id for x in claim.items}}, b"")

    async def hand_over(self, batch: Batch) -> float | None:
        batch.attempts += 1
        assert self.drainer is not None
        self.drainer.sent(batch)
        self.handed.append(batch)
        if self.answer is not None:
            self.answer(batch)
            return None
        await self.drainer.settle(batch.batch_id, batch.ids, {})
        return None


def drainer_for(outbox: Outbox, sender: FakeSender, **kw: float) -> Drainer:
    d = Drainer(
        outbox,
        UplinkState(),
        who="test uplink",
        log=logging.getLogger("hutgw.test.drainer"),
        clock=lambda: datetime.now(UTC),
        batch_max_count=int(kw.pop("batch_max_count", 100)),
        batch_max_bytes=256_000,
        lease_s=kw.pop("lease_s", 30.0),
        io_timeout_s=5.0,
        poll_interval_s=0.05,
        window=int(kw.pop("window", 1)),
    )
    sender.drainer = d
    return d


@asynccontextmanager
async def running(d: Drainer, sender: FakeSender, *, backoff: Backoff | None = None) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(d.run(sender, outbox_backoff=backoff)),
        asyncio.create_task(d.expire_leases_forever()),
    ]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_batches_are_handed_over_settled_and_counted(outbox: Outbox) -> None:
    for i in range(5):
        await outbox.put(reading_record(i))
    sender = FakeSender()
    d = drainer_for(outbox, sender)
    async with running(d, sender):
        await wait_until(lambda: d.state.acked == 5, what="acked")
    assert d.state.published == 5 and d.state.resent == 0 and d.state.rejected == 0
    assert d.state.last_ack_at is not None and not d.inflight


async def test_what_cannot_go_is_set_aside_as_rejected(outbox: Outbox) -> None:
    await outbox.put(alert_record())  # a stream the sender refuses
    good, bad = reading_record(1), reading_record(2)
    await outbox.put_many([good, bad])
    sender = FakeSender(bad=frozenset({bad.id}))
    d = drainer_for(outbox, sender)
    async with running(d, sender):
        await wait_until(lambda: d.state.acked == 1 and d.state.rejected == 2, what="settled")
    assert [b.ids for b in sender.handed] == [(good.id,)]
    assert await undelivered(outbox) == 0


async def test_a_batch_given_back_goes_again_under_its_id_and_counts_as_resent(outbox: Outbox) -> None:
    await outbox.put_many([reading_record(i) for i in range(3)])
    sender = FakeSender()

    def first_time_back(batch: Batch) -> None:
        assert sender.drainer is not None
        if batch.attempts == 1:
            asyncio.get_running_loop().create_task(sender.drainer.release(batch.batch_id))
        else:
            asyncio.get_running_loop().create_task(sender.drainer.settle(batch.batch_id, batch.ids, {}))

    sender.answer = first_time_back
    d = drainer_for(outbox, sender)
    async with running(d, sender):
        await wait_until(lambda: d.state.acked == 3, what="acked on the second attempt")
    assert [b.batch_id for b in sender.handed] == [sender.handed[0].batch_id] * 2
    assert [b.attempts for b in sender.handed] == [1, 2]
    assert d.state.published == 3 and d.state.resent == 3


async def test_no_more_than_the_window_is_in_flight(outbox: Outbox) -> None:
    await outbox.put_many([reading_record(i) for i in range(5)])
    sender = FakeSender(answer=lambda batch: None)  # no answer: they stay in flight
    d = drainer_for(outbox, sender, window=2, batch_max_count=1)
    async with running(d, sender):
        await wait_until(lambda: len(sender.handed) == 2, what="two batches in flight")
        await asyncio.sleep(0.3)
        assert len(sender.handed) == 2 and len(d.inflight) == 2
        first = sender.handed[0]
        await d.settle(first.batch_id, first.ids, {})
        await wait_until(lambda: len(sender.handed) == 3, what="a third batch once one is settled")


async def test_a_failed_hand_over_backs_off_and_the_lease_brings_the_batch_back(outbox: Outbox) -> None:
    await outbox.put_many([reading_record(i) for i in range(2)])
    sender = FakeSender()

    def fail_once(batch: Batch) -> None:
        assert sender.drainer is not None
        if batch.attempts == 1:
            raise RuntimeError("the outbox is ill")
        asyncio.get_running_loop().create_task(sender.drainer.settle(batch.batch_id, batch.ids, {}))

    sender.answer = fail_once
    d = drainer_for(outbox, sender, lease_s=0.3)
    async with running(d, sender, backoff=Backoff(0.05, 0.1, 0.0)):
        await wait_until(lambda: d.state.acked == 2, what="acked after the lease expired")
    assert [b.attempts for b in sender.handed] == [1, 2]
    assert sender.handed[0].batch_id == sender.handed[1].batch_id
    assert d.state.resent == 2 and d.state.last_error == "RuntimeError: the outbox is ill"


async def test_counts_what_the_outbox_settled_not_what_an_ack_lists(outbox: Outbox) -> None:
    # The county acks a re-sent batch again (it stored it once, the gateway needs the ack), or
    # lists ids that are not in the batch: neither is a delivery.
    for i in range(3):
        await outbox.put(reading_record(i))
    sender = FakeSender()
    d = drainer_for(outbox, sender)
    async with running(d, sender):
        await wait_until(lambda: d.state.acked == 3, what="acked")
    [batch] = sender.handed
    await d.settle(batch.batch_id, batch.ids, {})  # the same ack again
    await d.settle(batch.batch_id, ("not-in-this-batch",), {"nor-this": "schema: id"})
    assert (d.state.acked, d.state.rejected) == (3, 0)
    assert await undelivered(outbox) == 0
