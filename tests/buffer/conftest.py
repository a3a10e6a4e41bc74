from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from buffer import Lane, Outbox, OutboxSettings, Record


class ManualClock:
    """An injected wall clock the test moves by hand."""

    def __init__(self, start: float = 1_764_403_200.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_counter = itertools.count(1)


def rec(
    lane: Lane = Lane.CLINICAL,
    *,
    id: str | None = None,
    stream: str = "readings",
    kind: str = "blood_pressure",
    key: str | None = "res-1",
    payload: bytes | None = None,
) -> Record:
    n = next(_counter)
    rid = id or f"01937f00-0000-7000-8000-{n:012x}"
    return Record(rid, stream, lane, kind, payload if payload is not None else f"payload-{n}".encode(), key)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


@pytest.fixture
def settings() -> OutboxSettings:
    return OutboxSettings(maintain_interval_s=None)


@pytest.fixture
async def outbox(db_path: Path, clock: ManualClock, settings: OutboxSettings) -> AsyncIterator[Outbox]:
    async with Outbox(db_path, settings=settings, clock=clock) as ob:
        yield ob


OpenOutbox = Callable[..., Outbox]
