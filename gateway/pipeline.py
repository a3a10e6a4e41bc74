"""From a decoded measurement (or a manual entry) to a :class:`~uplink.codec.Reading`.

Every reading goes through the same steps: units normalised (``gateway.kinds``; value names the
gateway does not know go to ``extras["other_values"]``, never dropped), time resolved
(``gateway.timebase``), attributed (``gateway.attribution``), plausibility-checked and classified
(``gateway.clinical``), and alerts raised (``gateway.alerts``). Nothing here does I/O: the
registry comes in as a snapshot function, the clock and the kiosk sessions are injected.

Flags a reading can carry (besides the decoder's own):

* ``implausible:<value>`` -- outside the configured range; kept, uplinked, not classified;
* ``missing:<value>`` -- a required value is absent; not classified;
* ``unreadable:<value>`` -- the device sent NaN/infinity; the text is in ``extras["unreadable"]``;
* ``unconverted:<value>`` -- a known value in a unit the gateway cannot convert (in extras);
* ``derived:bmi`` -- BMI computed here from weight and height;
* ``no_consent`` -- the resident has not consented (the county decides what to do with it);
* ``unknown_resident`` -- attributed to an id the registry does not (or no longer) know;
* ``under_age:bmi`` -- BMI not classified: the adult table does not apply.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any

from buffer.ids import uuid7
from drivers import events
from drivers.frames import RawFrame
from drivers.measurement import KG_PER_M2, DeviceEvent, Measurement, Value
from gateway import clinical as cl
from gateway.alerts import AlertRaiser
from gateway.attribution import attribute
from gateway.clock import Clock
from gateway.errors import ReadingError
from gateway.kinds import KINDS, normalise
from gateway.logsetup import health_debug
from gateway.registry import DeviceEntry, RegistrySnapshot, ResidentEntry
from gateway.sessions import KioskSessions
from gateway.timebase import BOOT_KEY, MONOTONIC_KEY, ClockCorrector, TimeDecision, as_tz, resolve_time
from uplink.codec import Alert, Attribution, Classification, DeviceRef, Reading, Severity

log = logging.getLogger(__name__)

MANUAL_MAX_AGE_S = 366 * 86_400.0
"""a manual entry may be back-dated by up to a year"""

EVENT_ALERTS: Mapping[events.EventKind, tuple[str, Severity, str]] = MappingProxyType(
    {
        events.SOS: ("sos", "critical", "SOS button pressed"),
        events.FALL_DOWN: ("fall_down", "critical", "Fall detected"),
        events.ALARM: ("device_alarm", "critical", "Alarm from the device (type not given)"),
        events.WATCH_TAKEN_OFF: ("watch_taken_off", "warning", "Watch taken off"),
    }
)
"""device event kind (:mod:`drivers.events`) -> (alert kind, severity, message)"""
BUTTON_PRESSES = frozenset(
    {
        "press",
        "double_press",
        "triple_press",
        "long_press",
        "long_double_press",
        "long_triple_press",
        "hold_press",
    }
)

#: Flags of a reading whose values were not checked (missing, implausible, inconsistent).
_UNCHECKED = ("implausible:", "missing:", "inconsistent:")
_ASSESSED = ("implausible:", "missing:", "derived:", "under_age:", "no_consent", "unknown_resident")


@dataclass(frozen=True, slots=True)
class Processed:
    reading: Reading
    alerts: tuple[Alert, ...] = ()


@dataclass(frozen=True, slots=True)
class _Assessment:
    values: Mapping[str, Value]
    flags: tuple[str, ...]
    classification: Classification | None
    crisis: bool


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x)


class Pipeline:
    def __init__(
        self,
        *,
        registry: Callable[[], RegistrySnapshot],
        sessions: KioskSessions,
        clinical: cl.ClinicalSettings,
        alerts: AlertRaiser,
        clock: Clock,
        max_device_skew_s: float,
        device_tz: tzinfo | str | None = None,
        max_device_future_s: float | None = None,
    ) -> None:
        self._registry = registry
        self._sessions = sessions
        self._clinical = clinical
        self._alerts = alerts
        self._clock = clock
        self._max_skew_s = max_device_skew_s
        self._max_future_s = max_device_future_s
        self._tz = as_tz(device_tz)

    @property
    def clinical(self) -> cl.ClinicalSettings:
        return self._clinical

    def corrector(self) -> ClockCorrector:
        return ClockCorrector(
            self._clock, max_skew_s=self._max_skew_s, device_tz=self._tz, max_future_s=self._max_future_s
        )

    # ------------------------------------------------------------------ device measurements

    def from_measurement(self, m: Measurement, *, device: DeviceEntry | None, frame: RawFrame) -> Processed:
        """A reading from one decoded measurement; raises ReadingError only for an unknown kind."""
        spec = KINDS.get(m.kind)
        if spec is None:
            raise ReadingError(
                {"kind": f"unknown reading kind {m.kind!r} (known: {', '.join(sorted(KINDS))})"}
            )
        snap = self._registry()
        values: dict[str, Value] = {}
        flags: list[str] = list(m.flags)
        extras: dict[str, Any] = dict(m.extras)
        other: dict[str, Any] = {}
        unreadable: dict[str, str] = {}
        for name, v in m.values.items():
            if not math.isfinite(v.value):
                unreadable[name] = str(v.value)
                flags.append(f"unreadable:{name}")
                continue
            converted = normalise(m.kind, name, v.value, v.unit)
            if converted is None:
                other[name] = {"value": v.value, "unit": v.unit}
                if name in spec.values:
                    flags.append(f"unconverted:{name}")
                continue
            values[name] = Value(converted[0], converted[1])
        if other:
            extras["other_values"] = other
        if unreadable:
            extras["unreadable"] = unreadable

        synced = self._clock.synced()
        decision = resolve_time(
            m.device_time,
            frame.received_at,
            clock_synced=synced,
            max_skew_s=self._max_skew_s,
            device_tz=self._tz,
            max_future_s=self._max_future_s,
            device_time_note=m.device_time_note,
        )
        self._time_extras(extras, decision, m.device_time_note)
        if not synced:
            mono = frame.monotonic if frame.monotonic > 0 else self._clock.monotonic()
            extras[MONOTONIC_KEY] = round(mono, 6)
            extras[BOOT_KEY] = self._clock.boot_id()

        session = self._sessions.current() if device is not None and device.shared else None
        resident_id, how = attribute(device, m.user_index, session)
        if how == "session":
            self._sessions.touch()

        ref = DeviceRef(
            id=device.id if device is not None else frame.source,
            profile=device.profile if device is not None else None,
            address=frame.source,
        )
        if device is None:
            flags.append("unknown_device")
        return self._finish(
            snap,
            Reading(
                id=uuid7(),
                kind=m.kind,
                values=MappingProxyType(values),
                device=ref,
                received_at=frame.received_at,
                effective_at=decision.effective_at,
                time_source=decision.time_source,
                resident_id=resident_id,
                attribution=how,
                measured_at=decision.measured_at_text,
                gateway_clock_synced=synced,
                user_index=m.user_index,
                flags=tuple(dict.fromkeys(flags)),
                raw=frame.data,
                extras=extras,
            ),
        )

    @staticmethod
    def _time_extras(extras: dict[str, Any], d: TimeDecision, device_note: str | None) -> None:
        if d.offset_s is not None:
            extras["device_clock_offset_s"] = round(d.offset_s, 3)
        if d.note:
            extras["time_note"] = d.note
        if device_note:
            extras["device_time_note"] = device_note

    # ------------------------------------------------------------------ manual entry

    def from_manual(
        self,
        kind: str,
        values: Mapping[str, Any],
        *,
        resident_id: str | None,
        measured_at: datetime | None,
        device_id: str = "manual",
        entered_by: str = "api",
    ) -> Processed:
        """A reading typed in by the village doctor (local API) or a technician.

        Values are in the kind's units (``gateway.kinds``). Raises :class:`ReadingError` naming
        every bad field (``kind``, ``values.<name>``, ``resident_id``, ``measured_at``).
        """
        snap = self._registry()
        spec = KINDS.get(kind)
        if spec is None:
            raise ReadingError({"kind": f"unknown kind {kind!r} (known: {', '.join(sorted(KINDS))})"})
        errors: dict[str, str] = {}
        clean: dict[str, Value] = {}
        if not isinstance(values, Mapping):
            raise ReadingError({"values": "expected an object of value name -> number"})
        for name, raw in values.items():
            path = f"values.{name}"
            vs = spec.values.get(name)
            if vs is None:
                errors[path] = f"not a value of {kind} (known: {', '.join(spec.values)})"
                continue
            num = _num(raw)
            if num is None:
                errors[path] = "must be a number"
            elif not math.isfinite(num):
                errors[path] = "must be a finite number"
            else:
                clean[name] = Value(num, vs.unit)
        for req in spec.required:
            if req not in values:
                errors[f"values.{req}"] = "required"
        if cl.check_consistent(kind, clean):
            errors["values.systolic"] = errors["values.diastolic"] = cl.BP_ORDER_ERROR
        if resident_id is not None and snap.resident(resident_id) is None:
            errors["resident_id"] = f"no resident {resident_id!r} in the registry"
        now = self._clock.now()
        synced = self._clock.synced()
        decision = resolve_time(
            measured_at,
            now,
            clock_synced=synced,
            max_skew_s=MANUAL_MAX_AGE_S,
            device_tz=self._tz,
            max_future_s=self._max_future_s if self._max_future_s is not None else 600.0,
        )
        if measured_at is not None and synced and decision.time_source != "device":
            if (decision.offset_s or 0.0) > 0:
                errors["measured_at"] = "is in the future"
            else:
                errors["measured_at"] = "is more than a year ago"
        if errors:
            raise ReadingError(errors)
        extras: dict[str, Any] = {"entered_by": entered_by}
        self._time_extras(extras, decision, None)
        if not synced:
            extras[MONOTONIC_KEY] = round(self._clock.monotonic(), 6)
            extras[BOOT_KEY] = self._clock.boot_id()
        how: Attribution = "manual" if resident_id is not None else "unattributed"
        return self._finish(
            snap,
            Reading(
                id=uuid7(),
                kind=kind,
                values=MappingProxyType(clean),
                device=DeviceRef(id=device_id, profile="manual"),
                received_at=now,
                effective_at=decision.effective_at,
                time_source=decision.time_source,
                resident_id=resident_id,
                attribution=how,
                measured_at=decision.measured_at_text,
                gateway_clock_synced=synced,
                extras=extras,
            ),
        )

    # ------------------------------------------------------------------ later changes

    def assign(self, reading: Reading, resident_id: str) -> Reading:
        """The same reading attributed to ``resident_id`` (revision + 1), re-assessed for them."""
        snap = self._registry()
        if snap.resident(resident_id) is None:
            raise ReadingError({"resident_id": f"no resident {resident_id!r} in the registry"})
        return self._finish(snap, reading.assigned_to(resident_id), raise_alerts=False).reading

    def correct_time(self, reading: Reading, corrector: ClockCorrector | None = None) -> Reading | None:
        """The reading with true times once the clock is synchronised (revision + 1), else None."""
        if reading.gateway_clock_synced:
            return None
        c = (corrector or self.corrector()).correct(
            reading.extras, reading.measured_at, device_time_note=reading.extras.get("device_time_note")
        )
        if c is None:
            return None
        extras = {k: v for k, v in reading.extras.items() if k not in (MONOTONIC_KEY, BOOT_KEY, "time_note")}
        extras["unsynced_received_at"] = reading.received_at.isoformat()
        self._time_extras(extras, c.decision, None)
        fixed = replace(
            reading,
            received_at=c.received_at,
            effective_at=c.decision.effective_at,
            time_source=c.decision.time_source,
            gateway_clock_synced=True,
            extras=extras,
            revision=reading.revision + 1,
        )
        return self._finish(self._registry(), fixed, raise_alerts=False).reading

    # ------------------------------------------------------------------ device events

    def from_event(self, ev: DeviceEvent, *, device: DeviceEntry | None, frame: RawFrame) -> list[Alert]:
        """Alerts for a device event (see :data:`EVENT_ALERTS`; ``battery`` at or below the
        low-battery level; a ``button`` press on a button bound to a resident is an SOS).

        An SOS reaches the resident's guardians even without a position. The watch's own fence
        alarms (``out_of_fence``, ``into_fence``) raise nothing: the gateway's geofence engine
        decides fence events from the positions.
        """
        snap = self._registry()
        detail = dict(ev.detail)
        user_index = detail.get("user_index")
        session = self._sessions.current() if device is not None and device.shared else None
        resident_id, how = attribute(device, user_index if isinstance(user_index, int) else None, session)
        device_id = device.id if device is not None else frame.source
        base: dict[str, Any] = {"device_id": device_id, "address": frame.source, "attribution": how}
        notify = snap.guardians(resident_id)
        kind = ev.kind
        if kind == events.BUTTON:
            personal = device is not None and device.resident_id is not None
            if not personal or detail.get(events.BUTTON_EVENT) not in BUTTON_PRESSES:
                return []
            kind = events.SOS
        if kind in EVENT_ALERTS:
            alert_kind, severity, message = EVENT_ALERTS[kind]
            lat, lon = _num(detail.get("latitude")), _num(detail.get("longitude"))
            has_position = lat is not None and lon is not None and detail.get("valid", True) is not False
            position = (
                {"latitude": lat, "longitude": lon, **_scalars(detail, only=("accuracy_m", "time_utc"))}
                if has_position
                else None
            )
            if severity == "critical" and not has_position:
                message += "; position unknown"
            extra = _scalars(detail, exclude={"latitude", "longitude", "valid"})
            alert = self._alerts.raise_alert(
                alert_kind,
                severity,
                resident_id,
                message,
                {**extra, **base, "device_event": ev.kind, "position": position},
                key=device_id,
                notify=notify,
            )
            return [alert] if alert is not None else []
        if kind in (events.LOW_BATTERY, events.BATTERY):
            level = events.battery_percent(ev)
            limit = self._clinical.low_battery_pct
            low = kind == events.LOW_BATTERY or (level is not None and level <= limit)
            if not low:
                return []
            text = f"Device battery low ({level:.0f} %)" if level is not None else "Device battery low"
            alert = self._alerts.raise_alert(
                "low_battery",
                "warning",
                resident_id,
                text,
                {**base, "battery_pct": level},
                key=device_id,
                notify=notify if device is not None and not device.shared else (),
            )
            return [alert] if alert is not None else []
        return []

    # ------------------------------------------------------------------ shared tail

    def _finish(self, snap: RegistrySnapshot, r: Reading, *, raise_alerts: bool = True) -> Processed:
        resident = snap.resident(r.resident_id)
        a = self.assess(r.kind, r.values, r.flags, resident, year=r.effective_at.year)
        flags = list(a.flags)
        if r.resident_id is not None and resident is None:
            flags.append("unknown_resident")
        if resident is not None and not resident.consent:
            flags.append("no_consent")
        reading = replace(
            r,
            values=MappingProxyType(dict(a.values)),
            flags=tuple(dict.fromkeys(flags)),
            classification=a.classification,
        )
        alerts: list[Alert] = []
        if raise_alerts and a.crisis:
            alert = self._crisis_alert(snap, reading)
            if alert is not None:
                alerts.append(alert)
        if raise_alerts and reading.resident_id is not None:
            alerts.extend(self._threshold_alerts(snap, reading))
        values = {k: v.value for k, v in reading.values.items()}
        health_debug(log, "reading %s %s: %s", reading.id, reading.kind, values)
        return Processed(reading, tuple(alerts))

    def _threshold_alerts(self, snap: RegistrySnapshot, r: Reading) -> list[Alert]:
        """The kind's threshold alerts (the kind catalogue's ``alerts``) for a checked reading."""
        rules = KINDS[r.kind].alerts
        if not rules or any(f.startswith(_UNCHECKED) for f in r.flags):
            return []
        out: list[Alert] = []
        for rule in rules:
            v = r.values.get(rule.value)
            if v is None or not v.value < rule.below:
                continue
            alert = self._alerts.raise_alert(
                rule.alert,
                rule.severity,
                r.resident_id,
                rule.message,
                {
                    "value": v.value,
                    "unit": v.unit,
                    "below": rule.below,
                    "device_id": r.device.id,
                    "attribution": r.attribution,
                    "effective_at": r.effective_at.isoformat(),
                },
                notify=snap.guardians(r.resident_id),
                reading_id=r.id,
            )
            if alert is not None:
                out.append(alert)
        return out

    def _crisis_alert(self, snap: RegistrySnapshot, r: Reading) -> Alert | None:
        c = r.classification
        return self._alerts.raise_alert(
            "bp_crisis",
            "critical",
            r.resident_id,
            "Blood pressure at crisis level: see a doctor now / 血压达到危急水平,请马上就医",
            {
                "values": {k: v.value for k, v in r.values.items()},
                "unit": "mm[Hg]",
                "category": c.category if c is not None else None,
                "device_id": r.device.id,
                "attribution": r.attribution,
                "effective_at": r.effective_at.isoformat(),
            },
            key=None if r.resident_id is not None else r.device.id,
            notify=snap.guardians(r.resident_id),
            reading_id=r.id,
        )

    def assess(
        self,
        kind: str,
        values: Mapping[str, Value],
        flags: tuple[str, ...],
        resident: ResidentEntry | None,
        *,
        year: int,
    ) -> _Assessment:
        """Plausibility, derived BMI and classification; recomputes its own flags from scratch."""
        s = self._clinical
        derived = {f.split(":", 1)[1] for f in flags if f.startswith("derived:")}
        vals = {k: v for k, v in values.items() if k not in derived}
        out = [f for f in flags if not f.startswith(_ASSESSED)]
        spec = KINDS[kind]
        missing = [f"missing:{n}" for n in spec.required if n not in vals]
        implausible = [*cl.check_plausible(kind, vals, s), *cl.check_consistent(kind, vals)]
        out += missing + implausible
        if missing or implausible:
            return _Assessment(vals, tuple(out), None, False)
        if spec.classify == "bp":
            res = cl.classify_bp(vals["systolic"].value, vals["diastolic"].value, s)
            return _Assessment(vals, tuple(out), res.to_classification(), res.crisis)
        if spec.classify == "bmi":
            bmi_value = vals.get("bmi")
            if bmi_value is None:
                height = vals["height"].value if "height" in vals else None
                if height is None and resident is not None:
                    height = resident.height_cm
                if height is None:
                    return _Assessment(vals, tuple(out), None, False)
                bmi_value = Value(cl.bmi_of(vals["weight"].value, height), KG_PER_M2)
                vals["bmi"] = bmi_value
                out.append("derived:bmi")
                bad = cl.check_plausible(kind, {"bmi": bmi_value}, s)
                if bad:
                    return _Assessment(vals, (*out, *bad), None, False)
            age = resident.age_in(year) if resident is not None else None
            if age is not None and age < s.bmi.min_age:
                out.append("under_age:bmi")
                return _Assessment(vals, tuple(out), None, False)
            res = cl.classify_bmi(bmi_value.value, s)
            return _Assessment(vals, tuple(out), res.to_classification(), False)
        return _Assessment(vals, tuple(out), None, False)


def _scalars(
    detail: Mapping[str, Any], *, exclude: set[str] | None = None, only: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """JSON-safe scalar fields of an event's detail."""
    out: dict[str, Any] = {}
    for k, v in detail.items():
        if (exclude and k in exclude) or (only is not None and k not in only):
            continue
        if v is None or isinstance(v, str | bool | int) or (isinstance(v, float) and math.isfinite(v)):
            out[k] = v
    return out
