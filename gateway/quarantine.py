"""Frames that could not be decoded, kept for inspection (raw bytes as hex, JSON lines).

Bounded on disk: the file rotates once past ``max_bytes`` (one previous generation kept), so
a device spewing garbage cannot fill the SD card.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import orjson

from drivers.frames import RawFrame


class Quarantine:
    def __init__(self, path: Path, *, max_bytes: int = 1_000_000) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.count = 0

    def keep(self, frame: RawFrame, *, device_id: str | None, profile: str | None, error: str) -> None:
        line = orjson.dumps(
            {
                "at": frame.received_at.isoformat(),
                "device": device_id,
                "source": frame.source,
                "channel": frame.channel,
                "profile": profile,
                "error": error,
                "hex": frame.data.hex(),
            }
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # nothing kept yet
            if self.path.stat().st_size > self.max_bytes:
                os.replace(self.path, self.path.with_suffix(self.path.suffix + ".1"))
        with self.path.open("ab") as f:
            f.write(line + b"\n")
        self.count += 1
