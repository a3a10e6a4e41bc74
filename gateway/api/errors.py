"""JSON error responses shared by the API routes."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from pydantic import ValidationError

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


def validation_errors(e: ValidationError, *, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for err in e.errors():
        path = prefix + ".".join(str(p) for p in err["loc"])
        out[path or "(body)"] = err["msg"]
    return out
