"""``gatt.body_composition_measurement`` (0x2A9C) and its two-part form (``.sequence``).

A full record (30 bytes) does not fit the default MTU, so scales split it over two indications
with flag bit 12 ("multiple packet measurement"), each self-describing. ``decode_sequence``
merges consecutive bit-12 fragments into one record: a fragment that repeats a field the pending
record already has, or a fragment without bit 12, starts a new record (brief 5.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import present, tables, uuids
from drivers.gatt.date_time import DateTime
from drivers.gatt.walker import walk
from drivers.measurement import CM, KG, KJ, OHM, PERCENT, Decoded, Measurement, Value
from drivers.profile import BleMatch, MergeInto, Profile, Read, Subscribe
from drivers.profiles.gatt_date_time import SET_CLOCK
from drivers.profiles.gatt_weight_measurement import height, height_m, mass, mass_kg

MASSES = ("muscle_mass", "fat_free_mass", "soft_lean_mass", "body_water_mass", "weight")
OPTIONAL = (
    "timestamp",
    "user_id",
    "basal_metabolism_kj",
    "muscle_pct",
    *MASSES[:-1],
    "impedance_ohm",
    "weight",
    "height",
)


def record_fields(frame: RawFrame) -> dict[str, Any]:
    """The brief's record for one indication (no measurement)."""
    w = walk(tables.BODY_COMPOSITION, frame.data)
    v = w.values
    imperial = bool(w.flags & tables.BCM_IMPERIAL)
    out: dict[str, Any] = {
        "unit_system": "imperial" if imperial else "SI",
        "mass_unit": "lb" if imperial else "kg",
        "measurement_unsuccessful": w.unsuccessful,
        "multiple_packet": bool(w.flags & tables.BCM_MULTIPLE_PACKET),
        "body_fat_pct": None if w.unsuccessful else present.scaled(v["body_fat"], 1, 10),
        "timestamp": present.timestamp_fields(v.get("timestamp")),
        "user_id": v.get("user_id"),
        "basal_metabolism_kj": v.get("basal_metabolism"),
        "basal_metabolism_kcal": None if "basal_metabolism" not in v else v["basal_metabolism"] / 4.184,
        "muscle_pct": None if "muscle_pct" not in v else present.scaled(v["muscle_pct"], 1, 10),
        "impedance_ohm": None if "impedance" not in v else present.scaled(v["impedance"], 1, 10),
        "height": None,
        "height_unit": None,
        "height_m": None,
    }
    for name in MASSES:
        out[name] = mass(v[name], imperial) if name in v else None
        out[f"{name}_kg"] = mass_kg(v[name], imperial) if name in v else None
    if "height" in v:
        out["height"] = height(v["height"], imperial)
        out["height_unit"] = "in" if imperial else "m"
        out["height_m"] = height_m(v["height"], imperial)
    return out


def _stamp(fields: Mapping[str, Any] | None) -> DateTime | None:
    if fields is None:
        return None
    return DateTime(*(fields[k] for k in ("year", "month", "day", "hours", "minutes", "seconds")))


def measurement_of(fields: Mapping[str, Any]) -> Measurement | None:
    """The ``body_composition`` measurement of a (possibly merged) record, if it holds a value."""
    if fields["measurement_unsuccessful"]:
        return None
    values: dict[str, Value] = {}
    if fields["body_fat_pct"] is not None:
        values["body_fat_pct"] = Value(fields["body_fat_pct"], PERCENT)
    if fields["basal_metabolism_kj"] is not None:
        values["basal_metabolism"] = Value(float(fields["basal_metabolism_kj"]), KJ)
    if fields["muscle_pct"] is not None:
        values["muscle_pct"] = Value(fields["muscle_pct"], PERCENT)
    for name in MASSES:
        if fields[f"{name}_kg"] is not None:
            values[name] = Value(fields[f"{name}_kg"], KG)
    if fields["impedance_ohm"] is not None:
        values["impedance"] = Value(fields["impedance_ohm"], OHM)
    if fields["height_m"] is not None:
        values["height"] = Value(fields["height_m"] * 100, CM)
    if not values:
        return None
    stamp = fields["timestamp"]
    when: datetime | None = None
    note: str | None = "no device timestamp"
    if stamp is not None:
        if stamp["iso"] is not None:
            when, note = datetime.fromisoformat(stamp["iso"]), None
        else:
            note = "device timestamp invalid" if not stamp["valid"] else "device clock not set (date unknown)"
    return Measurement(
        kind="body_composition",
        values=values,
        device_time=when,
        device_time_note=note,
        user_index=present.user_index(fields["user_id"]),
        flags=("multiple_packet",) if fields["multiple_packet"] else (),
        extras=present.stamp_extras(_stamp(stamp), reported_unit=fields["mass_unit"]),
    )


