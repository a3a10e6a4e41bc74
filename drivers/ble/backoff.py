"""Jittered exponential backoff (house style: every retry waits base x 2^n, capped, with jitter)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.25

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        raw = min(self.max_s, self.base_s * 2.0 ** min(attempt, 30))
        return max(0.0, raw * (1 + rng.uniform(-self.jitter, self.jitter)))
