"""Runs the device transports the registry asks for, and keeps them in step with it.

Serial devices get one transport each; provisioned watches share the TCP listener; BLE
devices share one bleak transport. A technician adding or removing a device with the CLI
takes effect within a few seconds, without a restart.

The supervisor gets narrow ports, made in the daemon (:mod:`gateway.daemon`): the transports'
frame sink (:class:`drivers.source.FrameSink`, the core), the registry view (which devices to run,
which watch ids may connect), an :class:`gateway.alerts.AlertRaiser` (the alert manager) for the
faults it notices itself and an :class:`gateway.alerts.AlertSink` (the recorder) to hand them on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from drivers import registry as profiles
from drivers.source import FrameSink
from gateway.alerts import AlertRaiser, AlertSink
from gateway.clock import Clock
from gateway.config import Config
from gateway.intake import find_device
from gateway.registry import DeviceEntry, RegistryView

log = logging.getLogger("hutgw.devices")

RECONCILE_INTERVAL_S = 3.0


class DeviceSupervisor:
    def __init__(
        self,
        config: Config,
        *,
        sink: FrameSink,
        registry: RegistryView,
        alerts: AlertRaiser,
        recorder: AlertSink,
        clock: Clock,
        ble_backend: Any = None,
        ble_timing: Any = None,
    ) -> None:
        """``sink``: where every transport delivers frames and link events (the core).
        ``registry``: the daemon's view, read on every reconcile pass. ``alerts`` raises, and
        ``recorder`` keeps and sends, the alerts the supervisor raises itself (a watch id
        connected from two addresses)."""
        self.config = config
        self.sink = sink
        self.registry = registry
        self.alerts = alerts
        self.recorder = recorder
        self.ble_backend = ble_backend
        self.ble_timing = ble_timing
        self.clock = clock
        self.started = asyncio.Event()
        self.alive_at: float | None = None  # loop time of the last reconcile pass (health check)
        self._serial: dict[str, tuple[DeviceEntry, asyncio.Task[None], asyncio.Event]] = {}
        self._watch_listening = asyncio.Event()
        self._shared: list[asyncio.Task[None]] = []  # the watch listener and the BLE transport
        self._stopping = False

    def _epoch(self) -> float:
        return self.clock.now().timestamp()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; ``started`` is set once the watch listener listens and the serial tasks
        exist (a listener that cannot bind fails this task, and start-up, instead)."""
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as tg:
            if self.config.watch.listen:
                self._shared.append(tg.create_task(self._watch_server(stop), name="watch-server"))
                await self._watch_listening.wait()
            if self.config.ble.enabled:
                self._shared.append(tg.create_task(self._ble(stop), name="ble"))
            try:
                while not stop.is_set():
                    self._reconcile_serial(tg)
                    self.alive_at = loop.time()
                    self.started.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), RECONCILE_INTERVAL_S)
            finally:
                self._stopping = True
                for _, _, dev_stop in self._serial.values():
                    dev_stop.set()

    def health(self, *, stale_after_s: float = 30.0) -> str | None:
        """``None`` while the device tasks run, else what is wrong (for the service watchdog)."""
        if self._stopping:
            return None
        for task in self._shared:
            if task.done():
                return f"device task {task.get_name()} stopped"
        if self.alive_at is not None:
            idle = asyncio.get_running_loop().time() - self.alive_at
            if idle > stale_after_s + RECONCILE_INTERVAL_S:
                return f"device supervisor stuck: no reconcile pass for {idle:.0f} s"
        return None

    # -- serial ---------------------------------------------------------------------
    def _reconcile_serial(self, tg: asyncio.TaskGroup) -> None:
        wanted: dict[str, DeviceEntry] = {}
        for dev in self.registry.snapshot().devices.values():
            profile = profiles.profiles().get(dev.profile)
            if profile is not None and profile.transport == "serial" and dev.address:
                wanted[dev.id] = dev
        for dev_id, (entry, task, dev_stop) in list(self._serial.items()):
            if wanted.get(dev_id) != entry or task.done():
                dev_stop.set()
                del self._serial[dev_id]
        for dev_id, dev in wanted.items():
            if dev_id not in self._serial:
                dev_stop = asyncio.Event()
                task = tg.create_task(self._serial_device(dev, dev_stop), name=f"serial:{dev_id}")
                self._serial[dev_id] = (dev, task, dev_stop)

    async def _serial_device(self, dev: DeviceEntry, stop: asyncio.Event) -> None:
        from drivers.serial.transport import SerialTransport

        profile = profiles.get(dev.profile)
        assert dev.address is not None
        log.info("[%s] serial transport on %s (%s)", dev.id, dev.address, dev.profile)
        try:
            async with SerialTransport(
                dev.id,
                dev.address,
                profile,
                self.sink,
                clock=self._epoch,
                logger=logging.getLogger(f"hutgw.serial.{dev.id}"),
            ):
                await stop.wait()
        except Exception:
            log.exception("[%s] serial transport failed; it will be restarted", dev.id)

    # -- watches ------------------------------------------------------------------------
    async def _watch_server(self, stop: asyncio.Event) -> None:
        from drivers.watch.server import WatchServer

        host, _, port = (self.config.watch.listen or "").rpartition(":")

        def allowed(watch_id: str) -> bool:
            dev = find_device(self.registry.snapshot(), watch_id)
            return dev is not None and dev.profile.startswith("watch")

        async def conflict(watch_id: str, first: str, second: str) -> None:
            dev = find_device(self.registry.snapshot(), watch_id)
            name = dev.id if dev is not None else "?"
            alert = self.alerts.raise_alert(
                "gateway_fault",
                "warning",
                None,
                f"watch {name} connected from two addresses at once ({first}, {second}): "
                "another device may be using its id",
                {"cause": "watch_id_conflict", "device": name, "peers": [first, second]},
                key=f"watch_id_conflict:{name}",
            )
            if alert is not None:
                await self.recorder.alerts([alert])

        watch = self.config.watch
        async with WatchServer(
            host,
            int(port),
            self.sink,
            allowed_ids=allowed,
            idle_timeout_s=watch.idle_timeout_s,
            max_connections=watch.max_connections,
            max_frame_bytes=watch.max_frame_bytes,
            clock=self._epoch,
            logger=logging.getLogger("hutgw.watch"),
            first_frame_timeout_s=watch.first_frame_timeout_s,
            max_unidentified_per_address=watch.max_unidentified_per_address,
            on_conflict=conflict,
        ):
            self._watch_listening.set()
            await stop.wait()

    # -- BLE ----------------------------------------------------------------------------
    def _ble_devices(self) -> frozenset[tuple[str, str]]:
        known = profiles.profiles()
        return frozenset(
            (d.address, d.profile)
            for d in self.registry.snapshot().devices.values()
            if d.address and d.profile in known and known[d.profile].transport in ("ble_gatt", "ble_adv")
        )

    async def _ble(self, stop: asyncio.Event) -> None:
        """One bleak transport for every BLE device; rebuilt when the provisioned set changes."""
        from drivers.ble.transport import BleTransport

        while not stop.is_set():
            devices = self._ble_devices()
            try:
                async with BleTransport(
                    sorted(devices),
                    self.sink,
                    backend=self.ble_backend,
                    clock=self.clock,
                    timing=self.ble_timing,
                    max_connections=self.config.ble.max_connections,
                    silent_after_s=self.config.ble.silent_adapter_s,
                    logger=logging.getLogger("hutgw.ble"),
                ):
                    while not stop.is_set() and self._ble_devices() == devices:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), RECONCILE_INTERVAL_S)
                if not stop.is_set():
                    log.info("BLE devices changed; restarting the BLE transport")
            except Exception:
                log.exception("BLE transport failed; restarting in 10 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 10.0)
