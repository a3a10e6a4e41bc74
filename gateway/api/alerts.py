"""Urgent alerts on the kiosk and for technicians (docs/alerts.md, docs/api.md).

``GET /api/v1/alerts``: urgent alerts still open and those acknowledged within the hour (``?all=1``:
every alert kept), each with who was told and who acknowledged. Phone numbers are masked
(138****0001) unless the doctor's PIN or the API token comes with the request.
``POST /api/v1/alerts/{id}/ack``: the village doctor acknowledges (PIN); the rounds stop.
``GET /api/v1/notify``: the SMS channel (modem: SIM, registration, signal) and the ladder's counts.
``POST /api/v1/notify/test``: one test SMS to ``{"phone": "+86..."}`` (doctor or token).
The event stream carries ``alert_status`` events with the same alert object.
"""

from __future__ import annotations

import re

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.doctor import doctor_check, require_doctor
from gateway.api.errors import problem, validation_errors
from gateway.notify.engine import Escalation

NOTIFY: web.AppKey[Escalation] = web.AppKey("notify", Escalation)

_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str | None = Field(None, min_length=1, max_length=40, description="who (shown to the others)")


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: str = Field(pattern=r"^\+?[0-9]{3,20}$", description="the number to text")


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def get_alerts(request: web.Request) -> web.Response:
    engine = request.app[NOTIFY]
    doctor, refused = doctor_check(request)
    if refused is not None:
        return refused
    show_all = request.query.get("all") in ("1", "true")
    return _json({"alerts": engine.views(open_only=not show_all, mask=not doctor)})


async def post_ack(request: web.Request) -> web.Response:
    refused = require_doctor(request)
    if refused is not None:
        return refused
    alert_id = request.match_info["alert_id"]
    if not _ID.match(alert_id):
        return problem(404, "no such alert")
    body = await request.read()
    try:
        ack = AckIn.model_validate_json(body) if body.strip() else AckIn()
    except ValidationError as e:
        return problem(422, "invalid acknowledgement", validation_errors(e))
    engine = request.app[NOTIFY]
    result = engine.acknowledge(alert_id, by=ack.by or "doctor", via="kiosk")
    if result.alert is None:
        return problem(404, "no such alert")
    view = engine.view(result.alert)
    if result.outcome == "already":
        return _json({"error": "this alert was already acknowledged or is not urgent", "alert": view}, 409)
    return _json({"alert": view})


async def get_notify(request: web.Request) -> web.Response:
    return _json(request.app[NOTIFY].status())


async def post_test(request: web.Request) -> web.Response:
    refused = require_doctor(request)
    if refused is not None:
        return refused
    engine = request.app[NOTIFY]
    try:
        body = TestIn.model_validate_json(await request.read())
    except ValidationError as e:
        return problem(422, "invalid test request", validation_errors(e))
    if engine.channel is None:
        return problem(503, "SMS is off: set [notify] modem to the modem's AT port")
    seq = engine.queue_test(body.phone)
    return _json({"queued": seq, "channel": engine.channel.status()}, 202)


def setup(app: web.Application) -> None:
    if NOTIFY not in app:
        return  # an app without the engine (unit tests of other routes)
    app.router.add_get("/api/v1/alerts", get_alerts)
    app.router.add_post("/api/v1/alerts/{alert_id}/ack", post_ack)
    app.router.add_get("/api/v1/notify", get_notify)
    app.router.add_post("/api/v1/notify/test", post_test)
