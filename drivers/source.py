"""How transports hand frames to the gateway (the gateway implements :class:`FrameSink`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from drivers.frames import RawFrame

LinkState = Literal["connected", "disconnected", "advertising", "error", "silent"]


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A change in a device link: ``source`` is the device address (as in ``RawFrame.source``)."""

    source: str
    state: LinkState
    at: datetime
    detail: str = ""
    rssi: int | None = None


class FrameSink(Protocol):
    """Where a transport delivers what it receives.

    ``frame`` returns the bytes to send back to the device (watch protocol replies), or
    ``None``. It must not raise for bad frames: the gateway decodes, counts and keeps them.
    ``link`` reports connection state changes (shown in status and metrics).
    """

    async def frame(self, frame: RawFrame) -> bytes | None: ...

    def link(self, event: LinkEvent) -> None: ...
