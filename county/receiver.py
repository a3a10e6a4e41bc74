"""The county receiver: takes gateway uplinks from the broker, stores them, acks what it stored.

``prepare`` parses and validates one envelope (pure CPU, no I/O) into a :class:`Prepared`; a store
(:class:`county.sqlite.SqliteStore`, :class:`county.postgres.PostgresStore`) commits it in one
transaction and returns what to ack. :class:`Receiver` subscribes to ``<prefix>/+/readings``,
``alerts``, ``alert_status``, ``status`` and ``command_results`` for any number of gateways --
through an MQTT shared subscription (``$share/<group>/...``) when several instances share the
load -- and publishes each ack on ``<prefix>/<gateway_id>/ack`` only after the commit, signed
with the county key. Invalid items are rejected with a reason in the ack; duplicates are acked
again (the gateway needs the ack) and counted.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import socket
import time
import uuid
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiomqtt
import orjson
from pydantic import BaseModel, ValidationError

from county import fhir, wirecheck
from county.errors import CountyError, StoreUnavailable
from uplink import topics
from uplink.backoff import Backoff
from uplink.codec import CommandResult, GatewayStatus
from uplink.commands import sign_ack
from uplink.contract import (
    ALERT_STATUS_SCHEMA,
    ALERTS_SCHEMA,
    READINGS_SCHEMA,
    Ack,
    AlertsEnvelope,
    AlertStatusEnvelope,
    ReadingsEnvelope,
    Rejection,
    WireAlert,
    WireAlertStatus,
    WireReading,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("hutgw.receiver")

STREAMS: dict[str, tuple[str, type[BaseModel]]] = {
    topics.READINGS: (READINGS_SCHEMA, WireReading),
    topics.ALERTS: (ALERTS_SCHEMA, WireAlert),
    topics.ALERT_STATUS: (ALERT_STATUS_SCHEMA, WireAlertStatus),
}
ENVELOPES: dict[str, type[BaseModel]] = {
    topics.READINGS: ReadingsEnvelope,
    topics.ALERTS: AlertsEnvelope,
    topics.ALERT_STATUS: AlertStatusEnvelope,
}
SCHEMA_TO_STREAM = {schema: stream for stream, (schema, _) in STREAMS.items()}
SIDE_TOPICS = topics.SIDE_LEAVES
RECEIVE_MAXIMUM = 16
"""MQTT 5: QoS 1 messages the broker may have in flight to one instance (3.1.1: the broker's
``max_inflight_messages``). The instance PUBACKs a message only once it is stored, so this bounds
what a busy instance holds in memory; the rest waits at the broker (or goes to another instance)."""
FOREIGN_READING = "id belongs to another gateway's reading (a revision must come from its own gateway)"


def _reason(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(item)"
    more = f" (+{e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"schema: {where}: {first['msg']}{more}"


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one envelope did."""

    ack: Ack
    new: int
    revised: int
    duplicates: int


