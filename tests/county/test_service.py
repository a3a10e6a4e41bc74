"""Several county receivers on one shared subscription, on PostgreSQL, with signed acks; the fleet
view and /metrics over HTTP; ``hutgw county status``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from buffer.outbox import Outbox
from county.postgres import PostgresStore
from county.receiver import BrokerOptions, Receiver
from county.service import make_app
from tests.support.broker import Broker, free_port
from tests.uplink.conftest import settings, undelivered, wait_until
from tests.uplink.helpers import reading_record
from uplink.client import Uplink
from uplink.commands import public_key_b64

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@contextlib.asynccontextmanager
async def instance(url: str, broker: Broker, name: str) -> AsyncIterator[tuple[PostgresStore, Receiver]]:
    async with PostgresStore(url, instance=name) as store:
        rx = Receiver(
            store, BrokerOptions(url=broker.url, client_id=f"county-{name}"), signing_key=KEY, group="county"
        )
        task = asyncio.create_task(rx.run())
        try:
            await asyncio.wait_for(rx.connected.wait(), 10)
            yield store, rx
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_two_instances_share_the_load_and_the_fleet_shows_the_hut(
    pg_url: str, broker: Broker, tmp_path: Path
) -> None:
    records = [reading_record(i) for i in range(1500)]
    async with (
        instance(pg_url, broker, "a") as (store, a),
        instance(pg_url, broker, "b") as (_, b),
        Outbox(tmp_path / "outbox.db") as outbox,
    ):
        await outbox.put_many(records)
        port = free_port()
        runner = web.AppRunner(make_app(a.stats, store.fleet_rows))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            cfg = settings(broker.url, tmp_path, command_public_key=public_key_b64(KEY))
            async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
                await wait_until(
                    lambda: up.state.acked == 1500, timeout=60, what="drained through two instances"
                )
                assert up.state.acks_refused == 0
                assert a.stats.envelopes > 0 and b.stats.envelopes > 0  # the broker shared the batches
                assert a.stats.rows_new + b.stats.rows_new == 1500
                await wait_until(lambda: _has_status(store), what="the hut's status stored")
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"http://127.0.0.1:{port}/api/v1/fleet") as resp:
                        fleet = await resp.json()
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        metrics = await resp.text()
        finally:
            await runner.cleanup()
        assert await undelivered(outbox) == 0
        assert await store.count("readings") == 1500 and len(await store.reading_ids()) == 1500
    [hut] = fleet["gateways"]
    assert hut["gateway_id"] == "hut-7" and hut["state"] == "online"
    assert hut["outbox_pending"] is not None
    assert f"hutgw_county_batches_total {a.stats.envelopes}" in metrics
    assert 'hutgw_county_rows_total{outcome="new"}' in metrics

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioning.cli",
        "county",
        "status",
        "--db",
        pg_url,
        "--json",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert [g["gateway_id"] for g in json.loads(out)["gateways"]] == ["hut-7"]


async def _has_status(store: PostgresStore) -> bool:
    return await store.count("gateways") == 1
