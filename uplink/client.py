"""The gateway side of the uplink: drains the outbox to the county over MQTT.

One :class:`Uplink` (``async with``) owns named tasks: the connection loop (re-entering
aiomqtt's ``async with`` with jittered exponential backoff, since aiomqtt never reconnects by
itself), per connection a message reader (acks, commands), the drain loop, an ack-timeout
watcher and the status heartbeat, and, across connections, the outbox lease expiry. Claiming,
tracking and settling batches is the shared :class:`uplink.drainer.Drainer`'s; this module is
its MQTT sender.

Delivery: a batch claimed from the outbox is kept in memory until it is settled. In ``county``
ack mode it is settled by the county's ``ack`` message (which proves the platform stored it);
in ``broker`` mode by the broker's PUBACK. A batch that is not acked in ``ack_timeout_s`` (or
that was in flight when the connection dropped) is sent again with the same ``batch_id``, so
the receiver can recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hutgw_errors import HutError
from uplink import envelope
from uplink.backoff import Backoff
from uplink.codec import CommandResult, GatewayStatus
from uplink.commands import (
    AckRefused,
    AckVerifier,
    CheckedCommand,
    CommandRefused,
    CommandVerifier,
    ReplayStore,
    load_public_key,
)
from uplink.contract import Command
from uplink.drainer import (
    Batch,
    ClaimLike,
    Drainer,
    Encoded,
    OutboxPort,
    UplinkState,
)
from uplink.errors import BrokerAuthError, UplinkError
from uplink.settings import UplinkSettings
from uplink.tls import client_context, describe_tls_failure
from uplink.topics import ACK, COMMAND_RESULTS, COMMANDS, STATUS, UPLINK_STREAMS, gateway_topics

__all__ = ["OutboxPort", "Uplink", "UplinkState"]

# CONNACK codes that mean "your credentials/authorisation are wrong" (3.1.1 and MQTT 5).
AUTH_FAILURE_CODES = {4, 5, 134, 135, 138, 140}


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {
            (k.name.lower() if isinstance(k, enum.Enum) else str(k)): _jsonable(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()


def _auth_code(exc: BaseException) -> int | None:
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        value = exc.rc if isinstance(exc.rc, int) else getattr(exc.rc, "value", None)
        if isinstance(value, int) and value in AUTH_FAILURE_CODES:
            return value
    return None


class _ConnectionLost(UplinkError):
    pass


class _ErrorTap(logging.Handler):
    """Forwards paho's log records and remembers the last error.

    With TLS 1.3 a broker refuses a client certificate *after* the handshake: paho only logs
    "failed to receive on socket: ... alert unknown ca" and aiomqtt then times out waiting for
    the CONNACK. The tap lets the uplink name the real cause instead of "timed out".
    """

    def __init__(self, target: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.target = target
        self.last_error: str | None = None
        self.failed: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def arm(self) -> asyncio.Event:
        self.last_error = None
        self.loop = asyncio.get_running_loop()
        self.failed = asyncio.Event()
        return self.failed

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.last_error = record.getMessage()
            if self.failed is not None and self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.failed.set)
            # The uplink logs the failure itself, with what to check; paho's line is detail.
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        if self.target.isEnabledFor(record.levelno):
            self.target.handle(record)


class Uplink:
    """Drains an outbox to the county broker. Use as ``async with Uplink(...) as up:``."""

    def __init__(
        self,
        settings: UplinkSettings,
        outbox: OutboxPort,
        *,
        gateway_id: str,
        clock: Callable[[], datetime] | None = None,
        logger: logging.Logger | None = None,
        on_command: Callable[[Command], Awaitable[CommandResult]] | None = None,
        status_provider: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        rng: random.Random | None = None,
        encode_batch: envelope.EncodeBatch | None = None,
    ) -> None:
        self._s = settings
        self._encode = encode_batch or envelope.encode  # e.g. uplink.fhir.encoder.mqtt_encoder(...)
        self._outbox = outbox
        self._gateway_id = gateway_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = logger or logging.getLogger("hutgw.uplink")
        self._on_command = on_command
        self._status_provider = status_provider
        self._rng = rng or random.Random()
        self._state = UplinkState()
        self._drainer = Drainer(
            outbox,
            self._state,
            who="uplink",
            log=self._log,
            clock=self._clock,
            batch_max_count=settings.batch_max_count,
            batch_max_bytes=settings.batch_max_bytes,
            lease_s=settings.lease_s or max(settings.ack_timeout_s * 2, 10.0),
            io_timeout_s=settings.io_timeout_s,
            poll_interval_s=settings.poll_interval_s,
            window=settings.max_inflight_batches,
        )
        self._main: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        # A logger of our own, outside the logger tree, so the tap sees only this uplink's client.
        self._paho_log = logging.Logger("hutgw.uplink.mqtt")  # noqa: LOG001
        self._tap = _ErrorTap(logging.getLogger("hutgw.uplink.mqtt"))
        self._paho_log.addHandler(self._tap)
        self._tls = client_context(settings.tls) if settings.use_tls else None
        key = load_public_key(settings.command_public_key) if settings.command_public_key else None
        replay_path = settings.state_dir / "command_ids.json" if settings.state_dir is not None else None
        self._verifier = CommandVerifier(
            key,
            gateway_id,
            ReplayStore(replay_path, clock=lambda: self._clock().timestamp()),
            clock=self._clock,
            max_ttl_s=settings.command_max_ttl_s,
        )
        self._acks = AckVerifier(key, gateway_id)
        self._ack_refusal_logged_at: float | None = None
        self._ack_refusals_unlogged = 0
        self.topics = gateway_topics(settings.topic_prefix, gateway_id)

    # -- public API ----------------------------------------------------------------------

    @property
    def state(self) -> UplinkState:
        snap = dataclasses.replace(self._state)
        snap.inflight_batches = len(self._drainer.inflight)
        return snap

    def wake(self) -> None:
        """New records were put: drain now instead of waiting for the poll interval."""
        self._drainer.wake()

    async def __aenter__(self) -> Uplink:
        if self._s.ack_mode == "county" and not self._acks.authenticated:
            self._log.warning(
                "uplink: acks are not authenticated: no [uplink] command_public_key is set, so anyone "
                "allowed to publish on %s can mark readings delivered; set the county's public key",
                self.topics[ACK],
            )
        self._main = asyncio.create_task(self._run(), name="uplink")
        return self

    @property
    def running(self) -> bool:
        """True while the uplink's supervising task runs (it stops only on close or a crash)."""
        return self._main is not None and not self._main.done()

    async def __aexit__(self, *exc: object) -> None:
        client = self._client
        if client is not None and self._state.connected:
            with suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._publish_status(client, "offline")
        if self._main is not None:
            self._main.cancel()
            with suppress(asyncio.CancelledError):
                await self._main
            self._main = None

    # -- supervision ---------------------------------------------------------------------

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._connection_loop(), name="uplink-connection")
            tg.create_task(self._drainer.expire_leases_forever(), name="uplink-lease-expiry")

    def _make_client(self) -> aiomqtt.Client:
        s = self._s
        will = None
        if s.last_will:
            will = aiomqtt.Will(
                self.topics[STATUS], self._status_bytes("offline", {}), qos=1, retain=s.retain_status
            )
        kwargs: dict[str, Any] = {}
        if s.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.session_expiry_s
            kwargs.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props)
        else:
            kwargs.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id or f"hutgw-{self._gateway_id}",
            will=will,
            keepalive=s.keepalive_s,
            timeout=s.io_timeout_s,
            max_inflight_messages=max(20, s.max_inflight_batches * 2 + 10),
            tls_context=self._tls,
            logger=self._paho_log,
            # paho leaves Nagle's algorithm on: a message's tail (or a PUBACK) could wait for
            # the broker's delayed TCP ACK, up to ~40 ms per batch.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            **kwargs,
        )
        client.pending_calls_threshold = 10_000
        # paho logs every packet at DEBUG: only build those records when someone listens.
        self._paho_log.setLevel(min(self._tap.target.getEffectiveLevel(), logging.ERROR))
        return client

    async def _connection_loop(self) -> None:
        s = self._s
        backoff = Backoff(s.backoff_initial_s, s.backoff_max_s, s.healthy_after_s, rng=self._rng)
        loop = asyncio.get_running_loop()
        first = True
        while True:
            if not first:
                self._state.reconnects += 1
            first = False
            connected_at: float | None = None
            try:
                client = self._make_client()
                async with AsyncExitStack() as stack:
                    async with asyncio.timeout(s.io_timeout_s + 5):
                        await self._enter(stack, client)
                    connected_at = loop.time()
                    self._on_connected(client)
                    await self._session(client)
            except asyncio.CancelledError:
                raise
            except BaseException as e:
                exc = self._unwrap(e)
                delay = self._connection_failed(exc, connected_at is not None, backoff)
            else:  # pragma: no cover - _session only returns by raising
                delay = backoff.next_delay()
            finally:
                self._client = None
                if self._state.connected:
                    self._state.connected = False
                    self._state.since = self._clock()
            if connected_at is not None:
                backoff.connection_ended(loop.time() - connected_at)
            await asyncio.sleep(delay)

    async def _enter(self, stack: AsyncExitStack, client: aiomqtt.Client) -> None:
        """Connect; give up as soon as paho reports a socket/TLS error instead of waiting for
        aiomqtt's CONNACK timeout (it does not notice a reset or a TLS alert while connecting)."""
        failed = self._tap.arm()
        enter = asyncio.ensure_future(stack.enter_async_context(client))
        watch = asyncio.ensure_future(failed.wait())
        try:
            await asyncio.wait({enter, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not enter.done():
                enter.cancel()
                with suppress(BaseException):
                    await enter
        self._tap.failed = None
        if enter.cancelled():
            raise aiomqtt.MqttError(f"connection failed: {self._tap.last_error}")
        enter.result()

    @staticmethod
    def _unwrap(e: BaseException) -> BaseException:
        while isinstance(e, BaseExceptionGroup) and e.exceptions:
            e = e.exceptions[0]
        return e

    def _connection_failed(self, exc: BaseException, was_connected: bool, backoff: Backoff) -> float:
        s = self._s
        code = _auth_code(exc)
        tls_cause = None
        if s.use_tls:
            tls_cause = describe_tls_failure(exc)
            if tls_cause is None and self._tap.last_error and not was_connected:
                tls_cause = describe_tls_failure(RuntimeError(self._tap.last_error))
        if code is not None:
            err = BrokerAuthError(
                f"the broker {s.host}:{s.port} refused us (CONNACK {code}: {exc})",
                hint="check [uplink] username/password and the broker's ACL for this gateway",
            )
        elif tls_cause is not None and not was_connected:
            err = BrokerAuthError(f"TLS to {s.host}:{s.port}: {tls_cause}")
        else:
            err = None
        if err is not None:
            self._state.auth_failed = True
            self._state.last_error = str(err)
            delay = s.auth_failure_backoff_s * self._rng.uniform(0.5, 1.0)
            self._log.error("uplink: %s; retrying in %.0f s", err, delay)
            return delay
        if not isinstance(exc, aiomqtt.MqttError | OSError | TimeoutError | HutError):
            # Neither the network nor a known error: a bug. Keep the traceback for the report.
            self._log.error("uplink: unexpected error in the connection: %r", exc, exc_info=exc)
        if isinstance(exc, TimeoutError):
            text = "timed out talking to the broker"
        else:
            text = f"{type(exc).__name__}: {exc}"
        self._state.last_error = text
        delay = backoff.next_delay()
        if was_connected:
            self._log.warning(
                "uplink: connection to %s:%s lost (%s); reconnecting in %.1f s", s.host, s.port, text, delay
            )
        else:
            self._log.warning(
                "uplink: cannot connect to %s:%s (%s); retrying in %.1f s", s.host, s.port, text, delay
            )
        return delay

    def _on_connected(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._state.connected = True
        self._state.auth_failed = False
        self._state.last_error = None
        self._state.since = self._clock()
        now = asyncio.get_running_loop().time()
        for entry in self._drainer.inflight.values():
            entry.sending = False
            # A batch the broker never confirmed goes again at once; one it confirmed is with the
            # county already, and its ack may still come through our persistent session: give it
            # a fresh ack timeout before sending it again.
            entry.sent_at = now if entry.handed and self._s.ack_mode == "county" else 0.0
        self._log.info(
            "uplink: connected to %s:%s as %s (MQTT %s, ack mode %s)",
            self._s.host,
            self._s.port,
            client.identifier,
            self._s.protocol,
            self._s.ack_mode,
        )

    # -- one connection ------------------------------------------------------------------

    async def _session(self, client: aiomqtt.Client) -> None:
        s = self._s
        subs = [(self.topics[COMMANDS], 1)]
        if s.ack_mode == "county":
            subs.append((self.topics[ACK], 1))
        for topic, qos in subs:
            await client.subscribe(topic, qos=qos, timeout=s.io_timeout_s)
        await self._publish_status(client, "online")
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._reader(client, tg), name="uplink-reader")
            tg.create_task(self._drain_loop(client, tg), name="uplink-drain")
            tg.create_task(self._heartbeat_loop(client), name="uplink-heartbeat")
            if s.ack_mode == "county":
                tg.create_task(self._ack_timeout_loop(client, tg), name="uplink-ack-timeout")

    async def _reader(self, client: aiomqtt.Client, tg: asyncio.TaskGroup) -> None:
        ack_topic, cmd_topic = self.topics[ACK], self.topics[COMMANDS]
        async for message in client.messages:
            topic = message.topic.value
            body = _payload_bytes(message.payload)
            if topic == ack_topic:
                await self._on_ack(body)
            elif topic == cmd_topic:
                tg.create_task(self._on_command_message(client, body), name="uplink-command")
        raise _ConnectionLost("message stream ended")

    async def _drain_loop(self, client: aiomqtt.Client, tg: asyncio.TaskGroup) -> None:
        # Batches the broker never confirmed before the last connection dropped go first.
        for held in list(self._drainer.inflight.values()):
            if not held.sent_at:
                self._start_send(client, tg, held)
        # An outbox error ends the connection; it is made again after the backoff.
        await self._drainer.run(_MqttSender(self, client, tg))

    def _start_send(self, client: aiomqtt.Client, tg: asyncio.TaskGroup, entry: Batch) -> None:
        if entry.sending:
            return
        entry.sending = True
        tg.create_task(self._send(client, entry), name=f"uplink-publish-{entry.batch_id}")

    async def _send(self, client: aiomqtt.Client, entry: Batch) -> None:
        s = self._s
        loop = asyncio.get_running_loop()
        entry.attempts += 1
        entry.sent_at = loop.time()
        entry.handed = False
        try:
            await client.publish(self.topics[entry.stream], entry.payload, qos=1, timeout=s.io_timeout_s)
        finally:
            entry.sending = False
        entry.handed = True
        self._drainer.sent(entry)
        if s.ack_mode == "broker" and self._drainer.inflight.get(entry.batch_id) is entry:
            await self._drainer.settle(entry.batch_id, entry.ids, entry.bad)

    async def _on_ack(self, body: bytes) -> None:
        try:
            ack = self._acks.check(body)
        except AckRefused as e:
            self._ack_refused(len(body), e.message)
            return
        rejected = {r.id: r.reason for r in ack.rejected}
        await self._drainer.settle(ack.batch_id, ack.accepted, rejected)

    def _ack_refused(self, size: int, reason: str) -> None:
        """Count an ack that changes nothing; log the first, then one line a minute with a count."""
        self._state.acks_refused += 1
        now = time.monotonic()
        if self._ack_refusal_logged_at is not None and now - self._ack_refusal_logged_at < 60.0:
            self._ack_refusals_unlogged += 1
            return
        more = self._ack_refusals_unlogged
        self._ack_refusal_logged_at, self._ack_refusals_unlogged = now, 0
        self._log.warning(
            "uplink: ignored an ack (%d bytes) that changes nothing: %s%s",
            size,
            reason,
            f" (+{more} more since the last line)" if more else "",
        )

    async def _ack_timeout_loop(self, client: aiomqtt.Client, tg: asyncio.TaskGroup) -> None:
        s = self._s
        loop = asyncio.get_running_loop()
        period = min(1.0, s.ack_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for entry in list(self._drainer.inflight.values()):
                if not entry.sending and entry.sent_at and now - entry.sent_at >= s.ack_timeout_s:
                    self._log.info(
                        "uplink: no ack for batch %s after %.0f s", entry.batch_id, s.ack_timeout_s
                    )
                    self._start_send(client, tg, entry)

    # -- status --------------------------------------------------------------------------

    def _status_bytes(self, state: str, counters: dict[str, Any]) -> bytes:
        return GatewayStatus(
            gateway_id=self._gateway_id,
            state="online" if state == "online" else "offline",
            at=self._clock(),
            counters=counters,
        ).to_wire()

    async def _counters(self) -> dict[str, Any]:
        st = self.state
        counters: dict[str, Any] = {
            "published": st.published,
            "resent": st.resent,
            "acked": st.acked,
            "rejected": st.rejected,
            "reconnects": st.reconnects,
            "inflight_batches": st.inflight_batches,
            "last_ack_at": st.last_ack_at.isoformat() if st.last_ack_at else None,
            "commands": st.commands,
            "acks_refused": st.acks_refused,
        }
        try:
            async with asyncio.timeout(self._s.io_timeout_s):
                counters["outbox"] = _jsonable(await self._outbox.stats())
        except Exception as e:
            counters["outbox_error"] = str(e)
        if self._status_provider is not None:
            try:
                async with asyncio.timeout(self._s.io_timeout_s):
                    counters["gateway"] = _jsonable(await self._status_provider())
            except Exception as e:
                counters["gateway_error"] = str(e)
        return counters

    async def _publish_status(self, client: aiomqtt.Client, state: str) -> None:
        counters = await self._counters() if state == "online" else {}
        await client.publish(
            self.topics[STATUS],
            self._status_bytes(state, counters),
            qos=1,
            retain=self._s.retain_status,
            timeout=self._s.io_timeout_s,
        )

    async def _heartbeat_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self._s.heartbeat_s)
            await self._publish_status(client, "online")

    # -- commands ------------------------------------------------------------------------

    async def _on_command_message(self, client: aiomqtt.Client, body: bytes) -> None:
        self._state.commands += 1
        try:
            checked = self._verifier.check(body)
        except CommandRefused as e:
            self._log.warning("uplink: command %s refused: %s", e.command_id or "(no id)", e.reason)
            result = CommandResult(
                command_id=e.command_id,
                gateway_id=self._gateway_id,
                name=e.name,
                status="refused",
                reason=e.reason,
                at=self._clock(),
            )
        else:
            result = await self._execute(checked)
        await client.publish(
            self.topics[COMMAND_RESULTS],
            result.to_wire(),
            qos=1,
            timeout=self._s.io_timeout_s,
        )

    async def _execute(self, checked: CheckedCommand) -> CommandResult:
        cmd = checked.command
        self._log.info("uplink: running command %s (%s)", cmd.id, cmd.name)

        def done(result: dict[str, Any]) -> CommandResult:
            return CommandResult(
                command_id=cmd.id,
                gateway_id=self._gateway_id,
                name=cmd.name,
                status="done",
                result=result,
                at=self._clock(),
            )

        try:
            if cmd.name == "ping":
                return done({"pong": True, "monotonic_s": round(time.monotonic(), 3)})
            if cmd.name == "status":
                return done(await self._counters())
            if self._on_command is None:
                return CommandResult(
                    command_id=cmd.id,
                    gateway_id=self._gateway_id,
                    name=cmd.name,
                    status="refused",
                    reason=f"{cmd.name} is not supported by this gateway",
                    at=self._clock(),
                )
            async with asyncio.timeout(self._s.io_timeout_s * 4):
                return await self._on_command(cmd)
        except Exception as e:
            self._log.exception("uplink: command %s (%s) failed", cmd.id, cmd.name)
            return CommandResult(
                command_id=cmd.id,
                gateway_id=self._gateway_id,
                name=cmd.name,
                status="failed",
                reason=f"{type(e).__name__}: {e}",
                at=self._clock(),
            )

    def status_json(self) -> bytes:
        """The state as JSON (for the local API)."""
        return orjson.dumps(_jsonable(self.state))


@dataclass(slots=True)
class _MqttSender:
    """The drainer's sender for one MQTT connection: a batch is one QoS 1 message on its
    stream's topic; publishing runs in its own task, and the ack (or the PUBACK in ``broker``
    mode) settles it later."""

    uplink: Uplink
    client: aiomqtt.Client
    tg: asyncio.TaskGroup

    def refuses(self, stream: str) -> str | None:
        if stream not in UPLINK_STREAMS:
            return f"stream {stream!r} has no uplink topic (kept for inspection)"
        return None

    async def encode(self, claim: ClaimLike) -> Encoded:
        up = self.uplink
        enc = up._encode(claim.stream, up._gateway_id, claim.batch_id, up._clock(), claim.items)
        return Encoded(enc.ids, enc.bad, enc.payload)

    async def hand_over(self, batch: Batch) -> None:
        self.uplink._start_send(self.client, self.tg, batch)