@dataclass(slots=True)
class Prepared:
    """One envelope parsed and validated, ready to store (no I/O was done).

    ``good`` maps an item id to its parsed model (``WireReading``/``WireAlert``/``WireAlertStatus``,
    or a :class:`county.fhir.FhirReading` for a FHIR Bundle) and the payload to keep (JSON bytes).
    """

    gateway_id: str
    stream: str
    batch_id: str | None  # None: too broken to ack
    good: dict[str, tuple[Any, bytes]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    rejected_payloads: dict[str, bytes] = field(default_factory=dict)
    invalid: list[tuple[str | None, str, bytes]] = field(default_factory=list)  # (batch, reason, raw)
    sent_at: float | None = None  # the envelope's sent_at (Unix seconds), for the lag

    def ack(self, foreign: Iterable[str] = ()) -> Ack:
        """The ack for this envelope once stored; ``foreign``: ids another gateway owns (rejected)."""
        assert self.batch_id is not None
        rejected = [Rejection(id=i, reason=r) for i, r in self.rejected.items()]
        accepted = list(self.good)
        gone = set(foreign)
        if gone:
            accepted = [i for i in accepted if i not in gone]
            rejected += [Rejection(id=i, reason=FOREIGN_READING) for i in gone]
        return Ack(batch_id=self.batch_id, gateway_id=self.gateway_id, accepted=accepted, rejected=rejected)


class Store(Protocol):
    """What the receiver needs of a store."""

    async def commit(self, p: Prepared) -> Stored | None: ...

    async def store_status(self, gateway_id: str, raw: bytes) -> None: ...

    async def store_command_result(self, gateway_id: str, raw: bytes) -> None: ...


def status_state(raw: bytes) -> str | None:
    """The ``state`` of a gateway's status message (:class:`uplink.codec.GatewayStatus`), or
    ``None`` when the message is not one (it is stored as it came either way)."""
    try:
        return GatewayStatus.from_wire(raw).state
    except (ValueError, KeyError, TypeError):
        return None


def result_command_id(raw: bytes) -> str | None:
    """The ``command_id`` a command result answers (:class:`uplink.codec.CommandResult`), or
    ``None`` when the message is not one."""
    try:
        return CommandResult.from_wire(raw).command_id
    except (ValueError, KeyError, TypeError):
        return None


def prepare(gateway_id: str, stream: str, raw: bytes) -> Prepared:
    """Parse and validate one envelope (pure: CPU only, so it can overlap the previous commit).

    The cyclic garbage collector is paused meanwhile: validating a batch allocates thousands of
    (acyclic) objects, which would set off a dozen collections per envelope, each walking every
    object that survived the ones before (measured: 40 % of the validation time). Reference
    counting frees all of it as before; the collector resumes, once, when this returns.
    """
    if not gc.isenabled():
        return _prepare(gateway_id, stream, raw)
    gc.disable()
    try:
        return _prepare(gateway_id, stream, raw)
    finally:
        gc.enable()


def _sent_at(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _prepare_fhir(out: Prepared, raw: bytes) -> Prepared:
    parsed = fhir.parse(raw)
    if isinstance(parsed, str):
        out.invalid.append((None, parsed, raw))
        return out
    out.batch_id = parsed.batch_id
    out.rejected = dict(parsed.rejected)
    for rid, reading in parsed.readings.items():
        out.good[rid] = (reading, fhir.payload(reading))
    return out


def _envelope_problem(env: dict[str, Any], stream: str, gateway_id: str) -> str | None:
    """Why every item of this envelope is rejected (its schema, its gateway, unknown fields)."""
    schema = STREAMS[stream][0]
    if env.get("schema") != schema:
        return f"envelope schema {env.get('schema')!r} is not {schema!r}"
    if env.get("gateway_id") != gateway_id:
        return f"envelope gateway_id {env.get('gateway_id')!r} does not match the topic ({gateway_id!r})"
    extra = set(env) - {"schema", "gateway_id", "batch_id", "sent_at", stream}
    if extra:
        return f"envelope has unknown fields {sorted(extra)}"
    return None


def _prepare_split(out: Prepared, raw: bytes) -> bool:
    """The fast path of a readings envelope as the gateway lays it out: each item's own bytes are
    its payload (no re-serialising), and :func:`county.wirecheck.check_reading` accepts the
    plainly valid items without pydantic; any other item is validated by ``WireReading`` exactly
    as :func:`_prepare` does. ``False`` (``out`` untouched): take the general path."""
    split = wirecheck.split_items(raw, out.stream)
    if split is None:
        return False
    env, items = split
    batch_id = env.get("batch_id")
    if not isinstance(batch_id, str) or _envelope_problem(env, out.stream, out.gateway_id) is not None:
        return False  # rejected or invalid as a whole: the general path says why
    good: dict[str, tuple[Any, bytes]] = {}
    rejected: dict[str, str] = {}
    rejected_payloads: dict[str, bytes] = {}
    check = wirecheck.check_reading
    for item, body in items:
        item_id = item.get("id") if type(item) is dict else None
        if type(item_id) is not str:
            return False  # the general path reports it
        parsed: Any = check(item)
        if parsed is None:
            try:
                parsed = WireReading.model_validate(item)
            except ValidationError as e:
                rejected[item_id] = _reason(e)
                rejected_payloads[item_id] = body
                continue
        prev = good.get(item_id)
        if prev is None or parsed.revision > prev[0].revision:
            good[item_id] = (parsed, body)
    out.batch_id = batch_id
    out.sent_at = _sent_at(env.get("sent_at"))
    out.good, out.rejected, out.rejected_payloads = good, rejected, rejected_payloads
    return True


def _prepare(gateway_id: str, stream: str, raw: bytes) -> Prepared:
    out = Prepared(gateway_id, stream, None)
    if stream == topics.READINGS:
        if fhir.is_bundle(raw):
            return _prepare_fhir(out, raw)
        if wirecheck.IN_SYNC and _prepare_split(out, raw):
            return out
    try:
        env = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        out.invalid.append((None, f"not JSON: {e}", raw))
        return out
    if not isinstance(env, dict) or not isinstance(env.get("batch_id"), str):
        out.invalid.append((None, "envelope without batch_id", raw))
        return out
    batch_id: str = env["batch_id"]
    model = STREAMS[stream][1]
    items = env.get(stream)
    if not isinstance(items, list):
        out.invalid.append((batch_id, f"envelope has no {stream!r} list", raw))
        return out
    out.batch_id = batch_id
    out.sent_at = _sent_at(env.get("sent_at"))
    problem = _envelope_problem(env, stream, gateway_id)
    good = out.good
    if problem is None:
        # Fast path: pydantic-core validates the whole envelope from JSON about 3x faster than
        # item by item from dicts; only an envelope with a bad item takes the slow path.
        try:
            fast: list[BaseModel] = getattr(ENVELOPES[stream].model_validate_json(raw), stream)
        except ValidationError:
            pass
        else:
            for parsed, item in zip(fast, items, strict=True):
                prev = good.get(item["id"])
                if prev is None or getattr(parsed, "revision", 0) > getattr(prev[0], "revision", 0):
                    good[item["id"]] = (parsed, orjson.dumps(item))
            return out
    for item in items:
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            out.invalid.append((batch_id, "item without an id", orjson.dumps(item)))
            continue
        if problem is not None:
            out.rejected[item_id] = problem
            out.rejected_payloads[item_id] = orjson.dumps(item)
            continue
        try:
            parsed = model.model_validate(item)
        except ValidationError as e:
            out.rejected[item_id] = _reason(e)
            out.rejected_payloads[item_id] = orjson.dumps(item)
            continue
        prev = good.get(item_id)
        if prev is None or getattr(parsed, "revision", 0) > getattr(prev[0], "revision", 0):
            good[item_id] = (parsed, orjson.dumps(item))
    return out


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    url: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str = "hutgw-receiver"
    protocol: str = "3.1.1"

    def client(self, **kwargs: Any) -> aiomqtt.Client:
        from urllib.parse import urlsplit

        from uplink.settings import TlsSettings
        from uplink.tls import client_context

        parts = urlsplit(self.url)
        tls = None
        if parts.scheme == "mqtts":
            tls = client_context(TlsSettings(self.ca_file, self.cert_file, self.key_file))
        version = aiomqtt.ProtocolVersion.V5 if self.protocol == "5" else aiomqtt.ProtocolVersion.V311
        client = aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if tls else 1883),
            username=self.username,
            password=self.password,
            tls_context=tls,
            protocol=version,
            logger=logging.getLogger("hutgw.receiver.mqtt"),
            # paho leaves Nagle's algorithm on: the tail of an ack (or a PUBACK) waited for the
            # broker's delayed TCP ACK, ~40 ms per envelope, which bounded a gateway's drain.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            **kwargs,
        )
        client.pending_calls_threshold = 10_000
        return client


