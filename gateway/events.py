"""An in-process event bus for the kiosk stream (``GET /api/v1/events``) and status views.

Publishing never blocks: each subscriber has a bounded queue; a subscriber that falls behind
loses its oldest events and is told so with a ``lagged`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """``type``: ``measurement_started``, ``cuff_pressure``, ``reading``, ``alert``, ``uplink``,
    ``session``, ``device``, ``lagged``. ``data`` is JSON-ready."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0


class EventBus:
    def __init__(self, *, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._ids = itertools.count(1)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, type: str, data: Mapping[str, Any] | None = None) -> Event:
        event = Event(type=type, data=dict(data or {}), id=next(self._ids))
        for q in list(self._subscribers):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(Event(type="lagged", data={"dropped": 1}, id=event.id))
                continue
            q.put_nowait(event)
        return event

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        q: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.add(q)
        try:
            yield q
        finally:
            self._subscribers.discard(q)