def decode(frame: RawFrame) -> Decoded:
    fields = record_fields(frame)
    m = measurement_of(fields)
    return Decoded(fields=fields, measurements=() if m is None else (m,))


def merge_fields(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One record from fragments: the first value of every field wins."""
    merged = dict(parts[0])
    for part in parts[1:]:
        for key, value in part.items():
            if merged.get(key) is None and value is not None:
                merged[key] = value
        merged["measurement_unsuccessful"] = (
            merged["measurement_unsuccessful"] or part["measurement_unsuccessful"]
        )
    return merged


def starts_new_record(pending: Sequence[Mapping[str, Any]], fragment: Mapping[str, Any]) -> bool:
    """True when ``fragment`` cannot belong to the pending bit-12 record."""
    if not pending:
        return False
    if not fragment["multiple_packet"]:
        return True
    held = merge_fields(pending)
    return any(held.get(k) is not None and fragment.get(k) is not None for k in OPTIONAL)


def group(parts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive records merged by the bit-12 rule, in arrival order."""
    records: list[dict[str, Any]] = []
    pending: list[Mapping[str, Any]] = []
    for part in parts:
        if starts_new_record(pending, part):
            records.append(merge_fields(pending))
            pending = []
        if part["multiple_packet"]:
            pending.append(part)
        else:
            records.append(dict(part))
    if pending:
        records.append(merge_fields(pending))
    return records


def decode_sequence(frames: Sequence[RawFrame]) -> Decoded:
    if not frames:
        raise DecodeError("truncated", "no indications to merge", field="sequence")
    records = group([record_fields(f) for f in frames])
    measurements = tuple(m for m in (measurement_of(r) for r in records) if m is not None)
    fields: dict[str, Any] = {
        "records": len(records),
        "merged": records[0] if records else None,
        "items": records,
    }
    return Decoded(fields=fields, measurements=measurements)


def decode_one_as_sequence(frame: RawFrame) -> Decoded:
    return decode_sequence([frame])


PROFILES = (
    Profile(
        name="gatt.body_composition_measurement",
        title="Body composition scale (Body Composition Service, 0x2A9C)",
        transport="ble_gatt",
        decode=decode,
        decode_sequence=decode_sequence,
        exposes=("body_composition",),
        ble=BleMatch(service_uuids=(uuids.BODY_COMPOSITION,)),
        gatt_characteristics=(uuids.BODY_COMPOSITION_MEASUREMENT,),
        connect_policy="connect_on_advert",
        connect=(
            *SET_CLOCK,
            Read(uuids.BATTERY_LEVEL),
            Subscribe(uuids.WEIGHT_MEASUREMENT),
            Subscribe(uuids.BODY_COMPOSITION_MEASUREMENT),
            Subscribe(uuids.BATTERY_LEVEL),
        ),
        merge=MergeInto(part="weight", into="body_composition"),
        notes="two-part records (flag bit 12) and Weight Measurement + BCM are merged by the gateway",
    ),
    Profile(
        name="gatt.body_composition_measurement.sequence",
        title="Body Composition Measurement, several indications merged",
        transport="ble_gatt",
        decode=decode_one_as_sequence,
        decode_sequence=decode_sequence,
        notes="conformance form of the two-part merge; devices use gatt.body_composition_measurement",
    ),
)
