"""The watch frame ``[VV*DEVICEID*[IDX*]LLLL*CONTENT]``: parse one frame, build a reply.

``LLLL`` is the content length in 4 hex digits; it is often wrong in the field, so a mismatch
is reported (``length_ok``) and never fatal. Where a frame ends is the framer's decision
(bracket depth, :mod:`drivers.watch.framer`): content may hold ``[`` and ``]`` (Wi-Fi SSIDs).
Binary content is unescaped here (``0x7D 0x01..0x05`` -> ``} [ ] , *``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.errors import DecodeError
from drivers.watch.framer import MIN_FRAME_BYTES, WatchFramer

_ESCAPES = {1: b"}", 2: b"[", 3: b"]", 4: b",", 5: b"*"}
_HEX = re.compile(rb"[0-9A-Fa-f]{1,8}")
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_VENDOR = re.compile(rb"[A-Za-z0-9]{2}")
_ID = re.compile(rb"[A-Za-z0-9]{1,32}")


@dataclass(frozen=True, slots=True)
class WatchFrame:
    vendor: str
    device_id: str
    index: str | None
    declared_length: int
    content: bytes
    length_ok: bool

    @property
    def keyword(self) -> str:
        return self.content.split(b",", 1)[0].decode("latin-1")

    @property
    def args(self) -> list[str]:
        """The ``,``-separated fields after the keyword (empty list when there are none)."""
        _, sep, rest = self.content.partition(b",")
        return rest.decode("latin-1").split(",") if sep else []


def unescape(content: bytes) -> bytes:
    if b"\x7d" not in content:
        return content
    out = bytearray()
    i = 0
    while i < len(content):
        b = content[i]
        if b == 0x7D and i + 1 < len(content) and content[i + 1] in _ESCAPES:
            out += _ESCAPES[content[i + 1]]
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


def parse_frame(data: bytes) -> WatchFrame:
    """Parse exactly one frame (surrounding whitespace allowed); raises DecodeError."""
    raw = data.strip(b" \t\r\n")
    if not raw:
        raise DecodeError("truncated", "no frame yet")
    if raw[0] != 0x5B:
        raise DecodeError("malformed", "frame does not start with '['")
    framer = WatchFramer(max(len(raw), MIN_FRAME_BYTES))
    frames = framer.feed(raw)
    rest = framer.pending
    if not frames and raw[-1] == 0x5D and rest == raw:
        frames, rest = [raw], b""  # unbalanced '[' in the content: in a stream, the next header ends it
    if not frames:
        raise DecodeError("truncated", "no closing ']' yet")
    if len(frames) > 1 or rest or framer.dropped_bytes:
        raise DecodeError("malformed", "data after the closing ']' (several frames? use watch.stream)")
    inner = raw[1:-1]
    parts = inner.split(b"*", 3)
    if len(parts) < 4:
        raise DecodeError("malformed", "expected VENDOR*ID*LENGTH*CONTENT")
    vendor, device_id, third, rest = parts
    index: bytes | None = None
    if _HEX4.fullmatch(third) and len(rest) >= 5 and rest[4:5] == b"*" and _HEX4.fullmatch(rest[:4]):
        index, third, rest = third, rest[:4], rest[5:]
    if not _VENDOR.fullmatch(vendor):
        raise DecodeError("malformed", f"vendor {vendor!r} is not two letters/digits", field="vendor")
    if not _ID.fullmatch(device_id):
        raise DecodeError("malformed", f"device id {device_id!r} is not alphanumeric", field="device_id")
    if not _HEX.fullmatch(third):
        raise DecodeError("malformed", f"length {third!r} is not hex", field="declared_length")
    declared = int(third, 16)
    content = unescape(rest)
    return WatchFrame(
        vendor=vendor.decode("ascii"),
        device_id=device_id.decode("ascii"),
        index=index.decode("ascii") if index is not None else None,
        declared_length=declared,
        content=content,
        length_ok=declared in (len(rest), len(content)),
    )


def build_frame(vendor: str, device_id: str, index: str | None, content: str) -> bytes:
    """A server-to-watch frame with the right length field (``LK`` -> ``[VV*ID*0002*LK]``)."""
    body = content.encode("latin-1")
    head = f"[{vendor}*{device_id}*" + (f"{index}*" if index is not None else "")
    return head.encode("ascii") + f"{len(body):04X}*".encode("ascii") + body + b"]"
