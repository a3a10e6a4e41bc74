"""Checksum rules a serial line format can declare (``[checksum] rule = ...``)."""

from __future__ import annotations

from typing import Final, Literal

ChecksumRule = Literal["sum8_hex_upto_cs", "nmea_xor", "none"]
RULES: Final[frozenset[str]] = frozenset(ChecksumRule.__args__)  # type: ignore[attr-defined]


def sum8_hex(data: bytes) -> str:
    """Sum of byte values mod 256 as two upper-case hex digits (Tanita ``CS``)."""
    return f"{sum(data) & 0xFF:02X}"


def xor8_hex(data: bytes) -> str:
    """XOR of byte values as two upper-case hex digits (NMEA 0183 ``*hh``)."""
    acc = 0
    for b in data:
        acc ^= b
    return f"{acc:02X}"


def is_hex2(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789abcdefABCDEF" for c in text)
