"""The reading kinds the gateway knows: value names, UCUM units, lanes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from buffer.record import Lane
from drivers import measurement as u


@dataclass(frozen=True, slots=True)
class ValueSpec:
    unit: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class KindSpec:
    name: str
    lane: Lane
    values: Mapping[str, ValueSpec]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.values.items() if s.required)


def _kind(name: str, lane: Lane, **values: ValueSpec) -> KindSpec:
    return KindSpec(name, lane, MappingProxyType(dict(values)))


_BODY = {
    "weight": ValueSpec(u.KG, required=True),
    "body_fat_pct": ValueSpec(u.PERCENT),
    "fat_mass": ValueSpec(u.KG),
    "fat_free_mass": ValueSpec(u.KG),
    "muscle_mass": ValueSpec(u.KG),
    "muscle_pct": ValueSpec(u.PERCENT),
    "soft_lean_mass": ValueSpec(u.KG),
    "bone_mass": ValueSpec(u.KG),
    "body_water_mass": ValueSpec(u.KG),
    "body_water_pct": ValueSpec(u.PERCENT),
    "basal_metabolism": ValueSpec(u.KJ),
    "visceral_fat_rating": ValueSpec("1"),
    "metabolic_age": ValueSpec(u.YEAR),
    "impedance": ValueSpec(u.OHM),
    "bmi": ValueSpec(u.KG_PER_M2),
    "height": ValueSpec(u.CM),
}

KINDS: Mapping[str, KindSpec] = MappingProxyType(
    {
        k.name: k
        for k in (
            _kind(
                "blood_pressure",
                Lane.CLINICAL,
                systolic=ValueSpec(u.MMHG, required=True),
                diastolic=ValueSpec(u.MMHG, required=True),
                mean_arterial_pressure=ValueSpec(u.MMHG),
                pulse_rate=ValueSpec(u.PER_MIN),
            ),
            _kind(
                "weight",
                Lane.CLINICAL,
                weight=ValueSpec(u.KG, required=True),
                bmi=ValueSpec(u.KG_PER_M2),
                height=ValueSpec(u.CM),
            ),
            _kind("body_composition", Lane.CLINICAL, **_BODY),
            _kind("heart_rate", Lane.TELEMETRY, heart_rate=ValueSpec(u.PER_MIN, required=True)),
            _kind(
                "position",
                Lane.TELEMETRY,
                latitude=ValueSpec(u.DEG, required=True),
                longitude=ValueSpec(u.DEG, required=True),
                accuracy_m=ValueSpec(u.M),
                elevation=ValueSpec(u.M),
                speed=ValueSpec(u.M_PER_S),
                heading=ValueSpec(u.DEG),
            ),
            _kind(
                "spo2",
                Lane.CLINICAL,
                spo2=ValueSpec(u.PERCENT, required=True),
                pulse_rate=ValueSpec(u.PER_MIN),
            ),
            _kind("temperature", Lane.CLINICAL, temperature=ValueSpec(u.CEL, required=True)),
        )
    }
)

# Units a device may report that the gateway converts on the way in.
CONVERSIONS: Mapping[tuple[str, str], float] = MappingProxyType(
    {
        ("m", "cm"): 100.0,
        ("kPa", "mm[Hg]"): 7.50061683,
        ("[lb_av]", "kg"): 0.45359237,
        ("kcal", "kJ"): 4.184,
    }
)


def normalise(kind: str, name: str, value: float, unit: str) -> tuple[float, str] | None:
    """Express ``value unit`` in the kind's unit for ``name``; None when the name is unknown."""
    spec = KINDS[kind].values.get(name)
    if spec is None:
        return None
    if unit == spec.unit:
        return value, unit
    factor = CONVERSIONS.get((unit, spec.unit))
    if factor is None:
        return None
    return value * factor, spec.unit
