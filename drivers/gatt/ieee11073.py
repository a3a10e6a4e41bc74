"""IEEE-11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) medical numbers (protocol brief, section 1)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from drivers.errors import DecodeError

# Special values exist only with exponent 0; keyed by the raw mantissa bits.
_SFLOAT_SPECIAL = {0x07FF: "NaN", 0x0800: "NRes", 0x07FE: "+INF", 0x0802: "-INF", 0x0801: "RESERVED"}
_FLOAT_SPECIAL = {
    0x007FFFFF: "NaN",
    0x00800000: "NRes",
    0x007FFFFE: "+INF",
    0x00800002: "-INF",
    0x00800001: "RESERVED",
}


@dataclass(frozen=True, slots=True)
class MedFloat:
    """One IEEE-11073 number: ``mantissa x 10^exponent``, or a special value (``special`` set)."""

    mantissa: int
    exponent: int
    special: str | None = None

    @property
    def decimal(self) -> Decimal | None:
        """The exact value (no binary-float surprises), ``None`` for special values."""
        if self.special is not None:
            return None
        return Decimal(self.mantissa).scaleb(self.exponent)

    @property
    def number(self) -> float | None:
        d = self.decimal
        return None if d is None else float(d)

    def field(self) -> float | str:
        """The value as the brief shows it inside records: a number or the special's string."""
        if self.special is not None:
            return self.special
        return float(Decimal(self.mantissa).scaleb(self.exponent))


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def sfloat_from_raw(raw: int) -> MedFloat:
    """``raw`` is the 16-bit value after little-endian decoding."""
    exponent = _signed(raw >> 12, 4)
    mantissa_bits = raw & 0x0FFF
    if exponent == 0 and mantissa_bits in _SFLOAT_SPECIAL:
        return MedFloat(_signed(mantissa_bits, 12), 0, _SFLOAT_SPECIAL[mantissa_bits])
    return MedFloat(_signed(mantissa_bits, 12), exponent)


def float_from_raw(raw: int) -> MedFloat:
    """``raw`` is the 32-bit value after little-endian decoding."""
    exponent = _signed(raw >> 24, 8)
    mantissa_bits = raw & 0x00FFFFFF
    if exponent == 0 and mantissa_bits in _FLOAT_SPECIAL:
        return MedFloat(_signed(mantissa_bits, 24), 0, _FLOAT_SPECIAL[mantissa_bits])
    return MedFloat(_signed(mantissa_bits, 24), exponent)


def parse_sfloat(data: bytes, field: str = "sfloat") -> MedFloat:
    """Exactly two bytes, little-endian."""
    if len(data) != 2:
        raise DecodeError(
            "truncated" if not data else "bad_length", f"SFLOAT needs 2 bytes, got {len(data)}", field=field
        )
    return sfloat_from_raw(int.from_bytes(data, "little"))


def parse_float(data: bytes, field: str = "float") -> MedFloat:
    """Exactly four bytes, little-endian."""
    if len(data) != 4:
        raise DecodeError(
            "truncated" if not data else "bad_length", f"FLOAT needs 4 bytes, got {len(data)}", field=field
        )
    return float_from_raw(int.from_bytes(data, "little"))


def fields_of(value: MedFloat) -> dict[str, object]:
    """The brief's record for a standalone number (``gatt.sfloat`` / ``gatt.float``)."""
    return {
        "mantissa": value.mantissa,
        "exponent": value.exponent,
        "value": value.field(),
        "special": value.special,
    }
