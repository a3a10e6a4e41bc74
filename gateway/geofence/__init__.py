"""Electronic fences for residents: zones, datums, geometry and the alarm engine.

The gateway feeds :class:`Fix` objects to a :class:`GeofenceEngine` and turns the returned
:class:`FenceEvent` objects into alerts. See ``docs/geofence.md``.
"""

from gateway.geofence.engine import FenceEvent, FenceSettings, Fix, GeofenceEngine
from gateway.geofence.errors import GeofenceError, ZoneError
from gateway.geofence.positions import fix_from_measurement, fix_from_values
from gateway.geofence.zones import Circle, Polygon, Zone

__all__ = [
    "Circle",
    "FenceEvent",
    "FenceSettings",
    "Fix",
    "GeofenceEngine",
    "GeofenceError",
    "Polygon",
    "Zone",
    "ZoneError",
    "fix_from_measurement",
    "fix_from_values",
]
