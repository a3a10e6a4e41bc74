"""Adapter silence: no advertisement at all for ``silent_after_s`` while devices are provisioned.

Pure state machine with injected monotonic time: the transport reports adverts and asks
:meth:`SilenceWatch.check` periodically; a ``"silent"`` result asks for a scanner restart (the
recovery path), ``"recovered"`` reports adverts flowing again.
"""

from __future__ import annotations

from typing import Literal

Change = Literal["silent", "still_silent", "recovered"] | None


class SilenceWatch:
    def __init__(self, silent_after_s: float, started_at: float) -> None:
        self.silent_after_s = silent_after_s
        self._last_advert = started_at
        self._last_restart = started_at
        self.silent = False

    @property
    def last_advert(self) -> float:
        return self._last_advert

    def advert(self, at: float) -> Change:
        """An advert arrived; returns ``"recovered"`` when it ends a silent episode."""
        self._last_advert = at
        if self.silent:
            self.silent = False
            return "recovered"
        return None

    def check(self, at: float, watching: bool = True) -> Change:
        """``"silent"`` when an episode starts, ``"still_silent"`` each further ``silent_after_s``
        (restart the scanner again), ``None`` otherwise. ``watching`` False (no provisioned
        device) never reports silence."""
        if not watching:
            self._last_restart = at  # the window starts again when devices get provisioned
            return None
        if at - max(self._last_advert, self._last_restart) < self.silent_after_s:
            return None
        self._last_restart = at
        if self.silent:
            return "still_silent"
        self.silent = True
        return "silent"
