"""Errors of the geofence layer."""

from __future__ import annotations

from gateway.errors import GatewayError


class GeofenceError(GatewayError):
    """Family root for fences: bad zone files, a broken zone store."""


class ZoneError(GeofenceError):
    """A zone definition is invalid. ``field`` is the JSON path of the offending value."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        text = f"{field}: {message}" if field else message
        super().__init__(text, hint=hint or "fix the zone file and import it again; nothing was changed")
        self.field = field
