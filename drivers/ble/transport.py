"""The BLE transport: one scanner, per-profile connections, frames and link events to a sink.

``async with BleTransport(devices, sink, clock=..., backend=...)`` owns named tasks in a TaskGroup:

* ``ble-scanner``: one :class:`bleak.BleakScanner` with a detection callback; restarted when the
  adapter goes silent (the recovery path) or fails (jittered exponential backoff).
* ``ble-watch``: adapter silence (:class:`SilenceWatch`) -> ``LinkEvent("adapter", "silent")``.
* ``ble-deliver``: hands queued frames to ``sink.frame`` in arrival order (bounded queue).
* ``ble-session-ADDR``: cuffs and scales (``connect_on_advert``) are connected when they advertise
  after a measurement, the device definition's connect steps run (``Profile.connect``: set the
  clock, read, subscribe, request stored records), the burst of stored readings received, and
  the link closed when the device drops it or goes idle; then a cool-down.
* ``ble-keeper-ADDR``: wristbands (``stay_connected``) are reconnected with backoff after every
  drop; ``poll`` devices are connected every ``poll_interval_s`` for ``poll_listen_s``.

Advert-only devices (Xiaomi scales, BTHome) become ``ble_adv`` frames (changes only, see
:class:`AdvertFilter`); every provisioned device seen advertising gets an ``advertising`` link
event (again every ``alive_every_s`` while it keeps advertising). Simultaneous connections are
capped by a semaphore (adapters allow only a few). bleak is injected through its own
``backend=`` arguments (:class:`BleBackend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal, Protocol

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak_retry_connector import establish_connection

from drivers import registry
from drivers.ble.adverts import AdvertFilter
from drivers.ble.backoff import Backoff
from drivers.ble.devices import BoundDevice, DeviceSpec, bind, normalize_address
from drivers.ble.silence import SilenceWatch
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import racp, uuids
from drivers.profile import ConnectPolicy, Profile, Read, RequestStored, SetTime, Subscribe
from drivers.source import FrameSink, LinkEvent, LinkState

ADAPTER = "adapter"
SessionMode = Literal["burst", "stay", "poll"]


class BleClock(Protocol):
    """What the transport needs of the gateway's clock (``gateway.clock.Clock`` fits)."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def synced(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class BleBackend:
    """bleak backend classes; ``None`` = bleak's platform default (BlueZ on the Pi)."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """Every wait of the transport (seconds); tests shrink them."""

    connect_timeout_s: float = 40.0
    connect_attempts: int = 3
    io_timeout_s: float = 10.0
    session_idle_s: float = 8.0
    session_max_s: float = 120.0
    cooldown_s: float = 30.0
    poll_interval_s: float = 300.0
    poll_listen_s: float = 10.0
    reconnect: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0))
    scanner_restart: Backoff = field(default_factory=lambda: Backoff(2.0, 120.0))
    adv_gap_s: float = 10.0
    alive_every_s: float = 300.0
    deliver_timeout_s: float = 30.0
    drain_timeout_s: float = 5.0


class BleTransport:
    """See the module docstring. ``devices``: ``DeviceSpec``s or ``(address, profile, policy)``."""

    def __init__(
        self,
        devices: Iterable[DeviceSpec | tuple[str, str] | tuple[str, str, ConnectPolicy | None]],
        sink: FrameSink,
        *,
        clock: BleClock,
        backend: BleBackend | None = None,
        max_connections: int = 3,
        silent_after_s: float = 300.0,
        timing: Timing | None = None,
        profiles: Mapping[str, Profile] | None = None,
        local_tz: tzinfo | None = None,
        logger: logging.Logger | None = None,
        rng: random.Random | None = None,
        queue_size: int = 1000,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not all(callable(getattr(clock, n, None)) for n in ("now", "monotonic", "synced")):
            raise TypeError("clock must have now(), monotonic() and synced() (a gateway.clock.Clock)")
        known = profiles if profiles is not None else registry.profiles()
        self._devices: dict[str, BoundDevice] = bind(devices, known)
        self._sink = sink
        self._clock = clock
        self._backend = backend or BleBackend()
        self._timing = timing or Timing()
        self._slots = asyncio.Semaphore(max_connections)
        self.max_connections = max_connections
        self._silence = SilenceWatch(silent_after_s, clock.monotonic())
        self._adverts = AdvertFilter(self._timing.adv_gap_s)
        self._local_tz = local_tz
        self._log = logger or logging.getLogger("hutgw.ble")
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[RawFrame] = asyncio.Queue(queue_size)
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliver_task: asyncio.Task[None] | None = None
        self._restart_scanner = asyncio.Event()
        self._seen: dict[str, BLEDevice] = {}
        self._seen_event: dict[str, asyncio.Event] = {a: asyncio.Event() for a in self._devices}
        self._announced: dict[str, float] = {}
        self._active: set[str] = set()
        self._connected: set[str] = set()
        self._cooldown_until: dict[str, float] = {}
        self._last_activity: dict[str, float] = {}
        self._record_counts: dict[str, dict[str, int]] = {}  # frames per device and characteristic
        self.dropped_frames = 0
        self.scanner_restarts = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> BleTransport:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._deliver_task = self._tg.create_task(self._deliver(), name="ble-deliver")
        self._spawn(self._scan_loop(), "ble-scanner")
        self._spawn(self._watch(), "ble-watch")
        for device in self._devices.values():
            if device.policy in ("stay_connected", "poll"):
                self._spawn(self._keeper(device), f"ble-keeper-{device.address}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._tg is not None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), self._timing.drain_timeout_s)
        if self._deliver_task is not None:
            self._deliver_task.cancel()
        await self._tg.__aexit__(None, None, None)
        self._tg = None

    def _spawn(self, coro: Any, name: str) -> None:
        assert self._tg is not None
        task = self._tg.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- status ----------------------------------------------------------------------------

    @property
    def adapter_silent(self) -> bool:
        return self._silence.silent

    def status(self) -> dict[str, Any]:
        """For ``hutgw status`` and metrics."""
        return {
            "adapter_silent": self._silence.silent,
            "seconds_since_advert": round(self._clock.monotonic() - self._silence.last_advert, 1),
            "connected": sorted(self._connected),
            "max_connections": self.max_connections,
            "provisioned": len(self._devices),
            "queued_frames": self._queue.qsize(),
            "dropped_frames": self.dropped_frames,
            "scanner_restarts": self.scanner_restarts,
        }

    # --- frames and link events ------------------------------------------------------------

    def _link(self, source: str, state: LinkState, detail: str = "", rssi: int | None = None) -> None:
        try:
            self._sink.link(LinkEvent(source, state, self._clock.now(), detail, rssi))
        except Exception:  # the sink must not break the transport
            self._log.exception("%s: sink.link failed", source)

    def _emit(self, frame: RawFrame) -> None:
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped_frames += 1
            self._log.error("%s: frame queue full (%d), frame dropped", frame.source, self._queue.maxsize)

    def _frame(
        self,
        kind: Literal["ble_adv", "ble_gatt"],
        address: str,
        channel: str,
        data: bytes,
        rssi: int | None = None,
    ) -> RawFrame:
        return RawFrame(
            transport=kind,
            source=address,
            data=bytes(data),
            received_at=self._clock.now(),
            channel=channel,
            monotonic=self._clock.monotonic(),
            rssi=rssi,
        )

    async def _deliver(self) -> None:
        while True:
            frame = await self._queue.get()
            try:
                await asyncio.wait_for(self._sink.frame(frame), self._timing.deliver_timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.exception("%s: sink.frame failed; frame of %d bytes", frame.source, len(frame.data))
            finally:
                self._queue.task_done()

    # --- scanning --------------------------------------------------------------------------

    async def _scan_loop(self) -> None:
        attempt = 0
        while True:
            scanner = BleakScanner(self._on_advert, backend=self._backend.scanner)
            started = False
            try:
                self._restart_scanner.clear()
                await asyncio.wait_for(scanner.start(), self._timing.io_timeout_s)
                started = True
                attempt = 0
                await self._restart_scanner.wait()
                self.scanner_restarts += 1
                self._log.warning("adapter: restarting the BLE scanner (no advertisements)")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                delay = self._timing.scanner_restart.delay(attempt, self._rng)
                attempt += 1
                self._log.error("adapter: BLE scanner failed: %s; retrying in %.1f s", e, delay)
                self._link(
                    ADAPTER,
                    "error",
                    f"scanner failed: {e}; check that bluetoothd runs and the "
                    "adapter is up (hciconfig / bluetoothctl show)",
                )
                await asyncio.sleep(delay)
            finally:
                if started:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(scanner.stop(), self._timing.io_timeout_s)

    async def _watch(self) -> None:
        interval = max(0.01, min(5.0, self._silence.silent_after_s / 4))
        while True:
            await asyncio.sleep(interval)
            change = self._silence.check(self._clock.monotonic(), watching=bool(self._devices))
            if change == "silent":
                self._log.warning(
                    "adapter: no BLE advertisements for %.0f s while %d devices are provisioned",
                    self._silence.silent_after_s,
                    len(self._devices),
                )
                self._link(
                    ADAPTER,
                    "silent",
                    f"no advertisements for {self._silence.silent_after_s:.0f} s; "
                    "scanner restarted; if it persists, check the adapter (rfkill, USB, bluetoothd)",
                )
            if change in ("silent", "still_silent"):
                self._restart_scanner.set()

    def _on_advert(self, device: BLEDevice, adv: AdvertisementData) -> None:
        now = self._clock.monotonic()
        if self._silence.advert(now) == "recovered":
            self._log.info("adapter: advertisements flowing again")
            self._link(ADAPTER, "advertising", "adapter recovered")
        address = normalize_address(device.address)
        bound = self._devices.get(address)
        if bound is None:
            return
        self._seen[address] = device
        self._seen_event[address].set()
        announced = self._announced.get(address)
        if announced is None or now - announced >= self._timing.alive_every_s:
            self._announced[address] = now  # first advert since the last link, then a heartbeat
            self._link(address, "advertising", bound.profile.name, adv.rssi)
        if bound.policy == "advert_only":
            self._advert_frames(bound, adv, now)
        elif (
            bound.policy == "connect_on_advert"
            and address not in self._active
            and now >= self._cooldown_until.get(address, 0.0)
        ):
            self._active.add(address)
            self._spawn(self._burst_session(bound), f"ble-session-{address}")

    def _advert_frames(self, bound: BoundDevice, adv: AdvertisementData, now: float) -> None:
        rules = bound.profile.ble
        if rules is None:
            return
        wanted = {uuids.normalize(u) for u in rules.service_data_uuids}
        for uuid, data in adv.service_data.items():
            channel = uuids.normalize(uuid)
            if channel in wanted and self._adverts.accept(bound.address, channel, data, now):
                self._emit(self._frame("ble_adv", bound.address, channel, data, adv.rssi))
        for company, data in adv.manufacturer_data.items():
            channel = f"manufacturer:{company:04x}"
            if company in rules.manufacturer_ids and self._adverts.accept(bound.address, channel, data, now):
                self._emit(self._frame("ble_adv", bound.address, channel, data, adv.rssi))

    # --- connections -----------------------------------------------------------------------

    async def _burst_session(self, bound: BoundDevice) -> None:
        try:
            device = self._seen[bound.address]
            async with self._slots:
                await self._connected_session(bound, device, "burst")
        finally:
            self._active.discard(bound.address)
            self._cooldown_until[bound.address] = self._clock.monotonic() + self._timing.cooldown_s

    async def _keeper(self, bound: BoundDevice) -> None:
        attempt = 0
        event = self._seen_event[bound.address]
        while True:
            await event.wait()
            event.clear()
            device = self._seen[bound.address]
            async with self._slots:
                connected = await self._connected_session(
                    bound, device, "poll" if bound.policy == "poll" else "stay"
                )
            if bound.policy == "poll":
                await asyncio.sleep(self._timing.poll_interval_s)
                continue
            attempt = 0 if connected else attempt + 1
            delay = self._timing.reconnect.delay(attempt, self._rng)
            self._log.info("%s: reconnecting in %.1f s", bound.address, delay)
            await asyncio.sleep(delay)

    async def _connect(self, bound: BoundDevice, device: BLEDevice, lost: asyncio.Event) -> BleakClient:
        client: BleakClient = await asyncio.wait_for(
            establish_connection(
                BleakClient,
                device,
                f"{bound.profile.name} {bound.address}",
                disconnected_callback=lambda _c: lost.set(),
                max_attempts=self._timing.connect_attempts,
                backend=self._backend.client,
            ),
            self._timing.connect_timeout_s,
        )
        return client

    async def _connected_session(self, bound: BoundDevice, device: BLEDevice, mode: SessionMode) -> bool:
        """Connect, prepare, receive, disconnect. True when the connection was made."""
        address = bound.address
        lost = asyncio.Event()
        try:
            client = await self._connect(bound, device, lost)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._log.warning("%s: connection failed: %s", address, e)
            self._link(
                address,
                "error",
                f"connection failed: {e}; move the device closer to the "
                "gateway or pair it (hutgw devices pair ADDRESS)",
            )
            return False
        self._connected.add(address)
        self._link(address, "connected", mode)
        reason = "session done"
        try:
            self._last_activity[address] = self._clock.monotonic()
            await self._prepare(bound, client, lost)
            self._last_activity[address] = self._clock.monotonic()
            if mode == "stay":
                await lost.wait()
            else:
                await self._wait_quiet(address, lost, mode)
            if lost.is_set():
                reason = "device closed the link"
        except asyncio.CancelledError:
            reason = "transport stopping"
            raise
        except Exception as e:
            reason = f"error: {e}"
            self._log.warning("%s: GATT session failed: %s", address, e)
        finally:
            self._connected.discard(address)
            if not lost.is_set():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), self._timing.io_timeout_s)
            self._link(address, "disconnected", reason)
            self._announced.pop(address, None)
        return True

    async def _wait_quiet(self, address: str, lost: asyncio.Event, mode: SessionMode) -> None:
        """Until the device drops the link, sends nothing for a while, or the session is too long."""
        t = self._timing
        start = self._clock.monotonic()
        limit = start + (t.poll_listen_s if mode == "poll" else t.session_max_s)
        while not lost.is_set():
            now = self._clock.monotonic()
            until = limit if mode == "poll" else min(limit, self._last_activity[address] + t.session_idle_s)
            if now >= until:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), until - now)

    async def _prepare(self, bound: BoundDevice, client: BleakClient, lost: asyncio.Event) -> None:
        """Run the device definition's connect steps (``Profile.connect``) in order."""
        chars = [c for service in client.services for c in service.characteristics]
        by_uuid = {c.uuid: c for c in chars}
        clock_set = False
        subscribed: set[str] = set()
        for step in bound.profile.connect:
            char = by_uuid.get(uuids.normalize(step.racp if isinstance(step, RequestStored) else step.char))
            if char is None:
                continue
            if isinstance(step, SetTime):
                if not clock_set and {"write", "write-without-response"} & set(char.properties):
                    clock_set = True  # the first writable clock characteristic is the one set
                    await self._set_clock(bound.address, client, char, step)
            elif isinstance(step, Read):
                await self._read_char(bound.address, client, char)
            elif isinstance(step, Subscribe):
                if char.uuid not in subscribed:
                    await self._subscribe_char(bound.address, client, char)
                    subscribed.add(char.uuid)
            else:
                await self._request_stored(bound.address, client, char, step, by_uuid, subscribed, lost)

    async def _request_stored(
        self,
        address: str,
        client: BleakClient,
        control: BleakGATTCharacteristic,
        step: RequestStored,
        by_uuid: Mapping[str, BleakGATTCharacteristic],
        subscribed: set[str],
        lost: asyncio.Event,
    ) -> None:
        """A ``RequestStored`` step: indications on the records and the RACP, the request, the
        records (handed on as frames like live ones) until the RACP response code. Whatever goes
        wrong is one log line naming the step; the connection and the next steps carry on."""
        name = f"RequestStored(RACP {control.uuid[4:8]})"
        if not ("write" in control.properties and "indicate" in control.properties):
            self._log.info("%s: %s skipped: the RACP is not writable with indications", address, name)
            return
        records = [by_uuid[u] for u in (uuids.normalize(r) for r in step.records) if u in by_uuid]
        counts = self._record_counts.setdefault(address, {})
        before = sum(counts.get(c.uuid, 0) for c in records)
        responses: asyncio.Queue[bytes] = asyncio.Queue()
        try:
            for char in records:
                if char.uuid not in subscribed:
                    await self._subscribe_char(address, client, char)
                    subscribed.add(char.uuid)
            if control.uuid in subscribed:  # an earlier Subscribe step: its responses come here now
                await asyncio.wait_for(client.stop_notify(control), self._timing.io_timeout_s)
            await asyncio.wait_for(
                client.start_notify(control, lambda _c, data: responses.put_nowait(bytes(data))),
                self._timing.io_timeout_s,
            )
            subscribed.add(control.uuid)
            await asyncio.wait_for(
                client.write_gatt_char(control, step.request, response=True), self._timing.io_timeout_s
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._log.warning(
                "%s: %s failed: %s; no stored records downloaded, the connection carries on", address, name, e
            )
            return
        try:
            async with asyncio.timeout(step.timeout_s):
                response = await self._racp_response(address, name, responses, step.request[0], lost)
        except TimeoutError:
            self._log.warning(
                "%s: %s: no RACP response within %g s (%d record(s) received); procedure aborted, "
                "the connection carries on",
                address,
                name,
                step.timeout_s,
                sum(counts.get(c.uuid, 0) for c in records) - before,
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    client.write_gatt_char(control, racp.ABORT, response=True), self._timing.io_timeout_s
                )
            return
        received = sum(counts.get(c.uuid, 0) for c in records) - before
        if response is None:
            self._log.info(
                "%s: %s: the link dropped before the RACP response (%d record(s))", address, name, received
            )
        elif response.code == racp.SUCCESS:
            self._log.info("%s: %s: %d stored record(s) downloaded", address, name, received)
        elif response.code == racp.NO_RECORDS_FOUND:
            self._log.info("%s: %s: no stored records on the device", address, name)
        else:
            self._log.warning(
                "%s: %s: the device answered %s; %d record(s) received, the connection carries on",
                address,
                name,
                response.describe(),
                received,
            )

    async def _racp_response(
        self, address: str, name: str, responses: asyncio.Queue[bytes], request: int, lost: asyncio.Event
    ) -> racp.ResponseCode | None:
        """The RACP response code to ``request`` (None when the link drops first)."""
        while True:
            got = asyncio.ensure_future(responses.get())
            dropped = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait((got, dropped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                got.cancel()
                dropped.cancel()
            if not got.done() or got.cancelled():
                return None
            data = got.result()
            try:
                response = racp.parse_response(data)
            except DecodeError as e:
                self._log.warning("%s: %s: RACP indication %s ignored: %s", address, name, data.hex(), e)
                continue
            if isinstance(response, racp.ResponseCode) and response.request_opcode == request:
                return response
            self._log.debug("%s: %s: RACP %s while waiting", address, name, response)

    async def _read_char(self, address: str, client: BleakClient, char: BleakGATTCharacteristic) -> None:
        if "read" not in char.properties:
            return
        try:
            value = await asyncio.wait_for(client.read_gatt_char(char), self._timing.io_timeout_s)
            self._emit(self._frame("ble_gatt", address, char.uuid, bytes(value)))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._log.info("%s: %s not readable: %s", address, char.uuid, e)

    async def _subscribe_char(self, address: str, client: BleakClient, char: BleakGATTCharacteristic) -> None:
        if not {"notify", "indicate"} & set(char.properties):
            return
        await asyncio.wait_for(
            client.start_notify(char, self._value_callback(address)), self._timing.io_timeout_s
        )
        self._log.debug("%s: subscribed to %s", address, char.uuid)

    def _value_callback(self, address: str) -> Any:
        counts = self._record_counts.setdefault(address, {})

        def on_value(char: BleakGATTCharacteristic, data: bytearray) -> None:
            self._last_activity[address] = self._clock.monotonic()
            counts[char.uuid] = counts.get(char.uuid, 0) + 1
            self._emit(self._frame("ble_gatt", address, char.uuid, bytes(data)))

        return on_value

    async def _set_clock(
        self, address: str, client: BleakClient, target: BleakGATTCharacteristic, step: SetTime
    ) -> None:
        """Write the device clock (Current Time, Date Time) when the gateway's own clock is right."""
        value = step.encode(self._local_now())
        if not self._clock.synced():
            self._log.info("%s: device clock not set: the gateway clock is not synchronised", address)
            return
        try:
            await asyncio.wait_for(
                client.write_gatt_char(target, value, response="write" in target.properties),
                self._timing.io_timeout_s,
            )
            self._log.info("%s: device clock set", address)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._log.warning("%s: could not set the device clock: %s", address, e)

    def _local_now(self) -> datetime:
        now = self._clock.now()
        return now.astimezone(self._local_tz) if self._local_tz is not None else now.astimezone()
