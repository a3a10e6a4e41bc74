"""A busy county instance PUBACKs an envelope only once it is stored: the broker keeps the rest
(bounded by its in-flight window) instead of pushing everything into the instance's memory."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiomqtt

from county.receiver import BrokerOptions, Prepared, Receiver, Stored
from county.sqlite import SqliteStore
from tests.county.test_postgres_store import env
from tests.support.broker import running_broker
from tests.uplink.conftest import wait_until
from tests.uplink.helpers import reading


class HeldStore:
    """The SQLite store, with commits held until ``release`` is set."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.release = asyncio.Event()

    async def commit(self, p: Prepared) -> Stored | None:
        await self.release.wait()
        return await self.inner.commit(p)

    async def store_status(self, gateway_id: str, raw: bytes) -> None:
        await self.inner.store_status(gateway_id, raw)

    async def store_command_result(self, gateway_id: str, raw: bytes) -> None:
        await self.inner.store_command_result(gateway_id, raw)


async def test_a_busy_instance_takes_no_more_than_the_broker_window(tmp_path: Path, open_dir: Path) -> None:
    batches = [env([reading(i) for i in range(5)], f"b-{n}") for n in range(12)]
    with running_broker(open_dir / "mq", extra="max_inflight_messages 2") as broker:
        async with SqliteStore(tmp_path / "county.db") as inner:
            store = HeldStore(inner)
            rx = Receiver(store, BrokerOptions(url=broker.url, client_id="held"))
            task = asyncio.create_task(rx.run())
            try:
                await asyncio.wait_for(rx.connected.wait(), 10)
                async with aiomqtt.Client("127.0.0.1", broker.port, identifier="gw") as gw:
                    for body in batches:
                        await gw.publish("hut/v1/hut-7/readings", body, qos=1)
                    await asyncio.sleep(1.5)
                    assert rx.stats.received == 2  # the broker's window, not all 12
                    store.release.set()
                    await wait_until(lambda: rx.stats.envelopes == 12, what="all stored once released")
                assert await inner.count("readings") == 60
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
