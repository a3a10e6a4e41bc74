"""The demo's embedded broker speaks enough MQTT for aiomqtt (real client, real sockets)."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from devtools.minibroker import MiniBroker, topic_matches


@pytest.mark.parametrize(
    ("pattern", "topic", "ok"),
    [
        ("hut/v1/+/ack", "hut/v1/g1/ack", True),
        ("hut/v1/+/ack", "hut/v1/g1/readings", False),
        ("hut/#", "hut/v1/g1/readings", True),
        ("hut/v1/g1", "hut/v1/g1/x", False),
        ("#", "a", True),
    ],
)
def test_topic_matching(pattern: str, topic: str, ok: bool) -> None:
    assert topic_matches(pattern, topic) is ok


async def test_publish_subscribe_retained_and_will() -> None:
    async with MiniBroker() as broker:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="pub") as pub:
            await pub.publish("hut/v1/g1/status", b"online", qos=1, retain=True)

        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="sub") as sub:
            await sub.subscribe("hut/v1/+/status", qos=1)
            await sub.subscribe("hut/v1/g1/readings", qos=1)
            msgs = sub.messages
            first = await asyncio.wait_for(anext(msgs), 5)
            assert (str(first.topic), first.payload, first.retain) == ("hut/v1/g1/status", b"online", True)
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="pub2") as pub:
                await pub.publish("hut/v1/g1/readings", b'{"n":1}', qos=1)
            second = await asyncio.wait_for(anext(msgs), 5)
            assert (str(second.topic), second.payload) == ("hut/v1/g1/readings", b'{"n":1}')
            # A client that vanishes without DISCONNECT has its will published.
            reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
            body = (
                b"\x00\x04MQTT\x04"
                + bytes([0x02 | 0x04 | 0x08 | 0x20])
                + b"\x00\x3c"
                + b"\x00\x02g2"
                + b"\x00\x10hut/v1/g2/status"
                + b"\x00\x07offline"
            )
            writer.write(bytes([0x10, len(body)]) + body)
            await writer.drain()
            assert (await reader.readexactly(4)) == b"\x20\x02\x00\x00"
            writer.transport.abort()
            third = await asyncio.wait_for(anext(msgs), 5)
            assert (str(third.topic), third.payload) == ("hut/v1/g2/status", b"offline")
