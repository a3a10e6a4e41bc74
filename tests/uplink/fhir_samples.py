"""Readings of every kind, built through the gateway's own wire encoding (uplink.codec)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from buffer.ids import uuid7
from drivers.measurement import Value
from gateway.kinds import KINDS
from uplink.codec import Classification, DeviceRef, Reading

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

SAMPLE_VALUES: dict[str, dict[str, float]] = {
    "blood_pressure": {"systolic": 128, "diastolic": 82, "mean_arterial_pressure": 97, "pulse_rate": 71},
    "weight": {"weight": 61.4, "bmi": 22.5, "height": 165.2},
    "body_composition": {
        "weight": 61.4,
        "bmi": 22.5,
        "height": 165.2,
        "body_fat_pct": 24.1,
        "fat_free_mass": 46.6,
        "soft_lean_mass": 43.9,
        "body_water_mass": 33.8,
        "impedance": 512,
        "muscle_mass": 43.2,
    },
    "heart_rate": {"heart_rate": 64},
    "spo2": {"spo2": 97, "pulse_rate": 70},
    "temperature": {"temperature": 36.6},
    "position": {"latitude": 30.1, "longitude": 104.2},
}


def _device_number(kind: str) -> int:
    """A kind's sample device: the kinds above in name order, then the catalogue's others."""
    order = sorted(SAMPLE_VALUES) + sorted(k for k in KINDS if k not in SAMPLE_VALUES)
    return order.index(kind)


def catalogue_sample(kind: str) -> dict[str, float]:
    """A kind without a sample above (found in the kind catalogue): the middle of each plausible range."""
    return {n: (v.plausible[0] + v.plausible[1]) / 2 for n, v in KINDS[kind].values.items() if v.plausible}


def make(
    kind: str,
    *,
    resident: str | None = "r-001",
    revision: int = 0,
    rid: str | None = None,
    flags: tuple[str, ...] = (),
    device_time: bool = False,
    values: dict[str, float] | None = None,
    classification: Classification | None = None,
    offset_s: float = 0,
) -> dict[str, Any]:
    spec = KINDS[kind]
    vals = values or SAMPLE_VALUES.get(kind) or catalogue_sample(kind)
    when = T0 + timedelta(seconds=offset_s)
    r = Reading(
        id=rid or uuid7(),
        kind=kind,
        values={n: Value(v, spec.values[n].unit) for n, v in vals.items()},
        device=DeviceRef(
            "cuff-1" if kind == "blood_pressure" else f"{kind}-dev",
            "omron.bp.ble",
            f"F4:5E:AB:A8:08:{_device_number(kind):02X}",
        ),
        received_at=when,
        effective_at=when - timedelta(seconds=30) if device_time else when,
        time_source="device" if device_time else "gateway",
        resident_id=resident,
        attribution="personal" if resident else "unattributed",
        measured_at=(when - timedelta(seconds=30)).replace(tzinfo=None).isoformat() if device_time else None,
        flags=flags,
        classification=classification,
        revision=revision,
    )
    return r.to_wire_dict()
