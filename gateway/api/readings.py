"""``POST /api/v1/readings`` (manual entry, relays) and ``GET /api/v1/health``.

Manual-entry bodies (this route and the doctor's) are read strictly (issue 17 item 11, issue 21
item 9): JSON with no repeated key, values that are JSON numbers (not ``true``, not ``"120"``),
``measured_at`` an RFC 3339 string with a zone (not a number), and no control or formatting
characters (NUL, line breaks, U+202E ...) in any string. A body is read within
:data:`BODY_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Protocol

import orjson
from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from buffer.errors import OutboxClosedError, StorageError
from buffer.record import Stored
from gateway.api.errors import problem, storage_unavailable, validation_errors
from gateway.api.ports import (
    ABOUT,
    CLOCK,
    COUNTERS,
    DEVICES,
    MANUAL,
    OUTBOX_STATS,
    QUARANTINE,
    SUBMIT,
    UPLINK,
)
from gateway.errors import ReadingError
from gateway.intake import Counters
from gateway.pipeline import Processed

BODY_TIMEOUT_S = 10.0
MAX_VALUES = 32
#: Unicode categories refused in any string: controls, formatting (bidi overrides such as
#: U+202E), line and paragraph separators, surrogates, private use, unassigned.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def reading_view(d: Mapping[str, Any], stored: Stored | None = None) -> dict[str, Any]:
    """What the kiosk shows of a reading (its wire JSON, see ``uplink.codec.Reading.to_wire_dict``)."""
    device = d.get("device") or {}
    out = {
        "id": d["id"],
        "kind": d["kind"],
        "resident_id": d.get("resident_id"),
        "attribution": d.get("attribution"),
        "device": device.get("id"),
        "effective_at": d.get("effective_at"),
        "time_source": d.get("time_source"),
        "values": d.get("values", {}),
        "flags": d.get("flags", []),
        "classification": d.get("classification"),
        "revision": d.get("revision", 0),
    }
    if stored is not None:
        out["state"] = stored.state.value
    return out


def bad_characters(text: str) -> str | None:
    """Why ``text`` is refused (control or formatting characters), or None."""
    for c in text:
        if unicodedata.category(c) in REFUSED_CATEGORIES:
            return f"contains a control or formatting character (U+{ord(c):04X})"
    return None


def _clean(text: str) -> str:
    why = bad_characters(text)
    if why:
        raise ValueError(why)
    return text


#: A string field of an input model: no control or formatting characters.
Text = Annotated[str, AfterValidator(_clean)]

#: The configuration of input models: unknown fields refused, no type coercion, finite numbers.
STRICT_INPUT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ReadingIn(BaseModel):
    """A reading entered by hand or relayed by another system."""

    model_config = STRICT_INPUT

    kind: Text = Field(
        max_length=64, description="blood_pressure, weight, body_composition, heart_rate, position, ..."
    )
    resident_id: Text | None = Field(None, min_length=1, max_length=64)
    values: dict[Annotated[Text, Field(max_length=64)], float] = Field(max_length=MAX_VALUES)
    measured_at: datetime | None = None
    device_id: Text = Field("manual", min_length=1, max_length=64)


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(k)
        out[k] = v
    return out


def _walk_strings(obj: Any, path: str, errors: dict[str, str]) -> None:
    if isinstance(obj, str):
        why = bad_characters(obj)
        if why:
            errors[path or "(body)"] = why
    elif isinstance(obj, dict):
        for k, v in obj.items():
            sub = f"{path}.{k}" if path else k
            why = bad_characters(k)
            if why:
                errors[f"{path or '(body)'} key"] = why
            _walk_strings(v, sub, errors)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _walk_strings(v, f"{path}.{i}" if path else str(i), errors)


def strict_body_errors(body: bytes) -> dict[str, str]:
    """What a manual-entry body breaks beyond its model: repeated keys, values that are not
    JSON numbers, a ``measured_at`` that is not a string, control characters anywhere."""
    try:
        data = json.loads(body, object_pairs_hook=_no_duplicates)
    except DuplicateKey as e:
        return {"(body)": f"the key {str(e)[:64]!r} appears more than once"}
    except ValueError:
        return {}  # not JSON (or not UTF-8): the model says so
    errors: dict[str, str] = {}
    if not isinstance(data, dict):
        return errors
    _walk_strings(data, "", errors)
    values = data.get("values")
    if isinstance(values, dict):
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                errors[f"values.{k}"] = "must be a JSON number (not a string or true/false)"
    if data.get("measured_at") is not None and not isinstance(data["measured_at"], str):
        errors["measured_at"] = "must be a date-time string with a time zone (e.g. 2026-03-01T08:30:00+08:00)"
    return errors


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


def _refused(counters: Counters, errors: Mapping[str, str]) -> web.Response:
    counters.api_refused += 1
    return problem(422, "invalid reading", errors)


async def enter_manual(
    request: web.Request, parse: Callable[[bytes], ManualEntry], *, entered_by: str
) -> Processed | web.Response:
    """Parse a manual-entry body, run it through the pipeline and submit it (returns once the
    reading is committed to disk); a refused body gets the 422 response, counted."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            body = await request.read()
    except TimeoutError:
        return problem(408, f"the request body did not arrive within {BODY_TIMEOUT_S:.0f} s")
    strict = strict_body_errors(body)
    if strict:
        return _refused(request.app[COUNTERS], strict)
    try:
        entry = parse(body)
    except ValidationError as e:
        return _refused(request.app[COUNTERS], validation_errors(e))
    if entry.measured_at is not None and entry.measured_at.tzinfo is None:
        return _refused(request.app[COUNTERS], {"measured_at": "needs a time zone (e.g. Z or +08:00)"})
    try:
        processed = request.app[MANUAL].from_manual(
            entry.kind,
            entry.values,
            resident_id=entry.resident_id,
            measured_at=entry.measured_at,
            device_id=entry.device_id,
            entered_by=entered_by,
        )
    except ReadingError as e:
        return _refused(request.app[COUNTERS], e.errors)
    try:
        await request.app[SUBMIT].submit(processed, acknowledged=True)  # the caller gets a 201 or 200 for it
    except (StorageError, OutboxClosedError) as e:  # nothing stored: 503, the outbox logs it (rate-limited)
        return storage_unavailable(e)
    return processed


