"""Kiosk sessions: who is standing at the hut's screen.

``POST /api/v1/session`` signs a resident in by resident id (keypad), card number (an ID-card
or NFC reader in keyboard-wedge mode "types" it) or QR code text (``hut:resident:<id>``);
``DELETE /api/v1/session`` signs out; ``GET /api/v1/session`` tells who is signed in;
``POST /api/v1/session/touch`` keeps the session alive while the resident uses the screen.
``GET /api/v1/kiosk`` is what the page needs on start (session, uplink, keypad letters, the
crisis thresholds, how long a result keeps the session, the doctor lock-out).

A session ends after ``api.session_timeout_s`` without activity. :class:`SessionWatch`
publishes a ``session`` event on the event bus for every change -- sign-in, sign-out and
expiry -- checking once a second, so the page returns to the sign-in step on its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.doctor import AUTH
from gateway.api.errors import problem, validation_errors
from gateway.api.ports import (
    ABOUT,
    API_CONFIG,
    CLINICAL,
    COUNTERS,
    EVENTS,
    RESIDENTS,
    SESSIONS,
    UPLINK,
    Residents,
    UplinkView,
)
from gateway.api.ratelimit import Rate, RateLimit
from gateway.api.tasks import background
from gateway.events import EventBus
from gateway.intake import Counters
from gateway.registry import RegistrySnapshot, ResidentEntry, looks_like_national_id
from gateway.sessions import KioskSessions

log = logging.getLogger("hutgw.api.kiosk")

QR_PREFIX = "hut:resident:"
WATCH_INTERVAL_S = 1.0
MAX_ID_KEYS = 6

SessionReason = Literal["signed_in", "signed_out", "timeout"]


class SignIn(BaseModel):
    """How the resident identified: ``id`` (keypad), ``card`` (card reader text), ``qr`` (QR text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["id", "card", "qr"]
    value: str = Field(min_length=1, max_length=128)


def uplink_view(uplink: UplinkView | None) -> dict[str, Any]:
    """The uplink's state as the kiosk shows it."""
    if uplink is None:
        return {"enabled": False, "connected": False}
    st = uplink.state
    return {
        "enabled": True,
        "connected": st.connected,
        "since": st.since.isoformat() if st.since else None,
        "auth_failed": st.auth_failed,
        "last_error": st.last_error,
    }


def session_view(sessions: KioskSessions, residents: Residents) -> dict[str, Any] | None:
    """The live session as JSON (None when nobody is signed in)."""
    s = sessions.current()
    if s is None:
        return None
    resident = residents.snapshot().resident(s.resident_id)
    return {
        "id": s.id,
        "resident_id": s.resident_id,
        "display_name": resident.name if resident is not None else s.resident_id,
        "method": s.method,
        "started_at": s.started_at.isoformat(),
        "timeout_s": sessions.timeout_s,
        "remaining_s": sessions.remaining_s(),
    }


class SessionWatch:
    """Publishes ``session`` events: right away for the API's own changes, within
    :data:`WATCH_INTERVAL_S` for expiry and for changes made elsewhere (CLI). Also publishes
    ``duplicate`` (``{"count": n}``) when a device sent again a reading already stored, so
    that the kiosk can tell the villager why no new result appears."""

    def __init__(
        self, sessions: KioskSessions, residents: Residents, events: EventBus, counters: Counters
    ) -> None:
        self._sessions = sessions
        self._residents = residents
        self._events = events
        self._counters = counters
        self._last: str | None = None
        self._duplicates = counters.duplicates

    def check_duplicates(self) -> None:
        seen = self._counters.duplicates
        if seen > self._duplicates:
            self._events.publish("duplicate", {"count": seen - self._duplicates})
        self._duplicates = seen

    def view(self) -> dict[str, Any] | None:
        """The live session as JSON (:func:`session_view`)."""
        return session_view(self._sessions, self._residents)

    def sync(self, reason: SessionReason | None = None) -> None:
        view = self.view()
        sid = view["id"] if view is not None else None
        if sid == self._last:
            return
        self._last = sid
        if reason is None:
            reason = "signed_in" if view is not None else "timeout"
        self._events.publish("session", {"session": view, "reason": reason})

    async def run(self, interval: float) -> None:
        while True:
            try:
                self.sync()
                self.check_duplicates()
            except Exception:  # a bad registry read must not end the watch
                log.exception("session watch failed; will retry")
            await asyncio.sleep(interval)


WATCH: web.AppKey[SessionWatch] = web.AppKey("session_watch", SessionWatch)

#: Sign-in attempts (right or wrong): 10 at once then one per 5 s from one address, 30 at once
#: then one a second from all together; tests may replace the limiter before the app starts.
SIGN_IN_PER_CLIENT = Rate(burst=10, per_s=0.2)
SIGN_IN_OVERALL = Rate(burst=30, per_s=1.0)
SIGN_IN_LIMIT: web.AppKey[RateLimit] = web.AppKey("sign_in_limit", RateLimit)
#: Seconds between expiry checks; tests may shorten it before the app starts.
WATCH_INTERVAL: web.AppKey[float] = web.AppKey("session_watch_interval_s", float)


def _resolve(snap: RegistrySnapshot, method: str, value: str) -> tuple[ResidentEntry | None, dict[str, str]]:
    """The resident a sign-in names, or the field errors that make it unusable."""
    text = value.strip()
    if not text:
        return None, {"value": "is empty"}
    if method == "card":
        return snap.resident_by_card(text) or snap.resident_by_card(text.upper()), {}
    if method == "qr":
        if not text.lower().startswith(QR_PREFIX):
            return None, {"value": f"not a resident QR code (expected {QR_PREFIX}<resident id>)"}
        text = text[len(QR_PREFIX) :].strip()
        if not text:
            return None, {"value": "the QR code names no resident"}
    if looks_like_national_id(text):
        return None, {
            "value": "looks like a national ID number; sign in with the health-record number or the card"
        }
    found = snap.resident(text)
    if found is None:
        matches = [r for rid, r in snap.residents.items() if rid.casefold() == text.casefold()]
        found = matches[0] if len(matches) == 1 else None
    return found, {}


async def post_session(request: web.Request) -> web.Response:
    wait = request.app[SIGN_IN_LIMIT].take(request.remote or "")
    if wait > 0:  # a page or a script trying resident numbers and cards (issue 17 item 10)
        seconds = math.ceil(wait)
        log.warning("kiosk sign-in attempts too fast; refused for %d s", seconds)
        return web.json_response(
            {"error": f"too many sign-in attempts; try again in {seconds} s", "retry_after_s": seconds},
            status=429,
            headers={"Retry-After": str(seconds)},
        )
    try:
        body = SignIn.model_validate_json(await request.read())
    except ValidationError as e:
        return problem(422, "invalid sign-in", validation_errors(e))
    resident, errors = _resolve(request.app[RESIDENTS].snapshot(), body.method, body.value)
    if errors:
        return problem(422, "invalid sign-in", errors)
    if resident is None:
        what = {"id": "resident id", "card": "card", "qr": "QR code"}[body.method]
        log.info("kiosk sign-in refused: unknown %s", what)  # never log the number itself
        return problem(404, f"no resident with this {what}", {"value": f"unknown {what}"})
    request.app[SESSIONS].sign_in(resident.id, body.method)
    watch = request.app[WATCH]
    watch.sync("signed_in")
    return web.json_response({"session": watch.view()}, status=201)


async def get_session(request: web.Request) -> web.Response:
    watch = request.app[WATCH]
    watch.sync()
    return web.json_response({"session": watch.view()})


async def delete_session(request: web.Request) -> web.Response:
    ended = request.app[SESSIONS].sign_out()
    request.app[WATCH].sync("signed_out")
    return web.json_response({"session": None, "ended": ended.id if ended is not None else None})


async def touch_session(request: web.Request) -> web.Response:
    watch = request.app[WATCH]
    if request.app[SESSIONS].touch() is None:
        watch.sync()
        return problem(409, "nobody is signed in")
    return web.json_response({"session": watch.view()})


def id_keys(snap: RegistrySnapshot) -> list[str]:
    """Letters that occur in resident ids, for the page's keypad (digits are always there)."""
    letters = sorted({c.upper() for rid in snap.residents for c in rid if not c.isdigit()})
    return letters[:MAX_ID_KEYS]


async def get_kiosk(request: web.Request) -> web.Response:
    cfg = request.app[API_CONFIG]
    clinical = request.app[CLINICAL]
    watch = request.app[WATCH]
    watch.sync()
    return web.json_response(
        {
            "gateway_id": request.app[ABOUT].gateway_id,
            "session": watch.view(),
            "session_timeout_s": cfg.session_timeout_s,
            "result_hold_s": cfg.result_hold_s,
            "uplink": uplink_view(request.app[UPLINK]),
            "doctor_pin": cfg.doctor_pin is not None,
            "doctor_locked_s": math.ceil(request.app[AUTH].locked_for()),
            "crisis": {"systolic": clinical.crisis_systolic, "diastolic": clinical.crisis_diastolic},
            "id_keys": id_keys(request.app[RESIDENTS].snapshot()),
        }
    )


def setup(app: web.Application) -> None:
    app[SIGN_IN_LIMIT] = RateLimit(SIGN_IN_PER_CLIENT, SIGN_IN_OVERALL)
    app[WATCH] = SessionWatch(app[SESSIONS], app[RESIDENTS], app[EVENTS], app[COUNTERS])
    app[WATCH_INTERVAL] = WATCH_INTERVAL_S
    app.cleanup_ctx.append(background("api-session-watch", lambda a: a[WATCH].run(a[WATCH_INTERVAL])))
    app.router.add_get("/api/v1/kiosk", get_kiosk)
    app.router.add_get("/api/v1/session", get_session)
    app.router.add_post("/api/v1/session", post_session)
    app.router.add_delete("/api/v1/session", delete_session)
    app.router.add_post("/api/v1/session/touch", touch_session)
