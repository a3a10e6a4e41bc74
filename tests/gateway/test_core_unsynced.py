"""Readings taken while the clock is not synchronised are remembered for re-timing, boundedly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from buffer.outbox import Outbox
from buffer.settings import OutboxSettings
from gateway.alerts import AlertManager
from gateway.clinical import ClinicalSettings
from gateway.clock import FakeClock
from gateway.core import Gateway
from gateway.events import EventBus
from gateway.pipeline import Pipeline
from gateway.quarantine import Quarantine
from gateway.registry import Registry
from gateway.sessions import KioskSessions


async def test_a_hut_without_a_clock_does_not_remember_every_reading_forever(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0), synced=False)
    registry = Registry(tmp_path / "registry.db")
    outbox = Outbox(
        tmp_path / "outbox.db",
        settings=OutboxSettings(maintain_interval_s=None),
        clock=lambda: clock.now().timestamp(),
    )
    try:
        async with outbox:
            sessions = KioskSessions(clock, 300.0)
            alerts = AlertManager(clock, 900.0)
            gw: Gateway
            pipeline = Pipeline(
                registry=lambda: gw.snapshot(),
                sessions=sessions,
                clinical=ClinicalSettings.default(),
                alerts=alerts,
                clock=clock,
                max_device_skew_s=86_400.0,
            )
            gw = Gateway(
                gateway_id="hut-test",
                clock=clock,
                outbox=outbox,
                registry=registry,
                pipeline=pipeline,
                sessions=sessions,
                alerts=alerts,
                events=EventBus(),
                quarantine=Quarantine(tmp_path / "quarantine.jsonl"),
                max_unsynced=3,
            )
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
    finally:
        registry.close()
