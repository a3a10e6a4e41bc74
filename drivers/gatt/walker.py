"""The one walker over GATT flag tables.

A characteristic value is a flags field followed by fields that are present when given flag bits
are set. Profiles declare that as a :class:`Layout` (data); :func:`walk` reads any layout and
returns the raw typed values (ints, :class:`MedFloat`, :class:`DateTime`, lists), leaving scaling
and presentation to the profile. Trailing bytes after the last flagged field are ignored
(forward compatibility, brief section 0); a flagged field cut short is ``truncated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from drivers.errors import DecodeError
from drivers.gatt import date_time
from drivers.gatt.ieee11073 import float_from_raw, sfloat_from_raw

Kind = Literal["u8", "u16", "u24", "u32", "s16", "s24", "s32", "sfloat", "float", "date_time", "u16_rest"]

_SIZES: Mapping[str, int] = {
    "u8": 1,
    "u16": 2,
    "u24": 3,
    "u32": 4,
    "s16": 2,
    "s24": 3,
    "s32": 4,
    "sfloat": 2,
    "float": 4,
    "date_time": date_time.SIZE,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One field: present when every bit of ``when`` is set and no bit of ``unless`` is."""

    name: str
    kind: Kind
    when: int = 0
    unless: int = 0

    def present(self, flags: int) -> bool:
        return (flags & self.when) == self.when and not (flags & self.unless)


@dataclass(frozen=True, slots=True)
class Layout:
    """A characteristic's layout.

    ``unsuccessful`` names a field and the raw value that means "measurement unsuccessful"
    (WSS/BCS 0xFFFF); after it only the fields in ``kept_when_unsuccessful`` are read.
    """

    name: str
    flags_size: int
    fields: tuple[Field, ...]
    unsuccessful: tuple[str, int] | None = None
    kept_when_unsuccessful: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Walked:
    flags: int
    values: Mapping[str, Any]
    unsuccessful: bool
    consumed: int


def _read(kind: Kind, data: bytes, pos: int, name: str) -> tuple[Any, int]:
    if kind == "u16_rest":
        rest = data[pos:]
        if not rest:
            raise DecodeError("malformed", "flagged as present but no values follow", field=name)
        if len(rest) % 2:
            raise DecodeError(
                "malformed", f"{len(rest)} bytes left, not a whole number of uint16", field=name
            )
        return [int.from_bytes(rest[i : i + 2], "little") for i in range(0, len(rest), 2)], len(data)
    size = _SIZES[kind]
    chunk = data[pos : pos + size]
    if len(chunk) < size:
        raise DecodeError("truncated", f"needs {size} bytes at offset {pos}, {len(chunk)} left", field=name)
    end = pos + size
    if kind == "date_time":
        return date_time.from_bytes(chunk, field=name), end
    signed = kind.startswith("s") and kind != "sfloat"
    raw = int.from_bytes(chunk, "little", signed=signed)
    if kind == "sfloat":
        return sfloat_from_raw(raw), end
    if kind == "float":
        return float_from_raw(raw), end
    return raw, end


def walk(layout: Layout, data: bytes) -> Walked:
    """Read ``data`` by ``layout``; raises :class:`DecodeError` naming the field at fault."""
    if len(data) < layout.flags_size:
        raise DecodeError(
            "truncated", f"{layout.name} needs at least {layout.flags_size} flag byte(s)", field="flags"
        )
    flags = int.from_bytes(data[: layout.flags_size], "little")
    pos = layout.flags_size
    values: dict[str, Any] = {}
    unsuccessful = False
    for f in layout.fields:
        if not f.present(flags):
            continue
        if unsuccessful and f.name not in layout.kept_when_unsuccessful:
            continue
        values[f.name], pos = _read(f.kind, data, pos, f.name)
        if layout.unsuccessful is not None and layout.unsuccessful == (f.name, values[f.name]):
            unsuccessful = True
    return Walked(flags, values, unsuccessful, pos)


@dataclass(frozen=True, slots=True)
class Bit:
    """A named bit field inside an integer (feature and status words)."""

    name: str
    shift: int
    width: int = 1


def bits(value: int, table: tuple[Bit, ...]) -> dict[str, int | bool]:
    """Named fields of ``value``: single bits as bools, wider fields as ints."""
    out: dict[str, int | bool] = {}
    for b in table:
        raw = (value >> b.shift) & ((1 << b.width) - 1)
        out[b.name] = bool(raw) if b.width == 1 else raw
    return out


def fixed_int(data: bytes, size: int, name: str) -> int:
    """A fixed-size little-endian unsigned value (features, battery level)."""
    if len(data) != size:
        raise DecodeError(
            "truncated" if not data else "bad_length",
            f"needs exactly {size} byte(s), got {len(data)}",
            field=name,
        )
    return int.from_bytes(data, "little")
