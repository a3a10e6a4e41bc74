"""NMEA 0183 serial GPS (``nmea``): RMC and GGA sentences to position readings.

Checksum: XOR of every character strictly between ``$`` and ``*`` (upper or lower hex);
a sentence without one is rejected (gateway policy). Other sentence types with a good
checksum decode to their raw field list (a receiver sends GSV/GSA/VTG every second; they are
not errors). ``!`` sentences (AIS encapsulation) are ``unsupported``.

Validity (as pynmea2 reads it): RMC needs status ``A`` **and**, when the sentence carries one
(NMEA >= 2.3), an FAA mode indicator that names a fix (``A D E F M P R S``; ``N`` = not valid);
GGA needs a fix quality other than 0. An invalid sentence gives no position. The navigational
status (NMEA 4.10) does not change validity. A valid position that is not a measured one
(mode ``E`` estimated / dead reckoning, ``M`` manual input, ``S`` simulator; GGA quality 6, 7, 8)
is flagged (``position_estimated``, ``position_manual``, ``position_simulated``): it is kept
as a reading but never reaches the geofences (:mod:`gateway.geofence.positions`).

``accuracy_m`` of a position is a rough estimate, HDOP x 5 m (a typical consumer receiver's
user range error), only when HDOP is known. Two-digit years pivot at 80 (80-99 -> 19xx).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import DEG, M_PER_S, Decoded, M, Measurement, Value
from drivers.profile import Framer, Profile, SerialSettings
from drivers.serial.checksums import is_hex2, xor8_hex
from drivers.serial.framer import LineFramer

KNOT_KMH = 1.852
KNOT_MPS = 1852 / 3600
HDOP_TO_M = 5.0
_NUM = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_ADDR = re.compile(r"[A-Z0-9]{5}")
#: FAA mode indicators (RMC field 12) that name a fix; ``N`` and anything else do not.
FIX_MODES = frozenset("ADEFMPRS")
#: Fixes that are valid but not measured -> the flag their position carries.
MODE_FLAGS = {"E": "position_estimated", "M": "position_manual", "S": "position_simulated"}
QUALITY_FLAGS = {6: "position_estimated", 7: "position_manual", 8: "position_simulated"}


def _float(text: str, name: str) -> float | None:
    if text == "":
        return None
    if not _NUM.fullmatch(text):
        raise DecodeError("malformed", f"{text!r} is not a number", field=name)
    return float(text)


def _int(text: str, name: str) -> int | None:
    if text == "":
        return None
    if not text.isdigit():
        raise DecodeError("malformed", f"{text!r} is not an integer", field=name)
    return int(text)


def _angle(text: str, hemi: str, name: str, deg_max: int) -> float | None:
    """``ddmm.mmmm`` / ``dddmm.mmmm`` plus hemisphere -> signed decimal degrees."""
    if text == "":
        return None
    m = re.fullmatch(r"(\d+)(\d\d(?:\.\d*)?)", text)
    if not m:
        raise DecodeError("malformed", f"{text!r} is not ddmm.mmmm", field=name)
    degrees, minutes = int(m.group(1)), float(m.group(2))
    if minutes >= 60:
        raise DecodeError("out_of_range", f"minutes {minutes} >= 60", field=name)
    value = degrees + minutes / 60
    if value > deg_max:
        raise DecodeError("out_of_range", f"{value:.6f} beyond {deg_max} degrees", field=name)
    negative, positive = ("S", "N") if deg_max == 90 else ("W", "E")
    if hemi not in (negative, positive):
        raise DecodeError("malformed", f"hemisphere {hemi!r} is not {positive} or {negative}", field=name)
    return round(-value if hemi == negative else value, 9)


def _time(text: str) -> tuple[int, int, int] | None:
    if text == "":
        return None
    m = re.fullmatch(r"(\d\d)(\d\d)(\d\d)(?:\.\d*)?", text)
    if not m:
        raise DecodeError("malformed", f"{text!r} is not hhmmss", field="time_utc")
    hh, mm, ss = (int(g) for g in m.groups())
    if hh > 23 or mm > 59 or ss > 59:
        raise DecodeError("out_of_range", f"{text!r} is not a time of day", field="time_utc")
    return hh, mm, ss


def _date(text: str) -> tuple[int, int, int] | None:
    if text == "":
        return None
    m = re.fullmatch(r"(\d\d)(\d\d)(\d\d)", text)
    if not m:
        raise DecodeError("malformed", f"{text!r} is not ddmmyy", field="date")
    dd, mo, yy = (int(g) for g in m.groups())
    year = 1900 + yy if yy >= 80 else 2000 + yy
    try:
        datetime(year, mo, dd)
    except ValueError as e:
        raise DecodeError("out_of_range", f"{text!r}: {e}", field="date") from None
    return year, mo, dd


def _pad(parts: list[str], n: int) -> list[str]:
    return parts + [""] * (n - len(parts))


def _position(
    values: dict[str, Value],
    at: datetime | None,
    note: str | None,
    extras: dict[str, Any],
    flag: str | None,
) -> Measurement:
    flags = (flag,) if flag else ()
    return Measurement("position", values, device_time=at, device_time_note=note, flags=flags, extras=extras)


def _rmc(f: list[str], out: dict[str, Any]) -> tuple[Measurement, ...]:
    if len(f) < 9:
        raise DecodeError("malformed", f"RMC has {len(f)} fields, expected at least 9")
    f = _pad(f, 13)
    t, d = _time(f[0]), _date(f[8])
    out["time_utc"] = f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}" if t else None
    out["date"] = f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}" if d else None
    out["status"] = f[1] or None
    mode = f[11]
    out["valid"] = f[1] == "A" and (mode == "" or mode in FIX_MODES)
    out["latitude"] = _angle(f[2], f[3], "latitude", 90)
    out["longitude"] = _angle(f[4], f[5], "longitude", 180)
    knots = _float(f[6], "speed_knots")
    out["speed_knots"] = knots
    out["speed_kmh"] = None if knots is None else round(knots * KNOT_KMH, 6)
    out["course_deg"] = _float(f[7], "course_deg")
    var = _float(f[9], "magnetic_variation_deg")
    if var is not None and f[10] not in ("E", "W"):
        raise DecodeError(
            "malformed", f"variation direction {f[10]!r} is not E or W", field="magnetic_variation_deg"
        )
    out["magnetic_variation_deg"] = -var if var is not None and f[10] == "W" else var
    out["mode"] = mode or None
    out["nav_status"] = f[12] or None
    lat, lon = out["latitude"], out["longitude"]
    if not out["valid"] or lat is None or lon is None or (lat == 0 and lon == 0):
        return ()
    values = {"latitude": Value(lat, DEG), "longitude": Value(lon, DEG)}
    if knots is not None:
        values["speed"] = Value(round(knots * KNOT_MPS, 6), M_PER_S)
    if out["course_deg"] is not None:
        values["heading"] = Value(out["course_deg"], DEG)
    at = datetime(*d, *t, tzinfo=UTC) if d and t else None
    note = None if at else "no date/time in sentence"
    return (_position(values, at, note, {"source": "nmea.rmc"}, MODE_FLAGS.get(mode)),)


def _gga(f: list[str], out: dict[str, Any]) -> tuple[Measurement, ...]:
    if len(f) < 9:
        raise DecodeError("malformed", f"GGA has {len(f)} fields, expected at least 9")
    f = _pad(f, 14)
    t = _time(f[0])
    out["time_utc"] = f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}" if t else None
    out["latitude"] = _angle(f[1], f[2], "latitude", 90)
    out["longitude"] = _angle(f[3], f[4], "longitude", 180)
    quality = _int(f[5], "fix_quality")
    if quality is not None and quality > 8:
        raise DecodeError("out_of_range", f"fix quality {quality} is not 0..8", field="fix_quality")
    out["fix_quality"] = quality
    out["valid"] = bool(quality)
    out["satellites"] = _int(f[6], "satellites")
    out["hdop"] = _float(f[7], "hdop")
    out["altitude_m"] = _float(f[8], "altitude_m")
    out["geoid_separation_m"] = _float(f[10], "geoid_separation_m")
    out["dgps_age_s"] = _float(f[12], "dgps_age_s")
    out["dgps_station"] = f[13] or None
    lat, lon = out["latitude"], out["longitude"]
    if not out["valid"] or lat is None or lon is None or (lat == 0 and lon == 0):
        return ()
    values = {"latitude": Value(lat, DEG), "longitude": Value(lon, DEG)}
    if out["altitude_m"] is not None:
        values["elevation"] = Value(out["altitude_m"], M)
    if out["hdop"] is not None:
        values["accuracy_m"] = Value(round(out["hdop"] * HDOP_TO_M, 6), M)
    extras = {"source": "nmea.gga", "time_utc": out["time_utc"], "satellites": out["satellites"]}
    flag = QUALITY_FLAGS.get(quality or 0)
    return (_position(values, None, "GGA carries the time of day only", extras, flag),)


#: Fields (address included) of a complete sentence, to tell "cut short" from "sent without checksum".
_FULL_COUNT = {"RMC": 12, "GGA": 15}


def _complete_without_checksum(body: str) -> bool:
    parts = body.split(",")
    want = _FULL_COUNT.get(parts[0][-3:])
    return want is not None and len(parts) >= want


def _checked_body(data: bytes) -> str:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("malformed", "sentence is not ASCII") from None
    body = text.rstrip("\r\n")
    terminated = body != text
    if not body:
        raise DecodeError("malformed" if terminated else "truncated", "empty sentence")
    if body[0] == "!":
        raise DecodeError("unsupported", "'!' sentences are AIS encapsulation, not positions")
    if body[0] != "$":
        raise DecodeError("malformed", "sentence does not start with '$'")
    star = body.rfind("*")
    if star < 0:
        if terminated or _complete_without_checksum(body):
            raise DecodeError("missing_checksum", "no '*hh' checksum", field="checksum")
        raise DecodeError("truncated", "sentence ends before its '*' checksum")
    given = body[star + 1 :]
    if not terminated and len(given) < 2 and all(c in "0123456789abcdefABCDEF" for c in given):
        raise DecodeError("truncated", "sentence ends inside its checksum")
    if given == "":
        raise DecodeError("missing_checksum", "empty checksum after '*'", field="checksum")
    if not is_hex2(given):
        raise DecodeError("malformed", f"{given!r} is not two hex digits", field="checksum")
    want = xor8_hex(body[1:star].encode("ascii"))
    if given.upper() != want:
        raise DecodeError("bad_checksum", f"got {given}, computed {want}", field="checksum")
    return body[1:star]


def decode(frame: RawFrame) -> Decoded:
    parts = _checked_body(frame.data).split(",")
    addr = parts[0]
    if addr.startswith("P") and len(addr) >= 2:
        talker, sentence = "P", addr[1:]
    elif _ADDR.fullmatch(addr):
        talker, sentence = addr[:2], addr[2:]
    else:
        raise DecodeError("malformed", f"address {addr!r} is not talker + sentence type", field="talker")
    out: dict[str, Any] = {"talker": talker, "sentence": sentence, "checksum_ok": True}
    if sentence == "RMC":
        measurements = _rmc(parts[1:], out)
    elif sentence == "GGA":
        measurements = _gga(parts[1:], out)
    else:
        out["fields"] = parts[1:]
        measurements = ()
    return Decoded(fields=out, measurements=measurements)


def framer() -> Framer:
    return LineFramer(b"\n", max_length=256, start=(b"$", b"!"))


PROFILE = Profile(
    name="nmea",
    title="NMEA 0183 GPS receiver (serial)",
    transport="serial",
    decode=decode,
    exposes=("position",),
    connect_policy="stay_connected",
    serial=SerialSettings(baudrate=9600),
    framer=framer,
    notes="RMC and GGA give positions; 4800 baud on older receivers (set baudrate per device).",
)
