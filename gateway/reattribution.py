"""Editing a stored reading: one service for late assignment and re-timing.

A reading nobody was signed in for can later be given to a resident (the kiosk API's
``POST /api/v1/readings/{id}/assign``, the CLI's ``hutgw readings assign``), and a reading
taken before the clock was synchronised is re-timed once it is (the gateway's tick). Each is the
same edit of one row of the outbox's record log (:class:`buffer.ports.RecordLog`): read the
stored reading, let the pipeline make the new revision, revise the row in place (same id, same
sequence number, revision + 1, sent to the county again). This module is the one place that
does it; edits are serialised so two of them never interleave on one row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from buffer.ports import RecordLog
from buffer.record import Stored
from gateway.pipeline import Pipeline
from gateway.timebase import ClockCorrector
from uplink.codec import Reading


class NoSuchReading(LookupError):
    """No stored record of the ``readings`` stream has this id."""


class NotAReading(ValueError):
    """The stored record cannot be read as a reading (a damaged payload); the text says why."""


class AlreadyAssigned(Exception):
    """The reading already belongs to a resident (``force`` re-assigns it)."""

    def __init__(self, reading: Reading) -> None:
        super().__init__(f"reading {reading.id} already belongs to resident {reading.resident_id}")
        self.reading = reading


class TooOld(Exception):
    """The reading was received before ``received_after`` (a resident's claim window)."""

    def __init__(self, reading: Reading) -> None:
        super().__init__(f"reading {reading.id} was received at {reading.received_at.isoformat()}")
        self.reading = reading


def _reading(stored: Stored) -> Reading:
    return Reading.from_wire(stored.payload)  # bytes -> model, in one step of the codec


class Reattribution:
    """Assigns stored readings to residents and re-times them, through the record log.

    ``on_revised`` is told of every revision stored (the daemon announces it and wakes the
    uplink; the CLI passes nothing).
    """

    def __init__(
        self,
        records: RecordLog,
        pipeline: Pipeline,
        *,
        on_revised: Callable[[Reading], None] | None = None,
    ) -> None:
        self.records = records
        self.pipeline = pipeline
        self._on_revised = on_revised
        self._lock = asyncio.Lock()

    async def load(self, reading_id: str) -> Reading:
        """The stored reading; :class:`NoSuchReading` or :class:`NotAReading` if there is none."""
        stored = await self.records.get(reading_id)
        if stored is None or stored.stream != "readings":
            raise NoSuchReading(reading_id)
        try:
            return _reading(stored)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise NotAReading(str(e)) from None

    async def assign(
        self,
        reading_id: str,
        resident_id: str,
        *,
        force: bool = False,
        received_after: datetime | None = None,
    ) -> Reading:
        """Give the stored reading to ``resident_id`` (revision + 1, re-assessed for them).

        Raises :class:`NoSuchReading`, :class:`NotAReading`, :class:`AlreadyAssigned` (unless
        ``force``), :class:`TooOld` (received before ``received_after``) or
        :class:`~gateway.errors.ReadingError` (no such resident); nothing is stored then.
        """
        async with self._lock:
            reading = await self.load(reading_id)
            if reading.resident_id is not None and not force:
                raise AlreadyAssigned(reading)
            if received_after is not None and reading.received_at < received_after:
                raise TooOld(reading)
            assigned = self.pipeline.assign(reading, resident_id)
            await self._revise(assigned)
        return assigned

    async def retime(
        self,
        reading_id: str,
        corrector: ClockCorrector | None = None,
        *,
        on_read: Callable[[], None] | None = None,
    ) -> Reading | None:
        """Re-time a reading taken before the clock was synchronised; ``None`` when there was
        nothing to change (no such record, already synchronised, no correction known).

        ``on_read`` is called once the record was looked up (found or not), before it is decoded.
        """
        async with self._lock:
            stored = await self.records.get(reading_id)
            if on_read is not None:
                on_read()
            if stored is None:
                return None
            fixed = self.pipeline.correct_time(_reading(stored), corrector)
            if fixed is not None:
                await self._revise(fixed)
        return fixed

    async def revise(self, reading: Reading) -> None:
        """Store a new revision of a reading in place (same id, sent to the county again)."""
        async with self._lock:
            await self._revise(reading)

    async def _revise(self, reading: Reading) -> None:
        await self.records.revise(reading.id, reading.to_wire(), key=reading.resident_id)
        if self._on_revised is not None:
            self._on_revised(reading)
