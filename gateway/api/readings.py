"""``POST /api/v1/readings`` (manual entry, relays) and ``GET /api/v1/health``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.errors import problem, validation_errors
from gateway.core import Gateway
from gateway.errors import ReadingError
from gateway.pipeline import Processed

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)


class ReadingIn(BaseModel):
    """A reading entered by hand or relayed by another system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="blood_pressure, weight, body_composition, heart_rate, position, ...")
    resident_id: str | None = None
    values: dict[str, float]
    measured_at: datetime | None = None
    device_id: str = Field("manual", max_length=64)


class ManualEntry(Protocol):
    """What a manual-entry body gives the pipeline (:class:`ReadingIn`, the doctor's form)."""

    @property
    def kind(self) -> str: ...
    @property
    def values(self) -> dict[str, float]: ...
    @property
    def resident_id(self) -> str | None: ...
    @property
    def measured_at(self) -> datetime | None: ...
    @property
    def device_id(self) -> str: ...


def _refused(gw: Gateway, errors: Mapping[str, str]) -> web.Response:
    gw.counters.api_refused += 1
    return problem(422, "invalid reading", errors)


async def enter_manual(
    request: web.Request, parse: Callable[[bytes], ManualEntry], *, entered_by: str
) -> Processed | web.Response:
    """Parse a manual-entry body, run it through the pipeline and submit it (returns once the
    reading is committed to disk); a refused body gets the 422 response, counted."""
    gw = request.app[GATEWAY]
    try:
        entry = parse(await request.read())
    except ValidationError as e:
        return _refused(gw, validation_errors(e))
    if entry.measured_at is not None and entry.measured_at.tzinfo is None:
        return _refused(gw, {"measured_at": "needs a time zone (e.g. Z or +08:00)"})
    try:
        processed = gw.pipeline.from_manual(
            entry.kind,
            entry.values,
            resident_id=entry.resident_id,
            measured_at=entry.measured_at,
            device_id=entry.device_id,
            entered_by=entered_by,
        )
    except ReadingError as e:
        return _refused(gw, e.errors)
    await gw.submit(processed, acknowledged=True)  # the caller gets a 201 or 200 for it
    return processed


async def post_reading(request: web.Request) -> web.Response:
    principal = request.get("principal", "api")
    processed = await enter_manual(request, ReadingIn.model_validate_json, entered_by=principal)
    if isinstance(processed, web.Response):
        return processed
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
