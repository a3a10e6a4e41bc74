"""Kiosk sign-in is rate-limited per client and overall (issue 17 item 10: 10,300 attempts in
1.5 s enumerated residents and a card number with their names)."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from gateway.api import kiosk
from gateway.api.ratelimit import Rate, RateLimit
from gateway.config import ApiConfig
from tests.support.kiosk import kiosk_gateway


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_rapid_sign_in_attempts_are_refused_with_retry_after(state_dir: Path) -> None:
    clock = Clock()
    async with kiosk_gateway(state_dir, ApiConfig()) as rig:
        rig.app[kiosk.SIGN_IN_LIMIT] = RateLimit(kiosk.SIGN_IN_PER_CLIENT, kiosk.SIGN_IN_OVERALL, clock=clock)
        async with TestClient(TestServer(rig.app)) as client:
            codes = []
            for i in range(200):  # trying resident numbers as fast as the socket allows
                r = await client.post("/api/v1/session", json={"method": "id", "value": f"R{i:04d}"})
                codes.append(r.status)
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                    assert (await r.json())["retry_after_s"] >= 1
            assert sum(c != 429 for c in codes) == kiosk.SIGN_IN_PER_CLIENT.burst
            clock.t += 5.0  # one more attempt after the wait
            r = await client.post("/api/v1/session", json={"method": "id", "value": "R0001"})
            assert r.status == 201
            r = await client.post("/api/v1/session", json={"method": "id", "value": "R0001"})
            assert r.status == 429


def test_the_overall_limit_holds_against_many_addresses() -> None:
    clock = Clock()
    limit = RateLimit(Rate(10, 0.2), Rate(30, 1.0), clock=clock, max_clients=64)
    allowed = sum(limit.take(f"10.0.{i // 250}.{i % 250}") == 0.0 for i in range(10_300))
    assert allowed == 30
    clock.t += 10.0
    allowed = sum(limit.take(f"10.1.{i // 250}.{i % 250}") == 0.0 for i in range(1000))
    assert allowed == 10
    assert len(limit._clients) <= 64
    assert limit.refused == 10_300 - 30 + 1000 - 10
