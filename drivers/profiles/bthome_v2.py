"""``bthome.v2``: BTHome v2 advertisements (service data UUID 0xFCD2): SOS buttons and sensors.

Payload: a device-information byte (bit 0 encrypted, bit 2 trigger based, bits 5-7 version = 2)
then objects ``id + value`` whose sizes come from :mod:`drivers.profiles.bthome_objects`.
Button events become ``DeviceEvent("button", ...)`` (the gateway turns them into SOS alerts when
the button is bound to a resident); battery becomes ``DeviceEvent("battery", ...)``. Encrypted
payloads are ``unsupported`` (no key management yet). An object id not in the table ends the walk:
what follows is kept as ``unparsed_hex``.
"""

from __future__ import annotations

from typing import Any

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import uuids
from drivers.measurement import Decoded, DeviceEvent
from drivers.profile import BleMatch, Profile
from drivers.profiles.bthome_objects import BUTTON_EVENTS, DIMMER_EVENTS, OBJECTS

VERSION = 2


def _objects(data: bytes) -> tuple[list[dict[str, Any]], int | None, bytes]:
    out: list[dict[str, Any]] = []
    pos = 0
    while pos < len(data):
        oid = data[pos]
        spec = OBJECTS.get(oid)
        if spec is None:
            return out, oid, data[pos:]
        pos += 1
        size = spec.size
        if spec.kind == "length_prefixed":
            if pos >= len(data):
                raise DecodeError("truncated", f"object 0x{oid:02x} length byte missing", field=spec.name)
            size = data[pos]
            pos += 1
        chunk = data[pos : pos + size]
        if len(chunk) < size:
            raise DecodeError(
                "truncated", f"object 0x{oid:02x} needs {size} bytes, {len(chunk)} left", field=spec.name
            )
        pos += size
        item: dict[str, Any] = {"id": oid, "name": spec.name, "unit": spec.unit}
        if spec.kind == "length_prefixed":
            item["value"] = chunk.decode("utf-8", errors="replace") if spec.name == "text" else chunk.hex()
        elif spec.kind == "event" and spec.name == "button":
            item["value"] = BUTTON_EVENTS.get(chunk[0], "reserved")
            item["raw"] = chunk[0]
        elif spec.kind == "event":
            item["value"] = DIMMER_EVENTS.get(chunk[0], "reserved")
            item["steps"] = chunk[1]
        else:
            raw = int.from_bytes(chunk, "little", signed=spec.signed)
            item["value"] = (
                bool(raw)
                if spec.kind == "binary"
                else (raw if spec.factor == 1.0 else round(raw * spec.factor, 6))
            )
        out.append(item)
    return out, None, b""


def decode(frame: RawFrame) -> Decoded:
    data = frame.data
    if not data:
        raise DecodeError("truncated", "no device information byte", field="device_info")
    info = data[0]
    version = info >> 5
    if version != VERSION:
        raise DecodeError("unsupported", f"BTHome version {version}, only v2 is decoded", field="device_info")
    if info & 0x01:
        raise DecodeError(
            "unsupported", "encrypted BTHome payload (no bind key configured)", field="device_info"
        )
    objects, unknown, rest = _objects(data[1:])
    first: dict[str, Any] = {}
    for o in objects:
        first.setdefault(o["name"], o["value"])
    buttons = [o["value"] for o in objects if o["name"] == "button"]
    fields: dict[str, Any] = {
        "version": version,
        "encrypted": False,
        "trigger_based": bool(info & 0x04),
        "packet_id": first.get("packet_id"),
        "battery_pct": first.get("battery"),
        "temperature_c": first.get("temperature"),
        "humidity_pct": first.get("humidity"),
        "buttons": buttons or None,
        "objects": objects,
        "unknown_object_id": unknown,
        "unparsed_hex": rest.hex() if rest else None,
    }
    events: list[DeviceEvent] = []
    for index, event in enumerate(buttons):
        if event != "none":
            events.append(
                DeviceEvent(
                    "button", {"event": event, "button_index": index, "packet_id": fields["packet_id"]}
                )
            )
    if fields["battery_pct"] is not None:
        events.append(DeviceEvent("battery", {"percent": fields["battery_pct"]}))
    return Decoded(fields=fields, events=tuple(events))


PROFILE = Profile(
    name="bthome.v2",
    title="BTHome v2 advertisement (buttons, sensors)",
    transport="ble_adv",
    decode=decode,
    ble=BleMatch(service_data_uuids=(uuids.BTHOME,)),
    connect_policy="advert_only",
    notes="button presses become button events (SOS when bound to a resident); no encrypted payloads",
)