@dataclass(slots=True)
class ReceiverStats:
    """What one receiver instance did since it started (its ``/metrics``)."""

    received: int = 0  # MQTT messages taken from the broker
    envelopes: int = 0
    rows_new: int = 0
    rows_revised: int = 0
    duplicates: int = 0
    rejected: int = 0
    invalid: int = 0
    store_errors: int = 0
    ack_errors: int = 0
    lag_s: float | None = None  # sent_at of the last stored envelope to its commit
    last_commit_at: float | None = None
    connected: bool = False


def tune_gc() -> None:
    """For a receiver *process* (the CLI entry points call it once started): keep start-up objects
    out of the cyclic collector and let it run every 100,000 allocations instead of 700. Each
    envelope allocates thousands of acyclic objects that reference counting frees; the default
    threshold set off a dozen collections per envelope (measured over MQTT: +10-15 % readings/s)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def ack_bytes(ack: Ack, gateway_id: str, key: Ed25519PrivateKey | None) -> bytes:
    """What goes out on ``<prefix>/<gateway_id>/ack``: signed by the county key when there is one.

    An unsigned ack carries only the fields of the first ``hut.ack/1`` (no ``gateway_id``, no
    ``signature``), so gateways older than signed acks still take it (their model forbids extras).
    """
    if key is not None:
        return sign_ack(key, ack, gateway_id=gateway_id)
    return ack.model_dump_json(by_alias=True, exclude_none=True, exclude={"gateway_id"}).encode()


def subscriptions(prefix: str, group: str | None) -> list[str]:
    """The topic filters one instance subscribes to (shared when ``group`` is set)."""
    return topics.county_subscriptions(prefix, group)


Work = tuple[int, int, "Prepared | tuple[str, str, bytes]"]
"""(MQTT message id, QoS, what to store): the message is PUBACKed once that is stored."""


class Receiver:
    """Subscribes for all gateways under ``prefix``, stores, acks. ``await run()`` until cancelled.

    With ``group`` the instance joins the MQTT shared subscription ``$share/<group>/...``: the
    broker hands each envelope to one instance of the group. Such an instance connects with a
    clean session under a client id of its own, so a dead instance leaves no session the broker
    would keep queueing for; what it had taken and not acked, the gateway sends again.
    """

    def __init__(
        self,
        store: Store,
        broker: BrokerOptions,
        *,
        prefix: str = topics.DEFAULT_PREFIX,
        signing_key: Ed25519PrivateKey | None = None,
        group: str | None = None,
        clock: Any = time.time,
    ) -> None:
        self._store = store
        self._broker = broker
        self._prefix = prefix.rstrip("/")
        self._key = signing_key  # the county key: every ack is signed with it (docs/uplink.md)
        self._group = group
        self._clock = clock
        self.connected = asyncio.Event()
        self.stats = ReceiverStats()
        self._store_error_logged_at = 0.0

    @property
    def envelopes(self) -> int:
        return self.stats.envelopes

    def _client(self) -> aiomqtt.Client:
        common: dict[str, Any] = {"max_inflight_messages": 100, "keepalive": 15}
        v5 = self._broker.protocol == "5"
        if v5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            common["properties"] = props
        if self._group:
            # A client id per process: the group is the unit, each member comes and goes.
            ident = f"{self._broker.client_id}-{uuid.uuid4().hex[:8]}"
            clean: dict[str, Any] = {"clean_start": True} if v5 else {"clean_session": True}
            client = self._broker.client(identifier=ident, **common, **clean)
        else:
            session: dict[str, Any] = {"clean_start": False} if v5 else {"clean_session": False}
            client = self._broker.client(identifier=self._broker.client_id, **common, **session)
        # PUBACK only once stored (_puback): the broker holds what this instance has not taken
        # yet instead of pushing everything into its memory. aiomqtt has no option for it.
        client._client.manual_ack_set(True)
        return client

    @staticmethod
    def _puback(client: aiomqtt.Client, mid: int, qos: int) -> None:
        if qos > 0:
            client._client.ack(mid, qos)

    async def run(self) -> None:
        backoff = Backoff(0.2, 10.0, 30.0, rng=random.Random())
        loop = asyncio.get_running_loop()
        while True:
            started: float | None = None
            try:
                client = self._client()
                async with AsyncExitStack() as stack:
                    async with asyncio.timeout(20):
                        await stack.enter_async_context(client)
                    started = loop.time()
                    await self._session(client)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                cause: BaseException = e
                while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
                    cause = cause.exceptions[0]  # report the cause, not the group
                delay = backoff.next_delay()
                log.warning("receiver: broker connection ended (%s); retrying in %.1f s", cause, delay)
            else:  # pragma: no cover
                delay = backoff.next_delay()
            finally:
                self.connected.clear()
                self.stats.connected = False
            if started is not None:
                backoff.connection_ended(loop.time() - started)
            await asyncio.sleep(delay)

    async def _session(self, client: aiomqtt.Client) -> None:
        filters = subscriptions(self._prefix, self._group)
        for topic in filters:
            await client.subscribe(topic, qos=1, timeout=15)
        log.info("receiver: subscribed to %s", ", ".join(filters))
        self.connected.set()
        self.stats.connected = True
        # Two stages: parsing/validating the next envelope (CPU, this thread) overlaps storing
        # the previous ones (the database; as many writers as the store has connections, each
        # envelope in its own transaction). Each ack goes out after its envelope's commit.
        writers = max(1, int(getattr(self._store, "concurrency", 1)))
        queue: asyncio.Queue[Work] = asyncio.Queue(maxsize=2 + 2 * writers)
        pending: set[asyncio.Task[None]] = set()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read(client, queue), name="receiver-read")
                for i in range(writers):
                    tg.create_task(self._write(client, queue, pending), name=f"receiver-write-{i}")
        finally:
            for t in pending:
                t.cancel()

    async def _read(self, client: aiomqtt.Client, queue: asyncio.Queue[Work]) -> None:
        async for message in client.messages:
            self.stats.received += 1
            mid, qos = message.mid, int(message.qos)
            ours = topics.split(self._prefix, message.topic.value)
            if ours is None:
                self._puback(client, mid, qos)  # nothing of ours: taken and dropped
                continue
            gateway_id, leaf = ours
            raw = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if leaf in STREAMS:
                await queue.put((mid, qos, prepare(gateway_id, leaf, raw)))
            else:
                await queue.put((mid, qos, (gateway_id, leaf, raw)))
        raise CountyError("message stream ended")

    async def _retrying(self, what: str, fn: Any, *args: Any) -> Any:
        """``await fn(*args)``, again and again while the database is unavailable (nothing is acked
        meanwhile; the gateways send again after their ack timeout, which is harmless)."""
        delay = 0.2
        while True:
            try:
                return await fn(*args)
            except StoreUnavailable as e:
                self.stats.store_errors += 1
                now = time.monotonic()
                if now - self._store_error_logged_at >= 30.0:
                    self._store_error_logged_at = now
                    log.warning("receiver: cannot store %s (%s); retrying", what, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _write(
        self,
        client: aiomqtt.Client,
        queue: asyncio.Queue[Work],
        pending: set[asyncio.Task[None]],
    ) -> None:
        st = self.stats
        while True:
            mid, qos, item = await queue.get()
            if isinstance(item, tuple):
                gateway_id, leaf, raw = item
                if leaf == topics.STATUS:
                    await self._retrying("a status", self._store.store_status, gateway_id, raw)
                else:
                    await self._retrying(
                        "a command result", self._store.store_command_result, gateway_id, raw
                    )
                self._puback(client, mid, qos)
                continue
            stored: Stored | None = await self._retrying("an envelope", self._store.commit, item)
            self._puback(client, mid, qos)
            st.envelopes += 1
            st.invalid += len(item.invalid)
            if stored is None:
                continue
            now = self._clock()
            st.rows_new += stored.new
            st.rows_revised += stored.revised
            st.duplicates += stored.duplicates
            st.rejected += len(stored.ack.rejected)
            st.last_commit_at = now
            if item.sent_at is not None:
                st.lag_s = max(0.0, now - item.sent_at)
            body = ack_bytes(stored.ack, item.gateway_id, self._key)
            ack_topic = topics.topic(self._prefix, item.gateway_id, topics.ACK)
            task = asyncio.create_task(client.publish(ack_topic, body, qos=1, timeout=15))
            pending.add(task)
            task.add_done_callback(lambda t: self._ack_sent(t, pending))
            while len(pending) > 50:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)

    def _ack_sent(self, task: asyncio.Task[None], pending: set[asyncio.Task[None]]) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The gateway sends the batch again after its ack timeout; we ack it then.
            self.stats.ack_errors += 1
            log.warning("receiver: could not publish an ack: %s", task.exception())


@dataclass(frozen=True, slots=True)
class ImportResult:
    accepted: list[str]
    rejected: list[Rejection]
    exported_at: float | None  # the earliest ``sent_at`` in the file (when the export was made)


async def import_export(store: Store, lines: Iterable[bytes]) -> ImportResult:
    """Store an offline export (one envelope per line): accepted ids, rejections, export time."""
    accepted: list[str] = []
    rejected: list[Rejection] = []
    exported_at: float | None = None
    for lineno, raw_line in enumerate(lines, 1):
        line = raw_line.strip()
        if not line:
            continue
        try:
            env = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise CountyError(
                f"line {lineno} is not JSON: {e}", hint="is this a `hutgw buffer export` file?"
            ) from None
        stream = SCHEMA_TO_STREAM.get(str(env.get("schema"))) if isinstance(env, dict) else None
        gateway_id = env.get("gateway_id") if isinstance(env, dict) else None
        if stream is None or not isinstance(gateway_id, str):
            raise CountyError(
                f"line {lineno} is not a hut.readings/1, hut.alerts/1 or hut.alert_status/1 envelope"
            )
        stored = await store.commit(prepare(gateway_id, stream, line))
        if stored is None:
            raise CountyError(f"line {lineno}: envelope is invalid (see the receiver log)")
        accepted.extend(stored.ack.accepted)
        rejected.extend(stored.ack.rejected)
        sent = _sent_at(env.get("sent_at"))
        if sent is not None:
            exported_at = sent if exported_at is None else min(exported_at, sent)
    return ImportResult(accepted, rejected, exported_at)
