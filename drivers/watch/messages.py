"""What a watch frame says: keyword handlers giving fields, measurements, events and the reply.

Position reports (``UD``, ``UD2``, ``UD3``, ``UD_LTE``, ``WT``..., ``AL``...) share one field
list; ``AL`` frames raise every alarm bit 16-22 of the terminal status as a device event (SOS
even without a GPS fix) and are always answered. Unknown keywords are kept (``type`` plus the
raw ``content``), never fatal, never answered.

Watch time is taken as UTC (Traccar's reading; firmware-dependent, see the brief's open
doubts); ``000000`` dates mean "no clock yet" and give no time rather than an error.
Speed is read as km/h (Traccar's reading of the ambiguous vendor text) and handed to the gateway in m/s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drivers import events
from drivers.errors import DecodeError
from drivers.measurement import CEL, DEG, M_PER_S, MMHG, PER_MIN, PERCENT, DeviceEvent, M, Measurement, Value
from drivers.watch.codec import WatchFrame

#: Alarm bits of the terminal status (high 16 bits), per the vendor table and Traccar.
ALARM_BITS: tuple[tuple[int, events.AlarmKind], ...] = (
    (16, events.SOS),
    (17, events.LOW_BATTERY),
    (18, events.OUT_OF_FENCE),
    (19, events.INTO_FENCE),
    (20, events.WATCH_TAKEN_OFF),
    (21, events.FALL_DOWN),
    (22, events.FALL_DOWN),
)
_NUM = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


@dataclass
class Result:
    fields: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    reply: str | None = None


def _num(text: str, name: str) -> float | None:
    t = text.strip()
    if t == "":
        return None
    if not _NUM.fullmatch(t):
        raise DecodeError("malformed", f"{text!r} is not a number", field=name)
    return float(t)


def _int(text: str, name: str) -> int | None:
    v = _num(text, name)
    if v is None:
        return None
    if v != int(v):
        raise DecodeError("malformed", f"{text!r} is not a whole number", field=name)
    return int(v)


def _time(d: str, t: str) -> str | None:
    if not re.fullmatch(r"\d{6}", d):
        raise DecodeError("malformed", f"date {d!r} is not ddmmyy", field="time_utc")
    if not re.fullmatch(r"\d{6}(\.\d*)?", t):
        raise DecodeError("malformed", f"time {t!r} is not hhmmss", field="time_utc")
    if d == "000000":
        return None
    try:
        at = datetime(2000 + int(d[4:6]), int(d[2:4]), int(d[0:2]), int(t[0:2]), int(t[2:4]), int(t[4:6]))
    except ValueError as e:
        raise DecodeError("out_of_range", f"{d} {t}: {e}", field="time_utc") from None
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _coord(value: str, hemi: str, name: str, limit: float, negative: str) -> float | None:
    v = _num(value, name)
    if v is None:
        return None
    if abs(v) > limit:
        raise DecodeError("out_of_range", f"{v} beyond {limit} degrees", field=name)
    h = hemi.strip().upper()
    if h not in ("", "N", "S", "E", "W"):
        raise DecodeError("malformed", f"hemisphere {hemi!r}", field=name)
    return -abs(v) if h == negative else v


def alarms_of(status: int) -> list[events.AlarmKind]:
    names: list[events.AlarmKind] = []
    for bit, name in ALARM_BITS:
        if status >> bit & 1 and name not in names:
            names.append(name)
    return names


def _towers(f: list[str], out: dict[str, Any]) -> None:
    """Cell towers and Wi-Fi access points after the status (best effort: never fatal)."""
    try:
        i = 0
        count = int(f[i])
        i += 1
        out["cell_count"] = count
        cells = []
        if count > 0:
            out["mcc"], out["mnc"] = int(f[i + 1]), int(f[i + 2])
            i += 3
            for _ in range(count):
                cells.append({"lac": f[i], "cid": f[i + 1], "rssi": _int(f[i + 2], "rssi")})
                i += 3
        out["cells"] = cells
        if i < len(f) and f[i] != "":
            wifi_count = int(f[i])
            i += 1
            wifi = []
            for _ in range(wifi_count):
                wifi.append({"ssid": f[i], "mac": f[i + 1], "rssi": _int(f[i + 2], "rssi")})
                i += 3
            out["wifi_count"] = wifi_count
            out["wifi"] = wifi
    except (IndexError, ValueError, DecodeError):
        out["towers_incomplete"] = True


def _position(frame: WatchFrame, r: Result, *, alarm: bool) -> None:
    f = frame.args
    if len(f) < 16:
        raise DecodeError("malformed", f"{frame.keyword} has {len(f)} fields, expected at least 16")
    out = r.fields
    out["time_utc"] = _time(f[0], f[1])
    out["validity"] = f[2]
    out["valid"] = f[2] == "A"
    out["latitude"] = _coord(f[3], f[4], "latitude", 90, "S")
    out["longitude"] = _coord(f[5], f[6], "longitude", 180, "W")
    out["speed_kmh"] = _num(f[7], "speed_kmh")
    out["course_deg"] = _num(f[8], "course_deg")
    out["altitude_m"] = _num(f[9], "altitude_m")
    out["satellites"] = _int(f[10], "satellites")
    out["gsm_signal"] = _int(f[11], "gsm_signal")
    out["battery_pct"] = _int(f[12], "battery_pct")
    out["steps"] = _int(f[13], "steps")
    out["tumbles"] = _int(f[14], "tumbles")
    status_text = f[15].strip()
    if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", status_text):
        raise DecodeError("malformed", f"terminal status {f[15]!r} is not hex", field="status_hex")
    status = int(status_text, 16)
    out["status_hex"] = status_text
    alarms = alarms_of(status)
    out["alarms"] = alarms
    out["sos"] = bool(status >> 16 & 1)
    _towers(f[16:], out)
    at = (
        datetime.strptime(out["time_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if out["time_utc"]
        else None
    )
    lat, lon = out["latitude"], out["longitude"]
    if out["valid"] and lat is not None and lon is not None:
        values = {"latitude": Value(lat, DEG), "longitude": Value(lon, DEG)}
        if out["speed_kmh"] is not None:
            values["speed"] = Value(round(out["speed_kmh"] / 3.6, 6), M_PER_S)
        if out["course_deg"] is not None:
            values["heading"] = Value(out["course_deg"], DEG)
        if out["altitude_m"] is not None:
            values["elevation"] = Value(out["altitude_m"], M)
        extras = {
            "source": f"watch.{frame.keyword}",
            "satellites": out["satellites"],
            "gsm_signal": out["gsm_signal"],
        }
        note = None if at else "watch clock not set"
        r.measurements.append(
            Measurement("position", values, device_time=at, device_time_note=note, extras=extras)
        )
    if out["battery_pct"] is not None:
        r.events.append(events.battery(out["battery_pct"]))
    if alarm:
        where = {
            "valid": out["valid"],
            "latitude": lat if out["valid"] else None,
            "longitude": lon if out["valid"] else None,
            "time_utc": out["time_utc"],
            "status_hex": status_text,
            "cell_count": out.get("cell_count"),
        }
        for name in alarms or [events.ALARM]:
            r.events.append(events.alarm(name, where))
        r.reply = "AL"


def _lk(frame: WatchFrame, r: Result) -> None:
    f = frame.args
    for i, name in enumerate(("steps", "tumbles", "battery_pct")):
        if i < len(f):
            r.fields[name] = _int(f[i], name)
    if r.fields.get("battery_pct") is not None:
        r.events.append(events.battery(r.fields["battery_pct"]))
    r.reply = "LK"


def _health(frame: WatchFrame, r: Result, kind: str) -> None:
    f = frame.args
    out = r.fields
    hr_index = 0
    if kind in ("BPHRT", "BLOOD"):
        if len(f) < 2:
            raise DecodeError("malformed", f"{frame.keyword} needs systolic and diastolic")
        sys_, dia = _int(f[0], "systolic_mmhg"), _int(f[1], "diastolic_mmhg")
        out["systolic_mmhg"], out["diastolic_mmhg"] = sys_, dia
        if sys_ is not None and dia is not None:
            if not (0 < dia < sys_ < 400):
                raise DecodeError(
                    "out_of_range", f"{sys_}/{dia} mmHg is not a blood pressure", field="systolic_mmhg"
                )
            bp = {"systolic": Value(sys_, MMHG), "diastolic": Value(dia, MMHG)}
            hr = _int(f[2], "heart_rate_bpm") if len(f) > 2 else None
            if hr:
                bp["pulse_rate"] = Value(hr, PER_MIN)
            r.measurements.append(Measurement("blood_pressure", bp))
        hr_index = 2
    if kind in ("BPHRT", "BLOOD", "PULSE", "HEART"):
        hr = _int(f[hr_index], "heart_rate_bpm") if hr_index < len(f) else None
        out["heart_rate_bpm"] = hr
        if hr is not None and hr > 0:
            if hr > 300:
                raise DecodeError("out_of_range", f"{hr} bpm", field="heart_rate_bpm")
            r.measurements.append(Measurement("heart_rate", {"heart_rate": Value(hr, PER_MIN)}))
    elif kind in ("TEMP", "BTEMP2"):
        vals = f if kind == "TEMP" else f[1:]
        flag_ok = kind == "TEMP" or (bool(f) and (_int(f[0], "temperature_flag") or 0) > 0)
        t = _num(vals[0], "temperature_c") if vals and flag_ok else None
        out["temperature_c"] = t
        if t is not None:
            r.measurements.append(Measurement("temperature", {"temperature": Value(t, CEL)}))
    elif kind == "OXYGEN":
        spo2 = _int(f[1], "spo2_pct") if len(f) > 1 else None
        out["spo2_pct"] = spo2
        if spo2 is not None and spo2 > 0:
            if spo2 > 100:
                raise DecodeError("out_of_range", f"SpO2 {spo2} %", field="spo2_pct")
            r.measurements.append(Measurement("spo2", {"spo2": Value(spo2, PERCENT)}))


_HEALTH = ("PULSE", "HEART", "BLOOD", "BPHRT", "TEMP", "BTEMP2", "OXYGEN")


def interpret(frame: WatchFrame) -> Result:
    """Fields, measurements, events and reply content for one parsed frame."""
    kw = frame.keyword
    r = Result(fields={})
    r.fields["type"] = kw
    upper = kw.upper()
    if upper == "LK":
        _lk(frame, r)
    elif upper.startswith(("UD", "WT")):
        _position(frame, r, alarm=False)
    elif upper.startswith("AL") and not frame.args:
        no_position = {"valid": False, "detail": "alarm frame without position fields"}
        r.events.append(events.alarm(events.ALARM, no_position))
        r.reply = "AL"
    elif upper.startswith("AL"):
        _position(frame, r, alarm=True)
    elif upper in _HEALTH:
        _health(frame, r, upper)
    elif kw == "INIT":
        r.reply = "INIT,1"
    elif kw in ("TKQ", "TKQ2"):
        r.reply = kw
    elif kw == "CCID":
        r.fields["iccid"] = frame.args[0] if frame.args else None
    else:
        r.fields["content"] = frame.content.decode("latin-1")
    return r
