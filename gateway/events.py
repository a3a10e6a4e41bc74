"""An in-process event bus for the kiosk stream (``GET /api/v1/events``) and status views.

Publishing never blocks: each subscriber has a bounded queue. A subscriber that falls behind
either loses its oldest events and is told so with a ``lagged`` event (the default), or -- when
it subscribed with ``drop_when_full=True``, as every event-stream client does -- is dropped:
its queue is emptied, it gets :data:`DROPPED` and no more events. A client that does not read
costs a bounded queue for a bounded time, however many events are published.
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


DROPPED = Event(type="__dropped__")
"""The last item a dropped subscriber gets (never published)."""


class EventBus:
    def __init__(self, *, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[asyncio.Queue[Event], bool] = {}  # queue -> drop when full
        self._ids = itertools.count(1)
        self.dropped = 0
        """subscribers dropped for falling behind, since start"""

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, type: str, data: Mapping[str, Any] | None = None) -> Event:
        event = Event(type=type, data=dict(data or {}), id=next(self._ids))
        for q, drop in list(self._subscribers.items()):
            if q.full():
                if drop:
                    self.drop(q)
                    continue
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(Event(type="lagged", data={"dropped": 1}, id=event.id))
                continue
            q.put_nowait(event)
        return event

    def drop(self, q: asyncio.Queue[Event]) -> None:
        """Stop delivering to ``q``: its events are discarded and it gets :data:`DROPPED`."""
        if self._subscribers.pop(q, None) is None:
            return
        self.dropped += 1
        while not q.empty():
            q.get_nowait()
        q.put_nowait(DROPPED)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, queue_size: int | None = None, drop_when_full: bool = False
    ) -> AsyncIterator[asyncio.Queue[Event]]:
        q: asyncio.Queue[Event] = asyncio.Queue(queue_size or self._queue_size)
        self._subscribers[q] = drop_when_full
        try:
            yield q
        finally:
            self._subscribers.pop(q, None)
