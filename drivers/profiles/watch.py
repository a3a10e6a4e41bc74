"""4G elderly GPS watches over TCP: ``watch.tcp`` (one frame) and ``watch.stream`` (one TCP read).

Frames ``[VV*ID*[IDX*]LLLL*CONTENT]`` (see :mod:`drivers.watch.codec`); keywords handled in
:mod:`drivers.watch.messages`. ``Decoded.reply`` holds the exact bytes to send back (``LK``
heartbeats and ``AL`` alarms must be answered or the watch reconnects, repeats or reboots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, DeviceEvent, Measurement
from drivers.profile import Framer, Profile
from drivers.watch.codec import build_frame, parse_frame
from drivers.watch.framer import WatchFramer
from drivers.watch.messages import interpret

DEFAULT_MAX_FRAME_BYTES = 16_384


def decode_bytes(data: bytes) -> Decoded:
    frame = parse_frame(data)
    r = interpret(frame)
    reply = build_frame(frame.vendor, frame.device_id, frame.index, r.reply) if r.reply is not None else None
    fields: dict[str, Any] = {
        "vendor": frame.vendor,
        "device_id": frame.device_id,
        "index": frame.index,
        "declared_length": frame.declared_length,
        "length_ok": frame.length_ok,
        **r.fields,
        "reply": reply.decode("latin-1") if reply is not None else None,
    }
    return Decoded(fields=fields, measurements=tuple(r.measurements), events=tuple(r.events), reply=reply)


def decode(frame: RawFrame) -> Decoded:
    return decode_bytes(frame.data)


def decode_stream(frame: RawFrame) -> Decoded:
    """One TCP read: every whole frame in it, plus the unfinished remainder."""
    framer = WatchFramer(DEFAULT_MAX_FRAME_BYTES)
    types: list[str | None] = []
    frames: list[dict[str, Any]] = []
    measurements: list[Measurement] = []
    events: list[DeviceEvent] = []
    replies = b""
    for data in framer.feed(frame.data):
        try:
            d = decode_bytes(data)
        except DecodeError as e:
            types.append(None)
            frames.append({"error": e.category, "detail": e.detail, "raw": data.decode("latin-1")})
            continue
        types.append(d.fields["type"])
        frames.append(dict(d.fields))
        measurements.extend(d.measurements)
        events.extend(d.events)
        replies += d.reply or b""
    fields = {
        "frame_count": len(frames),
        "types": types,
        "remainder": framer.pending.decode("latin-1"),
        "dropped_bytes": framer.dropped_bytes,
        "frames": frames,
    }
    return Decoded(
        fields=fields, measurements=tuple(measurements), events=tuple(events), reply=replies or None
    )


def decode_sequence(frames: Sequence[RawFrame]) -> Decoded:
    """Consecutive TCP reads of one connection, framed as the listener frames them."""
    joined = b"".join(f.data for f in frames)
    return decode_stream(replace(frames[-1], data=joined))


def framer() -> Framer:
    return WatchFramer(DEFAULT_MAX_FRAME_BYTES)


PROFILES = (
    Profile(
        name="watch.tcp",
        title="4G elderly GPS watch (Beesure/SeTracker 'watch' TCP protocol)",
        transport="tcp",
        decode=decode,
        exposes=("position", "heart_rate", "blood_pressure", "spo2", "temperature"),
        connect_policy="none",
        framer=framer,
        notes="Watches connect to the hut's listener ([watch] listen); LK and AL are answered.",
    ),
    Profile(
        name="watch.stream",
        title="4G watch TCP stream (several or partial frames per read)",
        transport="tcp",
        decode=decode_stream,
        decode_sequence=decode_sequence,
        framer=framer,
        notes="Diagnostic: decodes a whole TCP read; the listener frames streams itself.",
    ),
)
