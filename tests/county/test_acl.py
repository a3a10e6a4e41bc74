"""The shipped Mosquitto ACL (county/mosquitto/acl) on a real broker with client certificates:
a gateway cannot ack for another gateway, nor publish under its id, nor read its acks."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import orjson
import pytest

from tests.support.broker import Broker, running_broker
from tests.uplink.test_tls import issue, make_ca, write_pair
from uplink.contract import Ack

ACL = Path(__file__).resolve().parents[2] / "county" / "mosquitto" / "acl"


@pytest.fixture
def acl_broker(open_dir: Path) -> Iterator[tuple[Broker, dict[str, tuple[Path, Path]], Path]]:
    ca = make_ca("county test CA")
    ca_file, _ = write_pair(open_dir, "ca", ca)
    certs = {
        name: write_pair(open_dir, name, issue(ca, name, server=name == "localhost"))
        for name in ("localhost", "hut-1", "hut-2", "county-receiver")
    }
    shutil.copy(ACL, open_dir / "hut.acl")
    (open_dir / "hut.acl").chmod(0o644)
    tls = {
        "cafile": str(ca_file),
        "certfile": str(certs["localhost"][0]),
        "keyfile": str(certs["localhost"][1]),
    }
    with running_broker(open_dir / "mq", tls=tls, extra=f"acl_file {open_dir / 'hut.acl'}") as broker:
        yield broker, certs, ca_file


def client(broker: Broker, ca: Path, cert: tuple[Path, Path], ident: str) -> aiomqtt.Client:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return aiomqtt.Client("127.0.0.1", broker.port, identifier=ident, tls_context=ctx)


async def _collect(c: aiomqtt.Client, seconds: float) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    try:
        async with asyncio.timeout(seconds):
            async for msg in c.messages:
                got.append((msg.topic.value, bytes(msg.payload)))  # type: ignore[arg-type]
    except TimeoutError:
        pass
    return got


async def _attempt(
    broker: Broker, ca: Path, cert: tuple[Path, Path], ident: str, topic: str, body: bytes
) -> None:
    """One publish from a fresh connection; Mosquitto 2 may drop the connection of a client that
    publishes where the ACL denies it (and never forwards the message)."""
    try:
        async with client(broker, ca, cert, ident) as c:
            await c.publish(topic, body, qos=1, timeout=5)
            await asyncio.sleep(0.2)
    except aiomqtt.MqttError:
        pass


async def test_a_second_gateways_forged_ack_is_refused_by_the_broker(
    acl_broker: tuple[Broker, dict[str, tuple[Path, Path]], Path],
) -> None:
    broker, certs, ca = acl_broker
    forged = Ack(batch_id="b-1", accepted=["r-1"]).model_dump_json(by_alias=True).encode()
    genuine = Ack(batch_id="b-2", accepted=["r-2"]).model_dump_json(by_alias=True).encode()
    async with (
        client(broker, ca, certs["hut-1"], "hutgw-hut-1") as hut1,
        client(broker, ca, certs["county-receiver"], "county") as county,
    ):
        await hut1.subscribe("hut/v1/hut-1/ack", qos=1)
        await hut1.subscribe("hut/v1/hut-1/commands", qos=1)
        await county.subscribe("$share/county/hut/v1/+/readings", qos=1)
        hut2 = certs["hut-2"]
        await _attempt(broker, ca, hut2, "hutgw-hut-2", "hut/v1/hut-1/ack", forged)  # another gateway acking
        await _attempt(broker, ca, hut2, "hutgw-hut-2", "hut/v1/hut-1/commands", b"{}")  # or commanding
        await _attempt(broker, ca, hut2, "hutgw-hut-2", "hut/v1/hut-1/readings", b'{"spoofed":true}')
        await _attempt(broker, ca, certs["hut-1"], "hut-1-again", "hut/v1/hut-1/ack", forged)  # nor itself
        await _attempt(broker, ca, hut2, "hutgw-hut-2", "hut/v1/hut-2/readings", b'{"own":true}')  # allowed
        async with client(broker, ca, hut2, "hutgw-hut-2") as spy:  # reading hut-1's acks: nothing comes
            await spy.subscribe("hut/v1/hut-1/ack", qos=1)
            await county.publish("hut/v1/hut-1/ack", genuine, qos=1)  # the county: allowed
            at_hut1, at_spy, at_county = await asyncio.gather(
                _collect(hut1, 2.0), _collect(spy, 2.0), _collect(county, 2.0)
            )
    assert at_hut1 == [("hut/v1/hut-1/ack", genuine)]
    assert at_spy == []
    assert [(t, orjson.loads(p)) for t, p in at_county] == [("hut/v1/hut-2/readings", {"own": True})]
