"""Readings taken while the clock is not synchronised are remembered for re-timing, boundedly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.config import ApiConfig
from tests.support.kiosk import kiosk_gateway


async def test_a_hut_without_a_clock_does_not_remember_every_reading_forever(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0), synced=False)
    async with kiosk_gateway(tmp_path, ApiConfig(), clock=clock, max_unsynced=3) as rig:
        gw, pipeline = rig.gateway, rig.gateway.pipeline
        with caplog.at_level(logging.WARNING, logger="hutgw.core"):
            for i in range(7):
                processed = pipeline.from_manual(
                    "blood_pressure",
                    {"systolic": 120 + i, "diastolic": 80},
                    resident_id=None,
                    measured_at=None,
                )
                assert processed.reading.gateway_clock_synced is False
                await gw.submit(processed)
            for i in range(20):  # telemetry keeps its mark and monotonic reference, not remembered
                await gw.submit(
                    pipeline.from_manual(
                        "heart_rate", {"heart_rate": 60 + i}, resident_id=None, measured_at=None
                    )
                )
        assert gw.counters.readings["blood_pressure"] == 7  # every reading is stored
        assert gw.counters.readings["heart_rate"] == 20
        assert gw.counters.unsynced_forgotten == 4  # only the newest three are kept for re-timing
        warnings = [r for r in caplog.records if "clock not synchronised" in r.getMessage()]
        assert len(warnings) == 1  # said once, not once per reading
