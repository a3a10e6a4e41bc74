"""``GET /api/v1/events``: the kiosk's live event stream (Server-Sent Events).

Every event of the gateway's :class:`gateway.events.EventBus` is forwarded as one SSE message
(``id``, ``event`` = the event type, ``data`` = one JSON line): ``measurement_started``,
``cuff_pressure``, ``reading``, ``alert``, ``uplink``, ``session``, ``device``, ``lagged``.
A new client first gets ``hello`` (the current session and uplink state) so it never has to
poll; a comment line goes out every ``HEARTBEAT_S`` seconds so that proxies and the browser
notice a dead connection. A client that goes away is unsubscribed at once (the next write
fails) or at the latest at the next heartbeat.

The uplink client does not know the bus, so this module also watches the uplink state once a
second and publishes an ``uplink`` event when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gateway.api.kiosk import session_view, uplink_view
from gateway.api.readings import GATEWAY
from gateway.api.tasks import background
from gateway.core import Gateway
from gateway.events import Event

log = logging.getLogger("hutgw.api.stream")

HEARTBEAT_S = 15.0
WATCH_INTERVAL_S = 1.0
RETRY_MS = 3000
WRITE_TIMEOUT_S = 30.0
"""a client that takes no data for this long (a stalled connection) is dropped"""

#: Seconds between heartbeat comments; tests may set a shorter one before the app starts.
HEARTBEAT: web.AppKey[float] = web.AppKey("sse_heartbeat_s", float)


@dataclass(slots=True)
class OpenStreams:
    """Queues of the open streams, so that shutdown can end them at once."""

    queues: set[asyncio.Queue[Event]] = field(default_factory=set)


STREAMS: web.AppKey[OpenStreams] = web.AppKey("sse_streams", OpenStreams)

_CLOSE = Event(type="__close__")


def encode_event(event: Event) -> bytes:
    """One SSE message; ``data`` is a single line of JSON, so no escaping is needed."""
    data = orjson.dumps(event.data, default=str)
    head = f"id: {event.id}\n" if event.id else ""
    return f"{head}event: {event.type}\n".encode() + b"data: " + data + b"\n\n"


def _message(type: str, data: Mapping[str, Any]) -> bytes:
    return encode_event(Event(type=type, data=data))


async def _send(resp: web.StreamResponse, data: bytes) -> None:
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await resp.write(data)


async def get_events(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    heartbeat = request.app[HEARTBEAT]
    streams = request.app[STREAMS].queues
    resp = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        },
    )
    async with gw.events.subscribe() as queue:
        streams.add(queue)
        try:
            await resp.prepare(request)
            hello = {"session": session_view(gw), "uplink": uplink_view(gw)}
            await _send(resp, f"retry: {RETRY_MS}\n\n".encode() + _message("hello", hello))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), heartbeat)
                except TimeoutError:
                    await _send(resp, b": keep-alive\n\n")
                    continue
                if event is _CLOSE:
                    break
                await _send(resp, encode_event(event))
        except ConnectionError:  # includes aiohttp's ClientConnectionResetError
            log.debug("event stream client went away")
        except TimeoutError:
            log.info("event stream client took no data for %.0f s; dropped", WRITE_TIMEOUT_S)
        finally:
            streams.discard(queue)
    return resp


async def _on_shutdown(app: web.Application) -> None:
    for queue in list(app[STREAMS].queues):
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(_CLOSE)


async def _watch_uplink(gw: Gateway, interval: float) -> None:
    last: dict[str, Any] | None = None
    while True:
        view = uplink_view(gw)
        key = {k: view.get(k) for k in ("enabled", "connected", "auth_failed", "last_error")}
        if last is not None and key != last:
            gw.events.publish("uplink", view)
        last = key
        await asyncio.sleep(interval)


def setup(app: web.Application) -> None:
    app[HEARTBEAT] = HEARTBEAT_S
    app[STREAMS] = OpenStreams()
    app.on_shutdown.append(_on_shutdown)
    watch = background("api-uplink-watch", lambda a: _watch_uplink(a[GATEWAY], WATCH_INTERVAL_S))
    app.cleanup_ctx.append(watch)
    app.router.add_get("/api/v1/events", get_events)
