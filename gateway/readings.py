"""Readings inside the gateway: the dataclasses and their wire form live in :mod:`uplink.codec`.

Re-exported here for the gateway's modules. ``to_wire_dict`` is the codec's under its former
name, and ``decode`` gives a stored payload's JSON object, for callers not yet moved to
``Reading.to_wire_dict()`` and ``Reading.from_wire()``.
"""

from __future__ import annotations

from typing import Any

import orjson

from uplink.codec import Attribution as Attribution
from uplink.codec import Classification as Classification
from uplink.codec import DeviceRef as DeviceRef
from uplink.codec import Reading as Reading
from uplink.codec import TimeSource as TimeSource

to_wire_dict = Reading.to_wire_dict


def decode(payload: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(payload)
    return data