async def post_reading(request: web.Request) -> web.Response:
    principal = request.get("principal", "api")
    processed = await enter_manual(request, ReadingIn.model_validate_json, entered_by=principal)
    if isinstance(processed, web.Response):
        return processed
    return web.json_response({"id": processed.reading.id}, status=201)


async def health_view(app: web.Application) -> dict[str, Any]:
    stats = await app[OUTBOX_STATS].stats()
    link = app[UPLINK]
    uplink: dict[str, Any] = {"enabled": link is not None, "connected": False}
    if link is not None:
        uplink.update(dataclasses.asdict(link.state))
    counters = app[COUNTERS]
    return {
        "gateway_id": app[ABOUT].gateway_id,
        "started_at": app[ABOUT].started_at.isoformat(),
        "clock_synced": app[CLOCK].synced(),
        "uplink": uplink,
        "readings_pending": stats.pending + stats.inflight,
        "oldest_pending_age_s": stats.oldest_pending_age_s,
        "buffer": stats.as_dict(),
        "devices": app[DEVICES].device_view(),
        "decode_errors": dict(counters.decode_errors),
        "readings_accepted": dict(counters.readings),
        "duplicates_ignored": counters.duplicates,
        "quarantined_frames": app[QUARANTINE].count,
        "time": time.time(),
    }


async def get_health(request: web.Request) -> web.Response:
    view = await health_view(request.app)
    return web.Response(body=orjson.dumps(view, default=str), content_type="application/json")


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/readings", post_reading)
    app.router.add_get("/api/v1/health", get_health)
