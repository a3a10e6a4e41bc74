"""A small in-process MQTT 3.1.1 broker, for the demo on machines without Mosquitto.

Enough for one gateway and one receiver on loopback: CONNECT, PUBLISH at QoS 0 and 1,
SUBSCRIBE with ``+``/``#`` wildcards, retained messages, last will, keepalive, PING. No
persistence and no QoS 2: production brokers are Mosquitto, EMQX or a cloud service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass, field
from types import TracebackType

log = logging.getLogger("hutgw.minibroker")

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
MAX_PACKET = 4 * 1024 * 1024


class ProtocolError(Exception):
    pass


def topic_matches(pattern: str, topic: str) -> bool:
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t):
            return False
        if part != "+" and part != t[i]:
            return False
    return len(p) == len(t)


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([(kind << 4) | flags]) + encode_length(len(body)) + body


def utf8(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    head = await reader.readexactly(1)
    length, shift = 0, 0
    for _ in range(4):
        b = (await reader.readexactly(1))[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    else:
        raise ProtocolError("remaining length too long")
    if length > MAX_PACKET:
        raise ProtocolError("packet too large")
    return head[0] >> 4, head[0] & 0x0F, await reader.readexactly(length)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u8(self) -> int:
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        (v,) = struct.unpack_from("!H", self.data, self.pos)
        self.pos += 2
        return int(v)

    def blob(self) -> bytes:
        n = self.u16()
        v = self.data[self.pos : self.pos + n]
        if len(v) != n:
            raise ProtocolError("short field")
        self.pos += n
        return v

    def text(self) -> str:
        return self.blob().decode()

    def rest(self) -> bytes:
        return self.data[self.pos :]


@dataclass
class _Client:
    client_id: str
    writer: asyncio.StreamWriter
    subscriptions: dict[str, int] = field(default_factory=dict)
    will: tuple[str, bytes, int, bool] | None = None
    next_id: int = 0

    def packet_id(self) -> int:
        self.next_id = self.next_id % 65535 + 1
        return self.next_id


class MiniBroker:
    """``async with MiniBroker(port=0) as b:`` serves on ``b.port`` until the block exits."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._clients: dict[str, _Client] = {}
        self._retained: dict[str, tuple[bytes, int]] = {}

    async def __aenter__(self) -> MiniBroker:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            for c in list(self._clients.values()):
                c.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client: _Client | None = None
        clean = False
        try:
            kind, _, body = await asyncio.wait_for(read_packet(reader), 10.0)
            if kind != CONNECT:
                return
            client, keepalive = self._connect(body, writer)
            writer.write(packet(CONNACK, 0, b"\x00\x00"))
            timeout = keepalive * 1.5 if keepalive else None
            while True:
                kind, flags, body = await asyncio.wait_for(read_packet(reader), timeout)
                if kind == PUBLISH:
                    self._on_publish(client, flags, body)
                elif kind == SUBSCRIBE:
                    self._on_subscribe(client, body)
                elif kind == UNSUBSCRIBE:
                    cur = _Cursor(body)
                    pid = cur.u16()
                    while cur.pos < len(body):
                        client.subscriptions.pop(cur.text(), None)
                    writer.write(packet(UNSUBACK, 0, struct.pack("!H", pid)))
                elif kind == PINGREQ:
                    writer.write(packet(PINGRESP, 0, b""))
                elif kind == DISCONNECT:
                    clean = True
                    return
                # PUBACK from subscribers needs no bookkeeping here (no redelivery).
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            TimeoutError,
            ProtocolError,
            IndexError,
            struct.error,
            UnicodeDecodeError,
        ):
            pass
        finally:
            if client is not None and self._clients.get(client.client_id) is client:
                del self._clients[client.client_id]
                if not clean and client.will is not None:
                    topic, payload, qos, retain = client.will
                    self._route(topic, payload, qos, retain)
            writer.close()

    def _connect(self, body: bytes, writer: asyncio.StreamWriter) -> tuple[_Client, int]:
        cur = _Cursor(body)
        if cur.text() not in ("MQTT", "MQIsdp"):
            raise ProtocolError("not MQTT")
        cur.u8()  # protocol level
        flags = cur.u8()
        keepalive = cur.u16()
        client_id = cur.text() or f"anon-{id(writer)}"
        will = None
        if flags & 0x04:
            will = (cur.text(), cur.blob(), (flags >> 3) & 3, bool(flags & 0x20))
        old = self._clients.get(client_id)
        if old is not None:
            old.writer.close()
        client = _Client(client_id, writer, will=will)
        self._clients[client_id] = client
        return client, keepalive

    def _on_publish(self, client: _Client, flags: int, body: bytes) -> None:
        qos, retain = (flags >> 1) & 3, bool(flags & 1)
        cur = _Cursor(body)
        topic = cur.text()
        pid = cur.u16() if qos else 0
        payload = cur.rest()
        self._route(topic, payload, min(qos, 1), retain)
        if qos == 1:
            client.writer.write(packet(PUBACK, 0, struct.pack("!H", pid)))

    def _route(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            if payload:
                self._retained[topic] = (payload, qos)
            else:
                self._retained.pop(topic, None)
        for c in list(self._clients.values()):
            granted = max((q for f, q in c.subscriptions.items() if topic_matches(f, topic)), default=None)
            if granted is not None:
                self._deliver(c, topic, payload, min(qos, granted), False)

    def _deliver(self, c: _Client, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        body = utf8(topic) + (struct.pack("!H", c.packet_id()) if qos else b"") + payload
        c.writer.write(packet(PUBLISH, (qos << 1) | int(retain), body))

    def _on_subscribe(self, client: _Client, body: bytes) -> None:
        cur = _Cursor(body)
        pid = cur.u16()
        granted = bytearray()
        new: list[tuple[str, int]] = []
        while cur.pos < len(body):
            f, q = cur.text(), min(cur.u8() & 3, 1)
            client.subscriptions[f] = q
            granted.append(q)
            new.append((f, q))
        client.writer.write(packet(SUBACK, 0, struct.pack("!H", pid) + bytes(granted)))
        for f, q in new:
            for topic, (payload, rq) in self._retained.items():
                if topic_matches(f, topic):
                    self._deliver(client, topic, payload, min(q, rq), True)
