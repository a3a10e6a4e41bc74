"""Bluetooth SIG 16-bit UUIDs used by the health profiles, as bleak's 128-bit strings."""

from __future__ import annotations

BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """``0x2A35`` -> ``"00002a35-0000-1000-8000-00805f9b34fb"`` (bleak's normalised form)."""
    return f"0000{short:04x}{BASE_SUFFIX}"


def normalize(value: str) -> str:
    """Any UUID spelling (``"2A35"``, ``"0x2a35"``, 128-bit) in bleak's lower-case 128-bit form."""
    v = value.strip().lower()
    if v.startswith("0x"):
        v = v[2:]
    if len(v) == 4:
        return f"0000{v}{BASE_SUFFIX}"
    if len(v) == 8:
        return f"{v}{BASE_SUFFIX}"
    return v


# Services
BLOOD_PRESSURE = uuid16(0x1810)
WEIGHT_SCALE = uuid16(0x181D)
BODY_COMPOSITION = uuid16(0x181B)
HEART_RATE = uuid16(0x180D)
LOCATION_AND_NAVIGATION = uuid16(0x1819)
CURRENT_TIME_SERVICE = uuid16(0x1805)
BATTERY_SERVICE = uuid16(0x180F)
BTHOME = uuid16(0xFCD2)

# Characteristics
BLOOD_PRESSURE_MEASUREMENT = uuid16(0x2A35)
INTERMEDIATE_CUFF_PRESSURE = uuid16(0x2A36)
BLOOD_PRESSURE_FEATURE = uuid16(0x2A49)
WEIGHT_MEASUREMENT = uuid16(0x2A9D)
WEIGHT_SCALE_FEATURE = uuid16(0x2A9E)
BODY_COMPOSITION_MEASUREMENT = uuid16(0x2A9C)
BODY_COMPOSITION_FEATURE = uuid16(0x2A9B)
HEART_RATE_MEASUREMENT = uuid16(0x2A37)
LOCATION_AND_SPEED = uuid16(0x2A67)
DATE_TIME = uuid16(0x2A08)
CURRENT_TIME = uuid16(0x2A2B)
RECORD_ACCESS_CONTROL_POINT = uuid16(0x2A52)
BATTERY_LEVEL = uuid16(0x2A19)
