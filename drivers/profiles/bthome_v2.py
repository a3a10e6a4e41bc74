"""``bthome.v2``: BTHome v2 advertisements (service data UUID 0xFCD2): SOS buttons and sensors.

Payload: a device-information byte (bit 0 encrypted, bit 1 MAC included, bit 2 trigger based,
bits 5-7 version = 2), the advertiser's MAC (6 bytes, least significant first) when bit 1 is
set (read as bthome-ble reads it: exposed as ``mac``, never walked as objects), then objects
``id + value`` whose sizes come from :mod:`drivers.profiles.bthome_objects`.
Button events become ``button`` device events (:mod:`drivers.events`; the gateway turns them into
SOS alerts when the button is bound to a resident); a button value the table does not name
(``reserved``, e.g. 0xFE) is no event. Battery becomes a ``battery`` event. Encrypted payloads are
``unsupported`` (no key management yet). An object id not in the table, or an object longer than
what is left, ends the walk (``undecodable`` says which): the objects before it are kept, what
follows is kept as ``unparsed_hex``; an advert whose very first object is cut short is
``truncated``.
"""

from __future__ import annotations

from typing import Any

from drivers import events
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import uuids
from drivers.measurement import Decoded, DeviceEvent
from drivers.profile import BleMatch, Profile
from drivers.profiles.bthome_objects import BUTTON_EVENTS, COMMANDS, DIMMER_EVENTS, OBJECTS

VERSION = 2
MAC_INCLUDED = 0x02  # device information bit 1: the advertiser's MAC (6 bytes, reversed) follows


def _objects(data: bytes) -> tuple[list[dict[str, Any]], str | None, int | None, bytes]:
    """The objects in ``data`` until the end or the first one that cannot be decoded.

    Returns the objects, why the walk stopped early (``unknown_object``: an id not in the
    table, ``truncated_object``: an object longer than what is left; else None), the id it
    stopped at and the bytes from there (kept raw). As bthome-ble does, what was decoded before
    is kept: objects have no length on the wire, so nothing after that point can be read.
    """
    out: list[dict[str, Any]] = []
    pos = 0
    while pos < len(data):
        oid = data[pos]
        spec = OBJECTS.get(oid)
        if spec is None:
            return out, "unknown_object", oid, data[pos:]
        at = pos + 1
        size = spec.size
        if spec.kind in ("length_prefixed", "command"):
            if at >= len(data):
                return out, "truncated_object", oid, data[pos:]
            size = data[at] if spec.kind == "length_prefixed" else 1 + (data[at] & 0x1F)
            at += 1
        chunk = data[at : at + size]
        if len(chunk) < size:
            return out, "truncated_object", oid, data[pos:]
        pos = at + size
        item: dict[str, Any] = {"id": oid, "name": spec.name, "unit": spec.unit}
        if spec.kind == "length_prefixed":
            item["value"] = chunk.decode("utf-8", errors="replace") if spec.name == "text" else chunk.hex()
        elif spec.kind == "command":
            item["value"] = COMMANDS.get(chunk[0], "reserved")
            item["arguments_hex"] = chunk[1:].hex()
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
    return out, None, None, b""


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
    payload, mac = data[1:], None
    if info & MAC_INCLUDED:
        if len(payload) < 6:
            raise DecodeError("truncated", f"MAC flagged but {len(payload)} of 6 bytes present", field="mac")
        mac = ":".join(f"{b:02X}" for b in reversed(payload[:6]))
        payload = payload[6:]
    objects, stopped, stop_id, rest = _objects(payload)
    if stopped == "truncated_object" and not objects:
        raise DecodeError(
            "truncated",
            f"object 0x{stop_id:02x} needs more than the {len(rest) - 1} bytes left",
            field="objects",
        )
    first: dict[str, Any] = {}
    for o in objects:
        first.setdefault(o["name"], o["value"])
    buttons = [o["value"] for o in objects if o["name"] == "button"]
    fields: dict[str, Any] = {
        "version": version,
        "encrypted": False,
        "mac_included": mac is not None,
        "mac": mac,
        "trigger_based": bool(info & 0x04),
        "packet_id": first.get("packet_id"),
        "battery_pct": first.get("battery"),
        "temperature_c": first.get("temperature"),
        "humidity_pct": first.get("humidity"),
        "buttons": buttons or None,
        "objects": objects,
        "undecodable": stopped,
        "unknown_object_id": stop_id if stopped == "unknown_object" else None,
        "unparsed_hex": rest.hex() if rest else None,
    }
    signalled: list[DeviceEvent] = []
    for index, event in enumerate(buttons):
        if event not in ("none", "reserved"):  # a reserved value is no press (bthome-ble: no event)
            signalled.append(events.button(event, index, fields["packet_id"]))
    if fields["battery_pct"] is not None:
        signalled.append(events.battery(fields["battery_pct"]))
    return Decoded(fields=fields, events=tuple(signalled))


PROFILE = Profile(
    name="bthome.v2",
    title="BTHome v2 advertisement (buttons, sensors)",
    transport="ble_adv",
    decode=decode,
    ble=BleMatch(service_data_uuids=(uuids.BTHOME,)),
    connect_policy="advert_only",
    notes="button presses become button events (SOS when bound to a resident); no encrypted payloads",
)
