"""``GET /api/v1/events``: the kiosk's live event stream (Server-Sent Events).

Every event of the gateway's :class:`gateway.events.EventBus` is forwarded as one SSE message
(``id``, ``event`` = the event type, ``data`` = one JSON line): ``measurement_started``,
``cuff_pressure``, ``reading``, ``alert``, ``uplink``, ``session``, ``device``, ``lagged``.
A new client first gets ``hello`` (the current session and uplink state) so it never has to
poll; a comment line goes out every ``HEARTBEAT_S`` seconds so that proxies and the browser
notice a dead connection. A client that goes away is unsubscribed at once (the next write
fails) or at the latest at the next heartbeat.

Clients that do not read cost little and not for long (issue 17 item 9):

- at most ``api.max_event_streams`` streams are open; a new one closes the oldest (an
  ``EventSource`` reconnects by itself after ``retry``; one refused with an error would not);
- each stream's queue holds :data:`QUEUE_SIZE` events; a stream whose queue overflows is
  dropped (the bus empties its queue), as is one whose socket holds more than
  :data:`MAX_UNSENT_BYTES` unsent or takes no data for :data:`WRITE_TIMEOUT_S`; its socket's
  send buffer is kept small (:data:`SEND_BUFFER_BYTES`) so that a client that never reads
  is noticed after a few events rather than after megabytes.

The uplink client does not know the bus, so this module also watches the uplink state once a
second and publishes an ``uplink`` event when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gateway.api.kiosk import WATCH, uplink_view
from gateway.api.ports import API_CONFIG, EVENTS, UPLINK, UplinkView
from gateway.api.tasks import background
from gateway.events import DROPPED, Event, EventBus

log = logging.getLogger("hutgw.api.stream")

HEARTBEAT_S = 15.0
WATCH_INTERVAL_S = 1.0
RETRY_MS = 3000
WRITE_TIMEOUT_S = 10.0
"""a client that takes no data for this long (a stalled connection) is dropped"""
QUEUE_SIZE = 64
"""events waiting for one client; more and the client is dropped"""
MAX_UNSENT_BYTES = 64 * 1024
"""bytes waiting in the process for one client's socket; more and the client is dropped"""
SEND_BUFFER_BYTES = 16 * 1024
"""SO_SNDBUF of an event-stream socket"""
DEFAULT_MAX_STREAMS = 16
ENCODED_KEPT = 2 * QUEUE_SIZE

#: Seconds between heartbeat comments; tests may set a shorter one before the app starts.
HEARTBEAT: web.AppKey[float] = web.AppKey("sse_heartbeat_s", float)


@dataclass(slots=True)
class OpenStreams:
    """Queues of the open streams (oldest first), so that shutdown can end them at once and a
    new stream beyond the cap can close the oldest."""

    limit: int = DEFAULT_MAX_STREAMS
    queues: dict[asyncio.Queue[Event], None] = field(default_factory=dict)
    evicted: int = 0
    dropped_slow: int = 0
    _encoded: dict[int, bytes] = field(default_factory=dict)

    def encode(self, event: Event) -> bytes:
        """The SSE message of ``event``, encoded once for all the streams it goes to."""
        if not event.id:
            return encode_event(event)
        data = self._encoded.get(event.id)
        if data is None:
            data = self._encoded[event.id] = encode_event(event)
            if len(self._encoded) > ENCODED_KEPT:
                del self._encoded[next(iter(self._encoded))]
        return data


STREAMS: web.AppKey[OpenStreams] = web.AppKey("sse_streams", OpenStreams)

_CLOSE = Event(type="__close__")


def encode_event(event: Event) -> bytes:
    """One SSE message; ``data`` is a single line of JSON, so no escaping is needed."""
    data = orjson.dumps(event.data, default=str)
    head = f"id: {event.id}\n" if event.id else ""
    return f"{head}event: {event.type}\n".encode() + b"data: " + data + b"\n\n"


def _message(type: str, data: Mapping[str, Any]) -> bytes:
    return encode_event(Event(type=type, data=data))


class _Slow(Exception):
    """The client does not take its data."""


async def _send(resp: web.StreamResponse, data: bytes, request: web.Request) -> None:
    transport = request.transport
    if transport is not None and transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
        raise _Slow
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await resp.write(data)


def _small_send_buffer(request: web.Request) -> None:
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


async def get_events(request: web.Request) -> web.StreamResponse:
    events = request.app[EVENTS]
    heartbeat = request.app[HEARTBEAT]
    streams = request.app[STREAMS]
    resp = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        },
    )
    resp.force_close()  # a stream that ends ends its connection (EventSource opens a new one)
    stalled = False
    async with events.subscribe(queue_size=QUEUE_SIZE, drop_when_full=True) as queue:
        while len(streams.queues) >= streams.limit:
            oldest = next(iter(streams.queues))
            del streams.queues[oldest]
            streams.evicted += 1
            log.warning("event streams full (%d): closing the oldest", streams.limit)
            events.drop(oldest)
        streams.queues[queue] = None
        try:
            _small_send_buffer(request)
            await resp.prepare(request)
            hello = {"session": request.app[WATCH].view(), "uplink": uplink_view(request.app[UPLINK])}
            await _send(resp, f"retry: {RETRY_MS}\n\n".encode() + _message("hello", hello), request)
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), heartbeat)
                except TimeoutError:
                    await _send(resp, b": keep-alive\n\n", request)
                    continue
                if event is _CLOSE:
                    break
                if event is DROPPED:
                    if queue in streams.queues:  # not evicted: it fell behind
                        streams.dropped_slow += 1
                        stalled = True
                        log.info("event stream client fell %d events behind; dropped", QUEUE_SIZE)
                    break
                await _send(resp, streams.encode(event), request)
        except ConnectionError:  # includes aiohttp's ClientConnectionResetError
            log.debug("event stream client went away")
        except (TimeoutError, _Slow):
            streams.dropped_slow += 1
            stalled = True
            log.info("event stream client does not take its data; dropped")
        finally:
            streams.queues.pop(queue, None)
    if stalled and request.transport is not None:
        request.transport.abort()  # ending the response politely would wait on the client again
    return resp


async def _on_shutdown(app: web.Application) -> None:
    for queue in list(app[STREAMS].queues):
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(_CLOSE)


async def _watch_uplink(uplink: UplinkView | None, events: EventBus, interval: float) -> None:
    last: dict[str, Any] | None = None
    while True:
        view = uplink_view(uplink)
        key = {k: view.get(k) for k in ("enabled", "connected", "auth_failed", "last_error")}
        if last is not None and key != last:
            events.publish("uplink", view)
        last = key
        await asyncio.sleep(interval)


def setup(app: web.Application) -> None:
    app[HEARTBEAT] = HEARTBEAT_S
    app[STREAMS] = OpenStreams(limit=app[API_CONFIG].max_event_streams)
    app.on_shutdown.append(_on_shutdown)
    watch = background("api-uplink-watch", lambda a: _watch_uplink(a[UPLINK], a[EVENTS], WATCH_INTERVAL_S))
    app.cleanup_ctx.append(watch)
    app.router.add_get("/api/v1/events", get_events)
