"""``POST /api/v1/readings`` (manual entry, relays) and ``GET /api/v1/health``."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.errors import problem, validation_errors
from gateway.core import Gateway
from gateway.errors import ReadingError

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)


class ReadingIn(BaseModel):
    """A reading entered by hand or relayed by another system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="blood_pressure, weight, body_composition, heart_rate, position, ...")
    resident_id: str | None = None
    values: dict[str, float]
    measured_at: datetime | None = None
    device_id: str = Field("manual", max_length=64)


async def post_reading(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    body = await request.read()
    try:
        payload = ReadingIn.model_validate_json(body)
    except ValidationError as e:
        gw.counters.api_refused += 1
        return problem(422, "invalid reading", validation_errors(e))
    if payload.measured_at is not None and payload.measured_at.tzinfo is None:
        gw.counters.api_refused += 1
        return problem(422, "invalid reading", {"measured_at": "needs a time zone (e.g. Z or +08:00)"})
    try:
        processed = gw.pipeline.from_manual(
            payload.kind,
            payload.values,
            resident_id=payload.resident_id,
            measured_at=payload.measured_at,
            device_id=payload.device_id,
            entered_by=request.get("principal", "api"),
        )
    except ReadingError as e:
        gw.counters.api_refused += 1
        return problem(422, "invalid reading", e.errors)
    await gw.submit(processed)  # returns only once the reading is committed to disk
    return web.json_response({"id": processed.reading.id}, status=201)


async def health_view(gw: Gateway) -> dict[str, Any]:
    stats = await gw.outbox.stats()
    uplink: dict[str, Any] = {"enabled": gw.uplink is not None, "connected": False}
    if gw.uplink is not None:
        uplink.update(dataclasses.asdict(gw.uplink.state))
    return {
        "gateway_id": gw.gateway_id,
        "started_at": gw.started_at.isoformat(),
        "clock_synced": gw.clock.synced(),
        "uplink": uplink,
        "readings_pending": stats.pending + stats.inflight,
        "oldest_pending_age_s": stats.oldest_pending_age_s,
        "buffer": stats.as_dict(),
        "devices": gw.device_view(),
        "decode_errors": dict(gw.counters.decode_errors),
        "readings_accepted": dict(gw.counters.readings),
        "duplicates_ignored": gw.counters.duplicates,
        "quarantined_frames": gw.quarantine.count,
        "time": time.time(),
    }


async def get_health(request: web.Request) -> web.Response:
    view = await health_view(request.app[GATEWAY])
    return web.Response(body=orjson.dumps(view, default=str), content_type="application/json")


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/readings", post_reading)
    app.router.add_get("/api/v1/health", get_health)
