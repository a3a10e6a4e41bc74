"""A full disk does not touch the uplink (issue 17 item 3): while every new reading is refused,
the uplink keeps its one connection and delivers everything stored (real Mosquitto, the reference
receiver acking).  The disk is filled for real: SQLite's page ceiling (``max_page_count``)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from buffer import DiskFullError, Outbox, OutboxSettings
from tests.support.broker import Broker
from tests.uplink.conftest import run_receiver, settings, undelivered, wait_until
from tests.uplink.helpers import reading_record
from uplink.client import Uplink

FULL = OutboxSettings(maintain_interval_s=None, max_page_count=400, keep_room_bytes=24 * 1024)


async def test_the_uplink_keeps_its_connection_and_delivers_what_is_stored(
    broker: Broker, tmp_path: Path
) -> None:
    async with Outbox(tmp_path / "outbox.db", settings=FULL) as outbox:
        stored: set[str] = set()
        while True:
            batch = [reading_record(i) for i in range(10)]
            try:
                await outbox.put_many(batch)
            except DiskFullError:
                break
            stored.update(r.id for r in batch)
        assert len(stored) > 200
        refused = 0

        async def intake() -> None:  # devices and the API keep trying meanwhile
            nonlocal refused
            while True:
                try:
                    r = reading_record()
                    await outbox.put(r)
                    stored.add(r.id)
                except DiskFullError:
                    refused += 1
                await asyncio.sleep(0.005)

        trying = asyncio.create_task(intake())
        # the intake is refused before the uplink starts, and goes on trying while it drains
        await wait_until(lambda: refused > 10, what="new readings refused on the full disk")
        try:
            async with (
                run_receiver(tmp_path / "county.db", broker.url) as rx,
                Uplink(
                    settings(broker.url, tmp_path, batch_max_count=20), outbox, gateway_id="hut-full"
                ) as up,
            ):
                await wait_until(lambda: _drained(outbox), what="everything stored delivered")
                state = up.state
                assert state.connected and state.reconnects == 0 and state.last_error is None
                assert await rx.store.reading_ids() >= stored
        finally:
            trying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trying
        assert refused > 10
        st = await outbox.stats()
        assert st.pending == 0 and st.inflight == 0


async def _drained(outbox: Outbox) -> bool:
    return await undelivered(outbox) == 0
