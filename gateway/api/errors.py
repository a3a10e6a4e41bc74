"""JSON error responses shared by the API routes."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from pydantic import ValidationError

from buffer.errors import DiskFullError, OutboxError

MAX_LISTED_ERRORS = 20
"""field errors listed in one reply; ``errors_total`` counts them all when there are more"""


def problem(status: int, message: str, errors: Mapping[str, str] | None = None) -> web.Response:
    body: dict[str, object] = {"error": message}
    if errors:
        listed = list(errors.items())[:MAX_LISTED_ERRORS]
        body["errors"] = [{"field": k, "message": v} for k, v in listed]
        if len(errors) > MAX_LISTED_ERRORS:
            body["errors_total"] = len(errors)
    return web.json_response(body, status=status)


STORAGE_RETRY_AFTER_S = 30
"""``Retry-After`` of a 503 for a reading that could not be stored"""


def storage_unavailable(err: OutboxError) -> web.Response:
    """503 for a reading the outbox could not store (a full or failing disk, the daemon stopping):
    nothing was stored, so the caller keeps the reading and sends it again after ``Retry-After``.
    A sentence in English and Chinese for the person at the kiosk, the technician's hint apart."""
    if isinstance(err, DiskFullError):
        en = "The gateway's storage is full: this reading was NOT saved. Keep it and try again later."
        zh = "网关存储空间已满：此读数未保存。请保留读数，稍后再试。"
    else:
        en = "The gateway cannot save readings right now: this reading was NOT saved. Try again later."
        zh = "网关暂时无法保存读数：此读数未保存。请稍后再试。"
    body = {"error": en, "error_zh": zh, "hint": err.hint, "retry_after_s": STORAGE_RETRY_AFTER_S}
    return web.json_response(body, status=503, headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)})


def validation_errors(e: ValidationError, *, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for err in e.errors():
        path = prefix + ".".join(str(p) for p in err["loc"])
        out[path or "(body)"] = err["msg"]
    return out
