"""Records as the outbox stores them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Lane(enum.IntEnum):
    """Priority lanes: lower drains first; order is kept within a lane."""

    ALERTS = 0
    CLINICAL = 1
    TELEMETRY = 2


class State(enum.StrEnum):
    PENDING = "pending"
    INFLIGHT = "inflight"
    DELIVERED = "delivered"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Record:
    """One opaque record to deliver.

    ``id`` is unique (a UUIDv7 string, so ids sort by creation time); ``stream`` names where it
    goes (``readings``, ``alerts``); ``kind`` is free text used for per-kind TTL and counters;
    ``key`` groups records for history look-ups (the resident id); ``payload`` is opaque bytes.
    """

    id: str
    stream: str
    lane: Lane
    kind: str
    payload: bytes
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """A record as read back, with what the outbox added."""

    id: str
    seq: int
    stream: str
    lane: Lane
    kind: str
    payload: bytes
    key: str | None
    state: State
    created_at: float
    attempts: int
    batch_id: str | None
    reason: str | None = None
