"""Batch ids: UUIDv7 strings (time-ordered), made here so the outbox needs nothing from uplink."""

from __future__ import annotations

import os
import uuid


def batch_id(now_s: float) -> str:
    ms = int(now_s * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = ms << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
