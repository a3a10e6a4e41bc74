"""The BTHome v2 object table (bthome.io format, facts only): id -> name, size, sign, scale, unit.

Objects have no length on the wire, so an id missing here stops the walk (the rest is kept raw).
Table as of bthome.io ``src/format.html`` (2026-04-30: signed speed/acceleration 0x62/0x63,
light level 0x64, settings revision 0x65, command 0x3B); 0xF0-0xF2 device information.
``length_prefixed`` objects (text, raw) carry their size in the byte after the id; a
``command`` object carries its argument count in the low 5 bits of that byte, then an opcode.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Obj:
    name: str
    size: int
    signed: bool = False
    factor: float = 1.0
    unit: str | None = None
    kind: str = "number"  # "number", "binary", "event", "length_prefixed", "command"


def _n(name: str, size: int, factor: float = 1.0, unit: str | None = None, signed: bool = False) -> Obj:
    return Obj(name, size, signed, factor, unit)


def _b(name: str) -> Obj:
    return Obj(name, 1, kind="binary")


OBJECTS: dict[int, Obj] = {
    0x00: _n("packet_id", 1),
    0x01: _n("battery", 1, unit="%"),
    0x02: _n("temperature", 2, 0.01, "Cel", signed=True),
    0x03: _n("humidity", 2, 0.01, "%"),
    0x04: _n("pressure", 3, 0.01, "hPa"),
    0x05: _n("illuminance", 3, 0.01, "lx"),
    0x06: _n("mass_kg", 2, 0.01, "kg"),
    0x07: _n("mass_lb", 2, 0.01, "[lb_av]"),
    0x08: _n("dewpoint", 2, 0.01, "Cel", signed=True),
    0x09: _n("count", 1),
    0x0A: _n("energy", 3, 0.001, "kW.h"),
    0x0B: _n("power", 3, 0.01, "W"),
    0x0C: _n("voltage", 2, 0.001, "V"),
    0x0D: _n("pm2_5", 2, unit="ug/m3"),
    0x0E: _n("pm10", 2, unit="ug/m3"),
    0x0F: _b("generic_boolean"),
    0x10: _b("power_on"),
    0x11: _b("opening"),
    0x12: _n("co2", 2, unit="ppm"),
    0x13: _n("tvoc", 2, unit="ug/m3"),
    0x14: _n("moisture", 2, 0.01, "%"),
    0x15: _b("battery_low"),
    0x16: _b("battery_charging"),
    0x17: _b("carbon_monoxide"),
    0x18: _b("cold"),
    0x19: _b("connectivity"),
    0x1A: _b("door"),
    0x1B: _b("garage_door"),
    0x1C: _b("gas"),
    0x1D: _b("heat"),
    0x1E: _b("light"),
    0x1F: _b("lock"),
    0x20: _b("moisture_detected"),
    0x21: _b("motion"),
    0x22: _b("moving"),
    0x23: _b("occupancy"),
    0x24: _b("plug"),
    0x25: _b("presence"),
    0x26: _b("problem"),
    0x27: _b("running"),
    0x28: _b("safety"),
    0x29: _b("smoke"),
    0x2A: _b("sound"),
    0x2B: _b("tamper"),
    0x2C: _b("vibration"),
    0x2D: _b("window"),
    0x2E: _n("humidity", 1, unit="%"),
    0x2F: _n("moisture", 1, unit="%"),
    0x3A: Obj("button", 1, kind="event"),
    0x3B: Obj("command", 0, kind="command"),
    0x3C: Obj("dimmer", 2, kind="event"),
    0x3D: _n("count", 2),
    0x3E: _n("count", 4),
    0x3F: _n("rotation", 2, 0.1, "deg", signed=True),
    0x40: _n("distance_mm", 2, unit="mm"),
    0x41: _n("distance_m", 2, 0.1, "m"),
    0x42: _n("duration", 3, 0.001, "s"),
    0x43: _n("current", 2, 0.001, "A"),
    0x44: _n("speed", 2, 0.01, "m/s"),
    0x45: _n("temperature", 2, 0.1, "Cel", signed=True),
    0x46: _n("uv_index", 1, 0.1),
    0x47: _n("volume", 2, 0.1, "L"),
    0x48: _n("volume", 2, unit="mL"),
    0x49: _n("volume_flow_rate", 2, 0.001, "m3/h"),
    0x4A: _n("voltage", 2, 0.1, "V"),
    0x4B: _n("gas", 3, 0.001, "m3"),
    0x4C: _n("gas", 4, 0.001, "m3"),
    0x4D: _n("energy", 4, 0.001, "kW.h"),
    0x4E: _n("volume", 4, 0.001, "L"),
    0x4F: _n("water", 4, 0.001, "L"),
    0x50: _n("timestamp", 4, unit="s"),
    0x51: _n("acceleration", 2, 0.001, "m/s2"),
    0x52: _n("gyroscope", 2, 0.001, "deg/s"),
    0x53: Obj("text", 0, kind="length_prefixed"),
    0x54: Obj("raw", 0, kind="length_prefixed"),
    0x55: _n("volume_storage", 4, 0.001, "L"),
    0x56: _n("conductivity", 2, unit="uS/cm"),
    0x57: _n("temperature", 1, unit="Cel", signed=True),
    0x58: _n("temperature", 1, 0.35, "Cel", signed=True),
    0x59: _n("count", 1, signed=True),
    0x5A: _n("count", 2, signed=True),
    0x5B: _n("count", 4, signed=True),
    0x5C: _n("power", 4, 0.01, "W", signed=True),
    0x5D: _n("current", 2, 0.001, "A", signed=True),
    0x5E: _n("direction", 2, 0.01, "deg"),
    0x5F: _n("precipitation", 2, 0.1, "mm"),
    0x60: _n("channel", 1),
    0x61: _n("rotational_speed", 2, unit="/min"),
    0x62: _n("speed", 4, 0.000001, "m/s", signed=True),
    0x63: _n("acceleration", 4, 0.000001, "m/s2", signed=True),
    0x64: _n("light_level", 1),  # 0 dark, 1 twilight, 2 bright
    0x65: _n("settings_revision", 1),
    0xF0: _n("device_type_id", 2),
    0xF1: _n("firmware_version", 4),
    0xF2: _n("firmware_version", 3),
}

BUTTON_EVENTS = {
    0x00: "none",
    0x01: "press",
    0x02: "double_press",
    0x03: "triple_press",
    0x04: "long_press",
    0x05: "long_double_press",
    0x06: "long_triple_press",
    0x80: "hold_press",
}
"""Button event ids (bthome.io, bthome-ble ``BUTTON_EVENTS``); any other value is ``reserved``
and never an event (bthome-ble fires nothing for it: 0xFE is not a held button)."""
DIMMER_EVENTS = {0x00: "none", 0x01: "rotate_left", 0x02: "rotate_right"}
COMMANDS = {0x00: "off", 0x01: "on", 0x02: "toggle", 0x03: "step_up", 0x04: "step_down"}
