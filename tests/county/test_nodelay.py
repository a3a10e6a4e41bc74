"""Both ends of an envelope's round trip turn Nagle's algorithm off on their MQTT socket (paho
leaves it on): with it, an ack's tail or a PUBACK waited for the broker's delayed TCP ACK, about
40 ms per envelope, which bounded a gateway's drain in county ack mode (bench/county.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import aiomqtt

from buffer.outbox import Outbox
from county.receiver import BrokerOptions
from tests.support.broker import running_broker
from uplink.client import Uplink
from uplink.settings import UplinkSettings


def _nodelay(client: aiomqtt.Client) -> int:
    sock = client._client.socket()
    assert isinstance(sock, socket.socket)
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def test_the_receiver_and_the_gateway_send_without_nagle(tmp_path: Path, open_dir: Path) -> None:
    with running_broker(open_dir / "mq") as broker:
        async with BrokerOptions(url=broker.url).client(identifier="county-nodelay") as county:
            assert _nodelay(county) != 0
        async with Outbox(tmp_path / "outbox.db") as outbox:
            up = Uplink(UplinkSettings(broker=broker.url), outbox, gateway_id="hut-7")
            async with up._make_client() as gateway:
                assert _nodelay(gateway) != 0
