"""The one drainer behind both uplinks: the outbox's batches handed to a :class:`Sender`.

:class:`Drainer` does what the MQTT uplink (:mod:`uplink.client`) and the FHIR-over-HTTP uplink
(:mod:`uplink.fhir.http`) have in common: claim a batch from the outbox under a lease, set aside
what cannot go (a stream the sender has no mapping for, records it cannot encode), keep every
batch handed to the sender in memory until it is settled (the attempts of a batch the outbox
offers again under the same id are carried over, so a resend counts as one), settle it on the
county's answer (accepted / rejected records into the outbox, counters, the log) or give it back
to the outbox to go again, expire leases of batches whose answer never came, and wait for work
(``wake()`` or the poll interval) when the outbox is empty.

A sender is narrow: which streams it takes, how a claimed batch is encoded, and how an encoded
batch is handed over. Its answer comes back by :meth:`Drainer.settle` or :meth:`Drainer.release`,
from inside ``hand_over`` (HTTP: the response) or later (MQTT: the county's ack, the PUBACK).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from buffer.results import AckResult
from uplink.backoff import Backoff
from uplink.errors import UplinkError

__all__ = [
    "Batch",
    "ClaimLike",
    "Drainer",
    "Encoded",
    "OutboxPort",
    "Sender",
    "UplinkState",
]


class ClaimLike(Protocol):
    @property
    def batch_id(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def items(self) -> Sequence[Any]: ...


class OutboxPort(Protocol):
    """What the uplinks use of ``buffer.outbox.Outbox``: part of its queue (``buffer.ports.Queue``)."""

    async def claim(
        self,
        *,
        stream: str | None = None,
        max_count: int = 500,
        max_bytes: int = 256_000,
        lease_s: float = 30.0,
    ) -> Any: ...

    async def ack(
        self, batch_id: str, accepted: Iterable[str], rejected: Mapping[str, str] = ...
    ) -> AckResult: ...

    async def release(self, batch_id: str) -> int: ...

    async def expire_leases(self) -> int: ...

    async def stats(self) -> Any: ...


@dataclass(slots=True)
class UplinkState:
    """A snapshot of the uplink, for the local API and the status heartbeat."""

    connected: bool = False
    since: datetime | None = None
    last_ack_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    auth_failed: bool = False
    inflight_batches: int = 0
    published: int = 0  # records published (first sends)
    resent: int = 0  # records sent again (ack timeout, reconnect)
    acked: int = 0  # records the county (or broker) accepted
    rejected: int = 0  # records the county rejected (kept aside in the outbox)
    commands: int = 0  # commands received (run or refused)
    acks_refused: int = 0  # acks that changed nothing: unsigned, badly signed, malformed, not ours


@dataclass(frozen=True, slots=True)
class Encoded:
    """A claimed batch as the sender will send it."""

    ids: tuple[str, ...]  # the records that go
    bad: dict[str, str]  # records that cannot go: id -> reason (set aside as rejected)
    payload: Any  # bytes for MQTT, the Bundle for HTTP


@dataclass(slots=True)
class Batch:
    """A batch handed to the sender and not settled yet."""

    batch_id: str
    stream: str
    ids: tuple[str, ...]
    bad: dict[str, str]
    payload: Any
    sent_at: float = 0.0  # loop time of the last send; 0 = not sent (on this connection)
    attempts: int = 0
    sending: bool = False
    handed: bool = False  # the transport confirmed it has the batch (MQTT: PUBACK)


class Sender(Protocol):
    """A transport behind the drainer (MQTT: ``uplink.client``; FHIR over HTTP: ``uplink.fhir.http``)."""

    def refuses(self, stream: str) -> str | None:
        """Why this stream cannot go at all (its records are set aside), or None."""
        ...

    async def encode(self, claim: ClaimLike) -> Encoded:
        """The claimed batch as it will be sent."""
        ...

    async def hand_over(self, batch: Batch) -> float | None:
        """Send the batch, or start sending it; the answer comes back by :meth:`Drainer.settle`
        or :meth:`Drainer.release`. Returns how long to wait before the next claim, or None."""
        ...


class Drainer:
    """Claims, tracks and settles batches for one uplink (see the module docstring)."""

    def __init__(
        self,
        outbox: OutboxPort,
        state: UplinkState,
        *,
        who: str,
        log: logging.Logger,
        clock: Callable[[], datetime],
        batch_max_count: int,
        batch_max_bytes: int,
        lease_s: float,
        io_timeout_s: float,
        poll_interval_s: float,
        window: int = 1,
    ) -> None:
        self.outbox = outbox
        self.state = state
        self.inflight: dict[str, Batch] = {}
        self._who = who
        self._log = log
        self._clock = clock
        self._max_count = batch_max_count
        self._max_bytes = batch_max_bytes
        self.lease_s = lease_s
        self._io_timeout_s = io_timeout_s
        self._poll_s = poll_interval_s
        self._window = window
        self._given_back: dict[str, int] = {}  # batch id -> attempts, for batches given back
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()

    def wake(self) -> None:
        """New records were put: drain now instead of waiting for the poll interval."""
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------

    async def run(self, sender: Sender, *, outbox_backoff: Backoff | None = None) -> None:
        """Claim batches while fewer than ``window`` are in flight and hand them to ``sender``.

        Without ``outbox_backoff`` an outbox error (or the sender's) ends the loop; with it, it
        is logged and the loop carries on after a backoff delay (the batch's lease expires).
        """
        while True:
            if len(self.inflight) >= self._window:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            self._wake.clear()
            try:
                claim = await self.claim()
            except Exception as e:  # the outbox logs its own errors
                if outbox_backoff is None:
                    raise
                self._log.warning("%s: claiming a batch failed: %s", self._who, e)
                await asyncio.sleep(outbox_backoff.next_delay())
                continue
            if claim is None:
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        await self._wake.wait()
                continue
            batch: Batch | None = None
            try:
                batch = await self.prepare(claim, sender)
                delay = None if batch is None else await sender.hand_over(batch)
            except Exception as e:  # an outbox failure: the lease expires and the batch goes again
                if outbox_backoff is None:
                    raise
                if batch is not None:
                    self._forget(batch.batch_id)
                self.state.last_error = f"{type(e).__name__}: {e}"
                self._log.error("%s: batch %s: %s", self._who, claim.batch_id, self.state.last_error)
                delay = outbox_backoff.next_delay()
            if delay is not None:
                await asyncio.sleep(delay)

    # -- the steps -----------------------------------------------------------------------

    @asynccontextmanager
    async def outbox_deadline(self, doing: str) -> AsyncIterator[None]:
        """A timeout on an outbox call that says it was the outbox, not the network."""
        try:
            async with asyncio.timeout(self._io_timeout_s):
                yield
        except TimeoutError:
            raise UplinkError(
                f"the outbox did not answer within {self._io_timeout_s:.0f} s while {doing}",
                hint="the SD card may be failing or full: check `df -h` and the system log",
            ) from None

    async def claim(self) -> ClaimLike | None:
        async with self.outbox_deadline("claiming a batch"):
            claim: ClaimLike | None = await self.outbox.claim(
                max_count=self._max_count, max_bytes=self._max_bytes, lease_s=self.lease_s
            )
        return claim

    async def prepare(self, claim: ClaimLike, sender: Sender) -> Batch | None:
        """Encode a claimed batch and track it; None when nothing of it can go (set aside)."""
        reason = sender.refuses(claim.stream)
        if reason is not None:
            self._log.error("%s: batch %s: %s", self._who, claim.batch_id, reason)
            await self._set_aside(claim.batch_id, {i.id: reason for i in claim.items})
            return None
        enc = await sender.encode(claim)
        if enc.bad:
            self._log.error(
                "%s: %d record(s) of batch %s cannot be sent (unreadable or not encodable); "
                "kept aside as rejected",
                self._who,
                len(enc.bad),
                claim.batch_id,
            )
        if not enc.ids:
            await self._set_aside(claim.batch_id, enc.bad)
            return None
        old = self.inflight.get(claim.batch_id)
        batch = Batch(claim.batch_id, claim.stream, enc.ids, enc.bad, enc.payload)
        if old is not None:  # the lease expired and the outbox offered the same batch again
            batch.attempts = old.attempts
        else:
            batch.attempts = self._given_back.pop(claim.batch_id, 0)
        self.inflight[claim.batch_id] = batch
        return batch

    def sent(self, batch: Batch) -> None:
        """Count a send of ``batch`` (after ``batch.attempts += 1``): published or resent."""
        if batch.attempts <= 1:
            self.state.published += len(batch.ids)
        else:
            self.state.resent += len(batch.ids)
            self._log.info("%s: batch %s sent again (attempt %d)", self._who, batch.batch_id, batch.attempts)

    async def settle(self, batch_id: str, accepted: Sequence[str], rejected: Mapping[str, str]) -> None:
        """The county's answer: accepted records delivered, rejected ones kept aside."""
        # The batch leaves the window as soon as its answer is here, so the next claim can queue
        # behind this ack in the outbox's thread. Should recording the ack fail, the rows stay in
        # flight in the outbox and come back (same batch id) when their lease runs out.
        entry = self.inflight.pop(batch_id, None)
        self._given_back.pop(batch_id, None)
        if entry is not None:
            rejected = {**entry.bad, **rejected}
        self._slot_free.set()
        async with self.outbox_deadline("recording an ack"):
            got = await self.outbox.ack(batch_id, accepted, rejected)
        # Counted from what the outbox settled, not from the ack's lists: a second ack for a batch
        # already answered (the county acks a re-sent duplicate again), ids not in the batch and
        # rows revised while in flight (they go again) deliver nothing.
        self.state.acked += got.delivered
        self.state.rejected += got.rejected
        self.state.last_ack_at = self._clock()
        if got.rejected:
            self._log.warning(
                "%s: the county rejected %d record(s) of batch %s; kept aside "
                "(`hutgw buffer list --state rejected`)",
                self._who,
                got.rejected,
                batch_id,
            )

    async def release(self, batch_id: str) -> None:
        """Give the batch back to the outbox to go again (same id) after a failed send."""
        self._forget(batch_id)
        try:
            async with asyncio.timeout(self._io_timeout_s):
                await self.outbox.release(batch_id)
        except Exception as e:  # its lease will expire instead; the batch keeps its id either way
            self._log.warning("%s: releasing batch %s failed: %s", self._who, batch_id, e)

    async def expire_leases_forever(self) -> None:
        """Give batches whose answer never came back to pending, every half lease."""
        while True:
            await asyncio.sleep(self.lease_s / 2)
            try:
                async with asyncio.timeout(self._io_timeout_s):
                    await self.outbox.expire_leases()
            except Exception as e:  # the outbox logs its own errors; keep trying
                self._log.warning("%s: expiring outbox leases failed: %s", self._who, e)

    def _forget(self, batch_id: str) -> None:
        """Out of the window; its attempts are remembered for when the outbox offers it again."""
        entry = self.inflight.pop(batch_id, None)
        if entry is not None:
            self._given_back[batch_id] = entry.attempts
        self._slot_free.set()

    async def _set_aside(self, batch_id: str, reasons: Mapping[str, str]) -> None:
        async with self.outbox_deadline("setting records aside"):
            await self.outbox.ack(batch_id, [], reasons)
        self.state.rejected += len(reasons)
