"""Acks are the county's word: signed by the county key, and an ack nobody signed deletes nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
from pathlib import Path

import aiomqtt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from buffer.outbox import Outbox
from tests.support.broker import Broker
from uplink.client import Uplink
from uplink.commands import AckRefused, AckVerifier, load_public_key, public_key_b64, sign_ack
from uplink.contract import Ack, Rejection

from .conftest import run_receiver, settings, undelivered, wait_until
from .helpers import reading_record

COUNTY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(32))
ACK = Ack(batch_id="b-1", accepted=["id-1", "id-2"], rejected=[Rejection(id="id-3", reason="schema: x")])


def verifier(key: Ed25519PrivateKey | None = COUNTY, gateway_id: str = "hut-7") -> AckVerifier:
    return AckVerifier(load_public_key(public_key_b64(key)) if key else None, gateway_id)


def refusal(v: AckVerifier, body: bytes) -> str:
    with pytest.raises(AckRefused) as info:
        v.check(body)
    return info.value.message


def test_signed_ack_is_taken_whole() -> None:
    got = verifier().check(sign_ack(COUNTY, ACK, gateway_id="hut-7"))
    assert got == ACK.model_copy(update={"gateway_id": "hut-7", "signature": got.signature})
    assert got.signature


def test_unsigned_forged_altered_and_misaddressed_acks_are_refused() -> None:
    v = verifier()
    assert refusal(v, ACK.model_dump_json(by_alias=True).encode()).startswith("unsigned")
    assert refusal(v, sign_ack(OTHER, ACK, gateway_id="hut-7")).startswith("bad signature")
    altered = orjson.loads(sign_ack(COUNTY, ACK, gateway_id="hut-7"))
    altered["accepted"].append("id-9")
    assert refusal(v, orjson.dumps(altered)).startswith("bad signature")
    spaced = orjson.loads(sign_ack(COUNTY, ACK, gateway_id="hut-7"))
    spaced["signature"] += "\n"
    assert refusal(v, orjson.dumps(spaced)).startswith("bad signature")
    assert refusal(v, sign_ack(COUNTY, ACK, gateway_id="hut-8")).startswith("wrong gateway")
    assert refusal(v, b"{nope").startswith("malformed")
    assert refusal(v, b'{"schema":"hut.command/1"}').startswith("malformed")


def test_without_a_county_key_acks_are_taken_unauthenticated() -> None:
    v = verifier(None)
    assert not v.authenticated
    assert v.check(ACK.model_dump_json(by_alias=True).encode()) == ACK


def test_the_signature_is_over_the_canonical_json() -> None:
    body = orjson.loads(sign_ack(COUNTY, ACK, gateway_id="hut-7"))
    sig = base64.b64decode(body.pop("signature"), validate=True)
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    COUNTY.public_key().verify(sig, canonical)  # raises if not


async def _forge_acks(broker: Broker, gateway_id: str, n_batches: int) -> int:
    """Another client reads the gateway's batches off the broker and acks every id in them."""
    forged = 0
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="intruder") as c:
        await c.subscribe(f"hut/v1/{gateway_id}/readings", qos=1)
        async with asyncio.timeout(20):
            async for msg in c.messages:
                env = orjson.loads(msg.payload)  # type: ignore[arg-type]
                ids = [r["id"] for r in env["readings"]]
                fake = Ack(batch_id=env["batch_id"], accepted=ids)
                for body in (
                    fake.model_dump_json(by_alias=True).encode(),  # unsigned
                    sign_ack(OTHER, fake, gateway_id=gateway_id),  # signed by someone else
                ):
                    await c.publish(f"hut/v1/{gateway_id}/ack", body, qos=1)
                    forged += 1
                if forged >= 2 * n_batches:
                    return forged
    return forged


async def test_forged_acks_on_the_real_broker_delete_nothing(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    records = [reading_record(i) for i in range(20)]
    await outbox.put_many(records)
    cfg = settings(broker.url, tmp_path, batch_max_count=10, command_public_key=public_key_b64(COUNTY))
    async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
        forger = asyncio.create_task(_forge_acks(broker, "hut-7", 2))
        await wait_until(lambda: up.state.connected, what="connected")
        forged = await forger
        await wait_until(lambda: up.state.acks_refused >= forged, what="forged acks refused")
        assert up.state.acked == 0
        assert await undelivered(outbox) == 20
        # The county's own receiver, signing with the county key, gets them delivered.
        async with run_receiver(tmp_path / "county.db", broker.url, signing_key=COUNTY) as rx:
            await wait_until(lambda: up.state.acked == 20, timeout=30, what="county acks")
            assert await rx.store.reading_ids() == {r.id for r in records}
        assert await undelivered(outbox) == 0
        assert up.state.acks_refused == forged


async def test_hutgw_receiver_with_key_signs_every_ack(
    outbox: Outbox, broker: Broker, tmp_path: Path
) -> None:
    key = tmp_path / "county.key"
    cli = [sys.executable, "-m", "provisioning.cli", "receiver"]
    proc = await asyncio.create_subprocess_exec(
        *cli, "keygen", "--out", str(key), "--json", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    public = json.loads(out)["public_key"]
    records = [reading_record(i) for i in range(30)]
    await outbox.put_many(records)
    rx = await asyncio.create_subprocess_exec(
        *cli,
        "--broker",
        broker.url,
        "--db",
        str(tmp_path / "county.db"),
        "--key",
        str(key),
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        cfg = settings(broker.url, tmp_path, command_public_key=public)
        async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: up.state.acked == 30, timeout=40, what="signed acks")
            assert up.state.acks_refused == 0
    finally:
        rx.terminate()
        await rx.wait()


async def test_a_gateway_without_a_key_says_once_that_acks_are_not_authenticated(
    outbox: Outbox, broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hutgw.uplink")
    await outbox.put_many([reading_record(i) for i in range(5)])
    async with (
        run_receiver(tmp_path / "county.db", broker.url),
        Uplink(settings(broker.url, tmp_path), outbox, gateway_id="hut-7") as up,
    ):
        await wait_until(lambda: up.state.acked == 5, what="drained")
    said = [r for r in caplog.records if "acks are not authenticated" in r.getMessage()]
    assert len(said) == 1
    async with Uplink(
        settings(broker.url, tmp_path, command_public_key=public_key_b64(COUNTY)), outbox, gateway_id="hut-7"
    ):
        pass
    assert len([r for r in caplog.records if "acks are not authenticated" in r.getMessage()]) == 1


def test_the_documented_ack_examples_carry_valid_signatures() -> None:
    from uplink.schemas import EXAMPLES

    v = verifier(COUNTY, "hut-0042")  # the examples are signed with the example key bytes(range(32))
    for example in EXAMPLES["Ack"]:
        assert v.check(orjson.dumps(example)).signature == example["signature"]


def test_an_unsigned_ack_is_the_ack_of_before_so_older_gateways_take_it() -> None:
    from county.receiver import ack_bytes

    ack = ACK.model_copy(update={"gateway_id": "hut-7"})
    assert orjson.loads(ack_bytes(ack, "hut-7", None)) == {
        "schema": "hut.ack/1",
        "batch_id": "b-1",
        "accepted": ["id-1", "id-2"],
        "rejected": [{"id": "id-3", "reason": "schema: x"}],
    }
    signed = orjson.loads(ack_bytes(ack, "hut-7", COUNTY))
    assert signed["gateway_id"] == "hut-7" and verifier().check(orjson.dumps(signed)).accepted == [
        "id-1",
        "id-2",
    ]
