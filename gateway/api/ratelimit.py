"""Token buckets for API routes that must not be hammered (kiosk sign-in: issue 17 item 10).

:class:`RateLimit` keeps one bucket per client address and one for everybody: a request takes
a token from both, or is refused with the seconds until it would be allowed. The number of
client buckets is bounded (the fullest are forgotten first), so that many addresses cannot
grow it without bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(frozen=True, slots=True)
class Rate:
    burst: int
    """requests allowed at once"""
    per_s: float
    """requests allowed per second after the burst"""


class RateLimit:
    def __init__(
        self,
        per_client: Rate,
        overall: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 1024,
    ) -> None:
        self._per_client = per_client
        self._overall = overall
        self._clock = clock
        self._max_clients = max_clients
        self._clients: dict[str, _Bucket] = {}
        self._all = _Bucket(float(overall.burst), clock())
        self.refused = 0

    @staticmethod
    def _refill(b: _Bucket, rate: Rate, now: float) -> None:
        b.tokens = min(float(rate.burst), b.tokens + (now - b.at) * rate.per_s)
        b.at = now

    def _forget(self, now: float) -> None:
        """Drop buckets that are full again (nothing to remember), else the older half."""
        for b in self._clients.values():
            self._refill(b, self._per_client, now)
        full = [k for k, b in self._clients.items() if b.tokens >= self._per_client.burst]
        for k in full or list(self._clients)[: self._max_clients // 2]:
            del self._clients[k]

    def take(self, client: str) -> float:
        """0.0 when ``client`` may go ahead (a token is taken), else seconds to wait."""
        now = self._clock()
        mine = self._clients.get(client)
        if mine is None:
            if len(self._clients) >= self._max_clients:
                self._forget(now)
            mine = self._clients[client] = _Bucket(float(self._per_client.burst), now)
        self._refill(mine, self._per_client, now)
        self._refill(self._all, self._overall, now)
        wait = max(
            (1.0 - mine.tokens) / self._per_client.per_s if mine.tokens < 1.0 else 0.0,
            (1.0 - self._all.tokens) / self._overall.per_s if self._all.tokens < 1.0 else 0.0,
        )
        if wait > 0.0:
            self.refused += 1
            return wait
        mine.tokens -= 1.0
        self._all.tokens -= 1.0
        return 0.0
