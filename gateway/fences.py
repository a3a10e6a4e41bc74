"""Electronic fences in the running gateway: positions in, fence alerts out.

The decisions (margin, dwell, hysteresis, signal loss) live in :mod:`gateway.geofence.engine`;
this module feeds it the residents' position readings, reloads zones when a technician
changes them, and turns its events into alerts for the resident's guardians.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from gateway.alerts import AlertRaiser
from gateway.config import GeofenceConfig
from gateway.geofence.engine import FenceEvent, FenceSettings, Fix, GeofenceEngine
from gateway.geofence.positions import is_current
from gateway.geofence.store import ZoneStore
from uplink.codec import Alert, Reading, Severity

log = logging.getLogger("hutgw.fences")

# (event, zone kind) -> (alert kind, severity, message)
_ALERTS: dict[tuple[str, str], tuple[str, Severity, str]] = {
    ("exit", "safe"): ("fence_exit", "critical", "left the safe zone {zone}"),
    ("enter", "safe"): ("fence_enter", "info", "back inside the safe zone {zone}"),
    ("enter", "danger"): ("fence_enter", "critical", "entered the danger zone {zone}"),
    ("exit", "danger"): ("fence_exit", "info", "left the danger zone {zone}"),
    ("signal_lost", "safe"): ("signal_lost", "warning", "no position for a while near {zone}"),
    ("signal_lost", "danger"): ("signal_lost", "warning", "no position for a while near {zone}"),
    ("signal_restored", "safe"): ("signal_restored", "info", "positions arriving again near {zone}"),
    ("signal_restored", "danger"): ("signal_restored", "info", "positions arriving again near {zone}"),
}


def _fix_json(f: Fix) -> dict[str, Any]:
    return {
        "at": f.at.isoformat(),
        "latitude": f.latitude,
        "longitude": f.longitude,
        "accuracy_m": f.accuracy_m,
        "source": f.source,
    }


class FenceMonitor:
    def __init__(self, store: ZoneStore, config: GeofenceConfig, alerts: AlertRaiser) -> None:
        self._store = store
        self._alerts = alerts
        self.engine = GeofenceEngine(store.load(), FenceSettings.from_config(config))
        self.events = 0

    def reload(self) -> None:
        """Zones changed in the registry file: swap them in, keeping the state of unchanged zones."""
        self.engine.replace_zones(self._store.load())

    def on_reading(self, reading: Reading) -> list[Alert]:
        if reading.kind != "position" or reading.resident_id is None:
            return []
        if any(flag.startswith("implausible") for flag in reading.flags) or not is_current(reading.flags):
            return []  # estimated, last known, manual or simulated positions are not fenced
        lat, lon = reading.values.get("latitude"), reading.values.get("longitude")
        if lat is None or lon is None:
            return []
        acc = reading.values.get("accuracy_m")
        fix = Fix(
            resident_id=reading.resident_id,
            at=reading.effective_at,
            latitude=lat.value,
            longitude=lon.value,
            accuracy_m=acc.value if acc is not None else None,
            source=reading.device.id,
        )
        return self._to_alerts(self.engine.process(fix), reading.id)

    def tick(self, now: datetime) -> list[Alert]:
        return self._to_alerts(self.engine.tick(now), None)

    def _to_alerts(self, events: list[FenceEvent], reading_id: str | None) -> list[Alert]:
        out: list[Alert] = []
        for ev in events:
            self.events += 1
            kind, severity, text = _ALERTS[(ev.event, ev.zone_kind)]
            alert = self._alerts.raise_alert(
                kind,
                severity,
                ev.resident_id,
                text.format(zone=ev.zone_name),
                {
                    "zone": ev.zone_name,
                    "zone_id": ev.zone_id,
                    "zone_kind": ev.zone_kind,
                    "event": ev.event,
                    "at": ev.at.isoformat(),
                    "distance_m": round(ev.distance_m, 1),
                    "fix": _fix_json(ev.fix),
                    "last_fixes": [_fix_json(f) for f in ev.last_fixes],
                },
                key=f"{ev.zone_id}:{ev.event}",
                reading_id=reading_id,
            )
            if alert is not None:
                out.append(alert)
            log.info("fence %s for a resident at zone %s", ev.event, ev.zone_name)
        return out
