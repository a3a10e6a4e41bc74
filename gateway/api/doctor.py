"""The village doctor: PIN or token check (rate-limited) and manual entry.

The doctor is authorised by ``X-Doctor-PIN: <api.doctor_pin>`` or by the API token
(``Authorization: Bearer <api.token>``). A wrong PIN or token gets 401; after
:data:`MAX_FAILURES` wrong attempts in a row every attempt gets 429 (``Retry-After``) for a
lock-out that starts at :data:`LOCKOUT_S` and doubles with each further lock-out, up to
:data:`MAX_LOCKOUT_S`; a right PIN resets the count. The count is for the whole gateway, not
per client: the kiosk is one client, and a PIN is short.

``GET /api/v1/doctor`` checks a PIN (the page's doctor login); ``POST /api/v1/doctor/readings``
is manual entry (same body as ``POST /api/v1/readings``, ``resident_id`` required).
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from gateway.api.errors import problem
from gateway.api.ports import API_CONFIG, CLOCK
from gateway.api.readings import (
    MAX_VALUES,
    STRICT_INPUT,
    Text,
    enter_manual,
    reading_view,
)

log = logging.getLogger("hutgw.api.doctor")

PIN_HEADER = "X-Doctor-PIN"
MAX_FAILURES = 5
LOCKOUT_S = 60.0
MAX_LOCKOUT_S = 900.0

Outcome = Literal["doctor", "none", "bad", "locked", "unconfigured"]


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    retry_after_s: float = 0.0


class DoctorAuth:
    """Checks doctor credentials and counts failures; ``monotonic`` is injected (the gateway clock)."""

    def __init__(
        self,
        *,
        pin: str | None,
        token: str | None,
        monotonic: Callable[[], float],
        max_failures: int = MAX_FAILURES,
        lockout_s: float = LOCKOUT_S,
        max_lockout_s: float = MAX_LOCKOUT_S,
    ) -> None:
        self._pin = pin
        self._token = token
        self._monotonic = monotonic
        self._max_failures = max_failures
        self._lockout_s = lockout_s
        self._max_lockout_s = max_lockout_s
        self._failures = 0
        self._lockouts = 0
        self._locked_until = 0.0
        self.failures_total = 0
        """wrong PINs or tokens since start (for /metrics)"""
        self.lockouts_total = 0
        """lock-outs since start (for /metrics)"""

    def locked_for(self) -> float:
        return max(0.0, self._locked_until - self._monotonic())

    def check(self, request: web.Request) -> Verdict:
        pin = request.headers.get(PIN_HEADER)
        auth = request.headers.get("Authorization")
        if pin is None and auth is None:
            return Verdict("none")
        wait = self.locked_for()
        if wait > 0:
            return Verdict("locked", wait)
        if pin is not None:
            if self._pin is None:
                return Verdict("unconfigured")
            ok = hmac.compare_digest(pin.strip().encode(), self._pin.encode())
        else:
            supplied = (auth or "").removeprefix("Bearer ").strip()
            ok = (
                self._token is not None
                and bool(supplied)
                and hmac.compare_digest(supplied.encode(), self._token.encode())
            )
        if ok:
            self._failures = 0
            self._lockouts = 0
            return Verdict("doctor")
        return self._fail()

    def _fail(self) -> Verdict:
        self._failures += 1
        self.failures_total += 1
        if self._failures < self._max_failures:
            log.warning("wrong doctor PIN or token (%d in a row)", self._failures)
            return Verdict("bad")
        wait = min(self._max_lockout_s, self._lockout_s * 2**self._lockouts)
        self._lockouts += 1
        self.lockouts_total += 1
        self._failures = 0
        self._locked_until = self._monotonic() + wait
        log.warning("doctor access locked for %.0f s after %d wrong attempts", wait, self._max_failures)
        return Verdict("bad", wait)


AUTH: web.AppKey[DoctorAuth] = web.AppKey("doctor_auth", DoctorAuth)


def _locked(status: int, message: str, wait_s: float) -> web.Response:
    """A refusal that tells how long the lock-out lasts (``Retry-After`` and ``retry_after_s``),
    so that the kiosk can show the doctor the remaining time."""
    wait = math.ceil(wait_s)
    return web.json_response(
        {"error": message, "retry_after_s": wait}, status=status, headers={"Retry-After": str(wait)}
    )


def refusal(v: Verdict) -> web.Response | None:
    """The response for a verdict that is not ``doctor``/``none`` (None: nothing to refuse)."""
    if v.outcome == "locked":
        return _locked(429, "too many wrong PINs; try again later", v.retry_after_s)
    if v.outcome == "bad" and v.retry_after_s > 0:
        return _locked(401, "wrong doctor PIN or API token; locked after too many", v.retry_after_s)
    if v.outcome == "bad":
        return problem(401, "wrong doctor PIN or API token")
    if v.outcome == "unconfigured":
        return problem(401, "no doctor PIN is configured on this gateway (set api.doctor_pin)")
    return None


def doctor_check(request: web.Request) -> tuple[bool, web.Response | None]:
    """(is the doctor, refusal): sending no credentials is not refused, a wrong PIN is (even
    when a resident is signed in)."""
    v = request.app[AUTH].check(request)
    if v.outcome == "doctor":
        return True, None
    if v.outcome == "none":
        return False, None
    return False, refusal(v)


def require_doctor(request: web.Request) -> web.Response | None:
    """None when the request is the doctor's; else the response refusing it."""
    doctor, refused = doctor_check(request)
    if doctor:
        return None
    return refused or problem(401, f"doctor only: send {PIN_HEADER} or Authorization: Bearer <api.token>")


class ManualReadingIn(BaseModel):
    """A reading the village doctor measured by hand."""

    model_config = STRICT_INPUT

    kind: Text = Field(max_length=64, description="blood_pressure, weight, body_composition, heart_rate, ...")
    resident_id: Text = Field(min_length=1, max_length=64)
    values: dict[Annotated[Text, Field(max_length=64)], float] = Field(max_length=MAX_VALUES)
    measured_at: datetime | None = None

    @property
    def device_id(self) -> str:
        return "manual"


async def get_doctor(request: web.Request) -> web.Response:
    refused = require_doctor(request)
    if refused is not None:
        return refused
    return web.json_response({"doctor": True})


async def post_manual(request: web.Request) -> web.Response:
    refused = require_doctor(request)
    if refused is not None:
        return refused
    processed = await enter_manual(request, ManualReadingIn.model_validate_json, entered_by="doctor")
    if isinstance(processed, web.Response):
        return processed
    view = reading_view(processed.reading.to_wire_dict())
    return web.json_response({"id": processed.reading.id, "reading": view}, status=201)


def setup(app: web.Application) -> None:
    cfg = app[API_CONFIG]
    app[AUTH] = DoctorAuth(pin=cfg.doctor_pin, token=cfg.token, monotonic=app[CLOCK].monotonic)
    app.router.add_get("/api/v1/doctor", get_doctor)
    app.router.add_post("/api/v1/doctor/readings", post_manual)
