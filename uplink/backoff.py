"""Exponential backoff with full jitter, capped, reset after a healthy period."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """``next_delay()`` returns a uniform draw in [0, min(cap, initial * 2**attempt)].

    Call ``healthy(connected_for_s)`` when a connection ends: if it lasted at least
    ``healthy_after_s`` the attempt counter starts over.
    """

    initial_s: float = 1.0
    cap_s: float = 300.0
    healthy_after_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def ceiling(self) -> float:
        return min(self.cap_s, self.initial_s * float(2 ** min(self.attempt, 62)))

    def next_delay(self) -> float:
        delay = self.rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def connection_ended(self, connected_for_s: float) -> None:
        if connected_for_s >= self.healthy_after_s:
            self.reset()

    def reset(self) -> None:
        self.attempt = 0
