"""Signed commands end to end: `hutgw receiver command` -> Mosquitto -> the uplink -> command_results."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import orjson

from buffer.outbox import Outbox
from tests.support.broker import Broker
from uplink.client import Uplink
from uplink.codec import CommandResult
from uplink.commands import load_private_key, make_command
from uplink.contract import Command

from .conftest import run_receiver, settings, wait_until

HUTGW = [sys.executable, "-m", "provisioning.cli"]


async def hutgw(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *HUTGW, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_signed_commands_round_trip(outbox: Outbox, broker: Broker, tmp_path: Path) -> None:
    key = tmp_path / "county.key"
    rc, out, _ = await hutgw("receiver", "keygen", "--out", str(key), "--json")
    assert rc == 0
    public = json.loads(out)["public_key"]
    handled: list[Command] = []

    async def on_command(cmd: Command) -> CommandResult:
        handled.append(cmd)
        return CommandResult(
            command_id=cmd.id,
            gateway_id=cmd.gateway_id,
            name=cmd.name,
            status="done",
            result={"residents": len(cmd.args["residents"])},
            at=datetime.now(UTC),
        )

    cfg = settings(broker.url, tmp_path, command_public_key=public)
    async with (
        run_receiver(tmp_path / "county.db", broker.url) as rx,
        Uplink(cfg, outbox, gateway_id="hut-7", on_command=on_command) as up,
    ):
        await wait_until(lambda: up.state.connected, what="connected")
        rc, out, err = await hutgw(
            "receiver", "command", "hut-7", "ping", "--key", str(key), "--broker", broker.url
        )
        assert rc == 0, err
        assert json.loads(out)["status"] == "done" and json.loads(out)["result"]["pong"] is True

        residents = json.dumps({"residents": [{"id": "r-1", "name": "A"}, {"id": "r-2", "name": "B"}]})
        rc, out, err = await hutgw(
            "receiver",
            "command",
            "hut-7",
            "residents",
            "--key",
            str(key),
            "--broker",
            broker.url,
            "--args",
            residents,
        )
        assert rc == 0, err
        assert json.loads(out)["result"] == {"residents": 2}
        assert [c.name for c in handled] == ["residents"]

        rc, out, _ = await hutgw(
            "receiver", "command", "hut-7", "status", "--key", str(key), "--broker", broker.url
        )
        assert rc == 0 and "outbox" in json.loads(out)["result"]

        # Replayed, unsigned and expired commands, published by hand.
        signing = load_private_key(key)
        once = orjson.dumps(make_command(signing, "hut-7", "ping"))
        unsigned = make_command(signing, "hut-7", "ping")
        del unsigned["signature"]
        expired = make_command(signing, "hut-7", "ping", now=datetime(2026, 1, 1, tzinfo=UTC), ttl_s=60)
        results: list[dict[str, object]] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="county-console") as c:
            await c.subscribe("hut/v1/hut-7/command_results", qos=1)
            for body in (once, once, orjson.dumps(unsigned), orjson.dumps(expired), b"garbage"):
                await c.publish("hut/v1/hut-7/commands", body, qos=1)
            async with asyncio.timeout(20):
                async for msg in c.messages:
                    results.append(orjson.loads(msg.payload))  # type: ignore[arg-type]
                    if len(results) == 5:
                        break
        by_status = sorted((str(r["status"]), str(r.get("reason") or "").split(":")[0]) for r in results)
        assert by_status == [
            ("done", ""),
            ("refused", "expired at 2026-01-01T00"),
            ("refused", "malformed"),
            ("refused", "replayed"),
            ("refused", "unsigned"),
        ]
        assert up.state.commands == 8
        # the reference receiver keeps every result, and the gateway's status
        await wait_until(lambda: _count(rx, "command_results", 8), what="results stored")
        async with rx.store.db.execute("SELECT gateway_id, state FROM gateways") as cur:
            assert await cur.fetchall() == [("hut-7", "online")]


async def _count(rx: object, table: str, n: int) -> bool:
    return await rx.store.count(table) >= n  # type: ignore[attr-defined,no-any-return]


async def test_gateway_without_public_key_refuses_every_command(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    key = tmp_path / "county.key"
    assert (await hutgw("receiver", "keygen", "--out", str(key)))[0] == 0
    async with Uplink(settings(broker.url, tmp_path), outbox, gateway_id="hut-7") as up:
        await wait_until(lambda: up.state.connected, what="connected")
        rc, out, _ = await hutgw(
            "receiver", "command", "hut-7", "ping", "--key", str(key), "--broker", broker.url
        )
        assert rc == 1
        assert "no county public key configured" in json.loads(out)["reason"]
