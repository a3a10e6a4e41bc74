"""The uplink draining a real outbox to a real Mosquitto, with the reference receiver acking."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from pathlib import Path

import aiomqtt
import orjson
import pytest

from buffer.outbox import Outbox
from buffer.record import State
from tests.support.broker import Broker
from tests.support.tcpproxy import TcpProxy
from uplink.client import Uplink

from .conftest import run_receiver, settings, undelivered, wait_until
from .helpers import alert_record, reading_record


async def test_county_mode_delivers_everything_once_alerts_first(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    records = [reading_record(i) for i in range(450)]
    alerts = [alert_record() for _ in range(3)]
    await outbox.put_many(records)
    await outbox.put_many(alerts)
    async with run_receiver(tmp_path / "county.db", broker.url) as rx:
        async with Uplink(settings(broker.url, tmp_path), outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: _zero(outbox), what="outbox drained")
            state = up.state
        assert await rx.store.reading_ids() == {r.id for r in records}
        assert await rx.store.count("alerts") == 3
        async with rx.store.db.execute("SELECT MAX(received_at) FROM alerts") as cur:
            last_alert = (await cur.fetchone())[0]
        async with rx.store.db.execute("SELECT MIN(received_at) FROM readings") as cur:
            first_reading = (await cur.fetchone())[0]
        assert last_alert <= first_reading
    assert state.acked == 453 and state.published == 453 and state.rejected == 0
    assert (await outbox.get(records[0].id)).state == State.DELIVERED  # type: ignore[union-attr]


async def _zero(outbox: Outbox) -> bool:
    return await undelivered(outbox) == 0


async def test_rejected_readings_are_kept_aside_with_the_reason(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    good = reading_record(1)
    bad = reading_record(2, kind="cholesterol")
    await outbox.put_many([good, bad])
    async with (
        run_receiver(tmp_path / "county.db", broker.url),
        Uplink(settings(broker.url, tmp_path), outbox, gateway_id="hut-7") as up,
    ):
        await wait_until(lambda: _zero(outbox), what="outbox drained")
        assert up.state.rejected == 1
    stored = await outbox.get(bad.id)
    assert stored is not None and stored.state == State.REJECTED
    assert stored.reason is not None and stored.reason.startswith("schema: kind")
    assert (await outbox.get(good.id)).state == State.DELIVERED  # type: ignore[union-attr]


async def test_broker_mode_settles_on_puback(outbox: Outbox, broker: Broker, tmp_path: Path) -> None:
    records = [reading_record(i) for i in range(250)]
    await outbox.put_many(records)
    seen: list[str] = []
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="watcher", clean_session=False) as sub:
        await sub.subscribe("hut/v1/+/readings", qos=1)
        async with Uplink(
            settings(broker.url, tmp_path, ack_mode="broker"), outbox, gateway_id="hut-7"
        ) as up:
            await wait_until(lambda: _zero(outbox), what="outbox drained")
            assert up.state.acked == 250
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                async for msg in sub.messages:
                    seen.extend(r["id"] for r in orjson.loads(msg.payload)["readings"])  # type: ignore[arg-type]
                    if len(seen) >= 250:
                        break
    assert sorted(seen) == sorted(r.id for r in records)


async def test_ack_timeout_resends_the_same_batch_until_the_receiver_is_back(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    records = [reading_record(i) for i in range(30)]
    await outbox.put_many(records)
    sends: Counter[str] = Counter()
    contents: dict[str, list[str]] = {}
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="watcher") as sub:
        await sub.subscribe("hut/v1/+/readings", qos=1)

        async def watch() -> None:
            async for msg in sub.messages:
                env = orjson.loads(msg.payload)  # type: ignore[arg-type]
                sends[env["batch_id"]] += 1
                ids = [r["id"] for r in env["readings"]]
                assert contents.setdefault(env["batch_id"], ids) == ids  # same batch, same readings

        watcher = asyncio.create_task(watch())
        cfg = settings(broker.url, tmp_path, ack_timeout_s=0.4, batch_max_count=10)
        async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
            # No receiver yet: nothing is acked, every batch goes again under its own id.
            await wait_until(lambda: len(sends) == 3 and min(sends.values()) >= 3, what="re-sends")
            assert await undelivered(outbox) == 30
            async with run_receiver(tmp_path / "county.db", broker.url, client_id="late-receiver") as rx:
                await wait_until(lambda: _zero(outbox), what="outbox drained")
                assert await rx.store.reading_ids() == {r.id for r in records}
            assert up.state.resent > 0
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_receiver_offline_then_back_gets_everything_exactly_once(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "county.db"
    first = [reading_record(i) for i in range(100)]
    second = [reading_record(i) for i in range(100)]
    cfg = settings(broker.url, tmp_path, ack_timeout_s=1.0, batch_max_count=25)
    async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
        async with run_receiver(db, broker.url):
            await outbox.put_many(first)
            up.wake()
            await wait_until(lambda: _zero(outbox), what="first part drained")
        await outbox.put_many(second)  # the receiver is down now
        up.wake()
        await wait_until(lambda: up.state.resent > 0, what="a re-send while the receiver is away")
        async with run_receiver(db, broker.url) as rx:
            await wait_until(lambda: _zero(outbox), what="second part drained")
            assert await rx.store.reading_ids() == {r.id for r in first + second}
            assert (await rx.store.counters()).get("duplicates", 0) >= 0


async def test_persistent_session_delivers_acks_sent_while_disconnected(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "county.db"
    records = [reading_record(i) for i in range(20)]
    # The receiver's persistent session exists, then it goes away: the broker queues for it.
    async with run_receiver(db, broker.url):
        pass
    async with TcpProxy("127.0.0.1", broker.port) as proxy:
        cfg = settings(f"mqtt://127.0.0.1:{proxy.port}", tmp_path, ack_timeout_s=120.0)
        async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: up.state.connected, what="connected")
            await outbox.put_many(records)
            up.wake()
            await wait_until(lambda: up.state.published == 20, what="published")
            await proxy.pause()  # the gateway loses its connection and cannot come back
            await wait_until(lambda: not up.state.connected, what="disconnected")
            async with run_receiver(db, broker.url) as rx:  # it stores and acks while we are away
                await wait_until(lambda: rx.store.count("readings"), what="stored")  # type: ignore[arg-type]
                await wait_until(lambda: _n_readings(rx.store, 20), what="all stored")
            await proxy.resume()
            await wait_until(lambda: _zero(outbox), what="acks arrived after reconnecting")
            assert up.state.resent == 0  # settled by the queued acks, not by sending again
            assert up.state.reconnects >= 1


async def _n_readings(store: object, n: int) -> bool:
    return await store.count("readings") == n  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("protocol", ["5"])
async def test_mqtt5_with_session_expiry(
    outbox: Outbox, broker: Broker, tmp_path: Path, protocol: str
) -> None:
    records = [reading_record(i) for i in range(40)]
    await outbox.put_many(records)
    async with run_receiver(tmp_path / "county.db", broker.url) as rx:
        async with Uplink(settings(broker.url, tmp_path, protocol=protocol), outbox, gateway_id="hut-5"):
            await wait_until(lambda: _zero(outbox), what="drained over MQTT 5")
        assert await rx.store.reading_ids() == {r.id for r in records}


async def test_status_birth_heartbeat_and_last_will(outbox: Outbox, broker: Broker, tmp_path: Path) -> None:
    states: list[dict[str, object]] = []
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="status-watcher") as sub:
        await sub.subscribe("hut/v1/+/status", qos=1)

        async def watch() -> None:
            async for msg in sub.messages:
                states.append(orjson.loads(msg.payload))  # type: ignore[arg-type]

        watcher = asyncio.create_task(watch())
        async with TcpProxy("127.0.0.1", broker.port) as proxy:
            cfg = settings(f"mqtt://127.0.0.1:{proxy.port}", tmp_path, heartbeat_s=0.3)
            async with Uplink(cfg, outbox, gateway_id="hut-7", status_provider=_clock_status):
                await wait_until(
                    lambda: len([s for s in states if s["state"] == "online"]) >= 3,
                    what="birth and heartbeats",
                )
                proxy.drop()  # an unclean disconnect: the broker publishes our last will
                await wait_until(lambda: any(s["state"] == "offline" for s in states), what="last will")
                await wait_until(lambda: states[-1]["state"] == "online", what="back online")
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    online = next(s for s in states if s["state"] == "online")
    counters = online["counters"]
    assert isinstance(counters, dict)
    assert counters["gateway"] == {"clock": {"synced": True}}
    assert "depth" in counters["outbox"] and "oldest_pending_age_s" in counters["outbox"]
    assert {"published", "acked", "rejected", "reconnects", "last_ack_at"} <= set(counters)


async def _clock_status() -> dict[str, object]:
    return {"clock": {"synced": True}}


async def test_auth_failure_is_reported_clearly(
    outbox: Outbox, tmp_path: Path, open_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.broker import running_broker

    pwfile = open_dir / "passwd"
    pwfile.write_text("county:secret\n")
    await (await asyncio.create_subprocess_exec("mosquitto_passwd", "-U", str(pwfile))).wait()
    pwfile.chmod(0o644)
    with running_broker(open_dir / "mq", extra=f"password_file {pwfile}\nallow_anonymous false") as b:
        # Mosquitto uses the last allow_anonymous line: only the password file lets anyone in.
        caplog.set_level(logging.ERROR, logger="hutgw.uplink")
        cfg = settings(b.url, tmp_path, username="county", password="wrong", auth_failure_backoff_s=30.0)
        async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: up.state.auth_failed, what="auth failure")
            assert up.state.reconnects == 0  # retried slowly: not within the next few seconds
            assert "refused us" in (up.state.last_error or "")
        assert any(
            "refused us" in r.getMessage() and "username/password" in r.getMessage() for r in caplog.records
        )
        await outbox.put(reading_record(1))
        ok = settings(b.url, tmp_path, username="county", password="secret", ack_mode="broker")
        async with Uplink(ok, outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: _zero(outbox), what="drained with the right password")
            assert not up.state.auth_failed


async def test_one_receiver_many_gateways(broker: Broker, tmp_path: Path) -> None:
    per_gateway = {f"hut-{n}": [reading_record(i) for i in range(60)] for n in range(3)}
    async with run_receiver(tmp_path / "county.db", broker.url) as rx, contextlib.AsyncExitStack() as stack:
        uplinks = []
        for gw, records in per_gateway.items():
            ob = await stack.enter_async_context(Outbox(tmp_path / f"{gw}.db"))
            await ob.put_many(records)
            up = await stack.enter_async_context(
                Uplink(settings(broker.url, tmp_path / gw, batch_max_count=25), ob, gateway_id=gw)
            )
            uplinks.append(up)
        await wait_until(lambda: all(u.state.acked == 60 for u in uplinks), what="every gateway drained")
        async with rx.store.db.execute(
            "SELECT gateway_id, COUNT(*) FROM readings GROUP BY gateway_id"
        ) as cur:
            assert dict(await cur.fetchall()) == {gw: 60 for gw in per_gateway}
        assert (await rx.store.counters()).get("duplicates", 0) == 0


async def test_unsendable_records_are_kept_aside_not_retried_forever(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    from buffer.record import Lane, Record

    garbage = Record(
        id="01938f2a-0000-7000-8000-000000000001",
        stream="readings",
        lane=Lane.CLINICAL,
        kind="weight",
        payload=b"\xff not json",
        key=None,
    )
    odd = Record(
        id="01938f2a-0000-7000-8000-000000000002",
        stream="diary",
        lane=Lane.TELEMETRY,
        kind="note",
        payload=b"{}",
        key=None,
    )
    good = reading_record(1)
    await outbox.put_many([garbage, odd, good])
    async with run_receiver(tmp_path / "county.db", broker.url) as rx:
        async with Uplink(settings(broker.url, tmp_path), outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: _zero(outbox), what="outbox settled")
            assert up.state.rejected == 2 and up.state.acked == 1
        assert await rx.store.reading_ids() == {good.id}
    for rec, start in (
        (garbage, "stored payload is not a JSON object"),
        (odd, "stream 'diary' has no uplink"),
    ):
        stored = await outbox.get(rec.id)
        assert stored is not None and stored.state == State.REJECTED
        assert (stored.reason or "").startswith(start)
