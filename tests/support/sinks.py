"""A FrameSink for transport tests: decodes every frame with one profile, as the gateway does,
records frames, decoded results, decode errors and link events, and returns the decoded reply."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded
from drivers.profile import Profile
from drivers.source import LinkEvent


class DecodingSink:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.frames: list[RawFrame] = []
        self.decoded: list[Decoded] = []
        self.errors: list[DecodeError] = []
        self.links: list[LinkEvent] = []
        self._changed = asyncio.Event()

    async def frame(self, frame: RawFrame) -> bytes | None:
        self.frames.append(frame)
        self._changed.set()
        try:
            d = self.profile.decode(frame)
        except DecodeError as e:
            self.errors.append(e)
            return None
        self.decoded.append(d)
        return d.reply

    def link(self, event: LinkEvent) -> None:
        self.links.append(event)
        self._changed.set()

    @property
    def states(self) -> list[str]:
        return [e.state for e in self.links]

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for ``condition`` (something happening, not a speed check); fail after 10 s."""
        async with asyncio.timeout(10):
            while not condition():
                self._changed.clear()
                await self._changed.wait()
