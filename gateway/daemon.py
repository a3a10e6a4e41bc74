"""The daemon: builds every component once, runs them under one TaskGroup, stops cleanly.

Start-up order: state folder -> outbox (integrity check, recovery) -> registry -> core ->
local API -> device transports -> uplink -> READY. Shutdown (SIGTERM): stop intake (API,
transports), let the uplink finish what it can for a moment, flush and close the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from buffer.outbox import Outbox
from buffer.ports import Queue
from drivers import registry as profiles
from drivers.serial.formats import load_format_dir
from gateway import memory
from gateway.alerts import AlertManager
from gateway.api.app import build_app, check_exposure, start_api
from gateway.api.ports import About, ApiPorts, FenceZones
from gateway.clinical import ClinicalSettings
from gateway.clock import Clock, SystemClock
from gateway.commands import CommandHandler
from gateway.config import Config
from gateway.core import Gateway, UplinkPort
from gateway.devices import DeviceSupervisor
from gateway.errors import GatewayError
from gateway.events import EventBus
from gateway.fences import FenceMonitor
from gateway.geofence.store import ZoneStore
from gateway.intake import Counters
from gateway.notify.channel import ModemChannel
from gateway.notify.engine import Escalation
from gateway.notify.store import NotifyStore
from gateway.pipeline import Pipeline
from gateway.quarantine import Quarantine
from gateway.recorder import Recorder
from gateway.registry import Registry, RegistryView, ResidentEntry
from gateway.runtime import RUNTIME_FILE as RUNTIME_FILE  # re-exported
from gateway.runtime import read_runtime as read_runtime  # re-exported (light: gateway.runtime)
from gateway.runtime import write_runtime
from gateway.sdnotify import HealthCheck, Notifier, Watchdog, watchdog_interval
from gateway.sessions import KioskSessions
from gateway.settings import outbox_settings, uplink_settings
from hutgw_errors import HutError

log = logging.getLogger("hutgw.daemon")

MAINTENANCE_INTERVAL_S = 300.0
TICK_INTERVAL_S = 1.0
TRIM_EVERY_TICKS = 60
STALE_AFTER_S = 30.0  # periodic work, device supervision or one outbox commit stuck this long = unhealthy
LOCK_FILE = "hutgw.lock"  # held (flock) for the daemon's life: one daemon per state folder


class StartError(GatewayError):
    """The daemon cannot start for an everyday reason (exit 4: something else holds what it needs)."""

    exit_code = 4


def _lock_state_dir(state_dir: Path) -> int:
    """Hold ``<state>/hutgw.lock``; a second daemon on the same folder is refused."""
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise StartError(
            f"hutgw is already running on {state_dir}, pid {holder}",
            hint="stop it first (systemctl stop hutgw), or give this one another --state-dir",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _address_in_use(error: BaseException) -> OSError | None:
    """The first 'address in use/not available' error in ``error`` (its exception groups and
    what a transport error was raised from)."""
    if isinstance(error, OSError) and error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _address_in_use(inner)
            if found is not None:
                return found
    if isinstance(error, HutError) and error.__context__ is not None:
        return _address_in_use(error.__context__)
    return None


def _first_hut_error(error: BaseException) -> HutError | None:
    if isinstance(error, HutError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _first_hut_error(inner)
            if found is not None:
                return found
    return None


def _port_error(what: str, listen: str, error: OSError) -> StartError:
    reason = {
        errno.EADDRINUSE: "is already in use by another program",
        errno.EADDRNOTAVAIL: "is not an address of this machine",
        errno.EACCES: "may not be used by this user (ports below 1024 need root)",
    }.get(error.errno or 0, error.strerror or str(error))
    key = {"API": "[api] listen or --api", "watch": "[watch] listen"}[what]
    return StartError(
        f"the {what} address {listen} {reason}",
        hint=f"stop the other program (ss -ltnp | grep {listen.rpartition(':')[2]}) or choose another "
        f"port with {key}",
    )


class Daemon:
    """``async with Daemon(config) as d:`` runs the gateway until the block exits."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        ble_backend: Any = None,
        ble_timing: Any = None,
        notifier: Notifier | None = None,
        logger: logging.Logger | None = None,
        watchdog_s: float | None = None,
        health_probes: Sequence[HealthCheck] = (),
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        """``watchdog_s``: ``WatchdogSec=`` in seconds (default: from ``$WATCHDOG_USEC``).
        ``health_probes``: extra checks the watchdog consults besides the daemon's own
        (:meth:`health`); ``stale_after_s``: how long periodic work may hang before it counts."""
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.clock = clock or SystemClock(sync_source=config.clock.sync_source)
        self.ble_backend = ble_backend
        self.ble_timing = ble_timing
        self.notifier = notifier or Notifier.from_env()
        self.log = logger or log
        self.watchdog_s = watchdog_s if watchdog_s is not None else watchdog_interval()
        self.health_probes = tuple(health_probes)
        self.stale_after_s = stale_after_s
        self.watchdog: Watchdog | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._devices: DeviceSupervisor | None = None
        self._last_tick: float | None = None
        self._stopping = False
        self._stack = contextlib.AsyncExitStack()
        self._runner: web.AppRunner | None = None
        self._tasks: asyncio.TaskGroup | None = None
        # The parts _start() builds (tests and the demo reach them here, not through the core).
        self.gateway: Gateway
        self.alerts: AlertManager
        self.notify: Escalation
        self.outbox: Outbox
        self.sessions: KioskSessions
        self.uplink: UplinkPort | None = None
        self.api_ports: ApiPorts
        self.api_url = ""
        self._healthy_reason: str | None = None

    async def __aenter__(self) -> Daemon:
        try:
            try:
                await self._start()
            except BaseException:
                await self._stack.aclose()
                raise
        except BaseExceptionGroup as group:  # the watch listener fails inside the task group
            in_use = _address_in_use(group)
            if in_use is not None and self.config.watch.listen:
                raise _port_error("watch", self.config.watch.listen, in_use) from None
            known = _first_hut_error(group)
            if known is not None:
                raise known from None
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping = True
        self.notifier.notify("STOPPING=1", "STATUS=stopping")
        self.log.info("stopping: intake closed, flushing the outbox")
        await self._stack.aclose()
        self.log.info("stopped")

    async def _start(self) -> None:
        cfg = self.config
        check_exposure(cfg.api)  # refuse an exposed API without a token before touching anything
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock_state_dir(self.state_dir)
        self._stack.callback(os.close, lock_fd)
        local = profiles.add_local(load_format_dir(self.state_dir / "profiles"))
        if local:
            self.log.info("local serial formats: %s", ", ".join(local))
        events = EventBus()
        outbox = Outbox(
            self.state_dir / "outbox.db",
            settings=outbox_settings(cfg.buffer),
            logger=logging.getLogger("hutgw.buffer"),
        )
        await self._stack.enter_async_context(outbox)
        self.outbox = outbox
        registry = Registry(self.state_dir / "registry.db")
        self._stack.callback(registry.close)
        # Built before everything that reads the registry, so that none of them needs the core.
        view = RegistryView(registry, logging.getLogger("hutgw.core"))
        alerts = AlertManager.from_config(self.clock, cfg.clinical, guardians=view.guardians)
        self.alerts = alerts
        # The escalation engine before the uplink (whose alert.ack command acknowledges through
        # it) and the recorder (which hands it every alert); its status events go to the recorder
        # through the task that emits them (notify.run below), not through the constructor.
        notify = self._make_notify(view.resident, events)
        self.notify = notify
        sessions = KioskSessions(self.clock, cfg.api.session_timeout_s)
        self.sessions = sessions
        pipeline = Pipeline(
            registry=view,
            sessions=sessions,
            clinical=ClinicalSettings.from_config(cfg.clinical),
            alerts=alerts,
            clock=self.clock,
            max_device_skew_s=cfg.clock.max_device_skew_s,
            max_device_future_s=cfg.clock.max_device_future_s,
            device_tz=cfg.clock.device_timezone,
        )
        counters = Counters()  # the intake's; also read by the API and the uplink's status
        # The uplink is made here and entered below, after the API and before the transports.
        uplink = self._make_uplink(outbox.queue, registry, notify, counters)  # it drains the queue
        self.uplink = uplink
        recorder = Recorder(
            outbox.queue,
            outbox.records,
            events,
            pipeline,
            on_alerts=notify.on_alerts,
            wake=None if uplink is None else uplink.wake,
        )
        quarantine = Quarantine(self.state_dir / "quarantine.jsonl")
        fences = FenceMonitor(ZoneStore.in_state_dir(self.state_dir), cfg.geofence, alerts)
        gw = Gateway(
            clock=self.clock,
            registry=view,
            pipeline=pipeline,
            recorder=recorder,
            events=events,
            counters=counters,
            quarantine=quarantine,
            fences=fences,
        )
        self.gateway = gw
        await self._report_recovery(outbox, alerts, recorder)

        # Local API: narrow ports, made here and nowhere else (gateway/api/ports.py)
        ports = ApiPorts(
            about=About(cfg.gateway_id, self.clock.now()),
            clock=self.clock,
            sessions=sessions,
            events=events,
            residents=view,
            manual=pipeline,
            submit=gw,
            clinical=pipeline.clinical,
            records=outbox.records,
            reattribution=recorder.reattribution,
            counters=counters,
            devices=gw.intake,
            outbox=outbox.queue,
            quarantine=quarantine,
            alerts=alerts,
            zones=FenceZones(fences),
            uplink=uplink,
            health=self.health,
        )
        self.api_ports = ports
        app = build_app(ports, cfg.api, notify=notify)
        try:  # behind the connection cap and idle timeout (gateway/api/app.py)
            api = await start_api(app, cfg.api)
        except OSError as e:
            if _address_in_use(e) is None:
                raise
            raise _port_error("API", cfg.api.listen, e) from None
        self._runner = api.runner
        self._stack.push_async_callback(api.aclose)
        self.api_url = f"http://{cfg.api.host}:{cfg.api.port}"
        self.log.info("local API on %s", self.api_url)

        # Uplink (optional) — entered before the transports so it is closed after them.
        if uplink is not None:
            await self._stack.enter_async_context(uplink)
        else:
            self.log.warning("uplink disabled: no broker or FHIR endpoint configured; readings are buffered")

        # Background work and device transports, under one TaskGroup owned by this daemon.
        self._tasks = asyncio.TaskGroup()
        await self._stack.enter_async_context(self._tasks)
        stop = asyncio.Event()
        self._stack.callback(stop.set)
        # The transports deliver to the core; the supervisor reads the registry view and raises
        # its own alerts (a watch id on two addresses) through the alert manager and the recorder.
        devices = DeviceSupervisor(
            cfg,
            sink=gw,
            registry=view,
            alerts=alerts,
            recorder=recorder,
            clock=self.clock,
            ble_backend=self.ble_backend,
            ble_timing=self.ble_timing,
        )
        self._devices = devices
        # FHIR over HTTP maps alerts, not their notification steps (docs/alerts.md): no sink then.
        status = None if cfg.uplink.transport == "http" else recorder
        for name, work in (
            ("devices", devices.run(stop)),
            ("maintenance", self._maintenance(outbox, alerts, recorder, stop)),
            ("ticks", self._ticks(gw, stop)),
            ("notify", notify.run(stop, status=status)),
        ):
            self.tasks[name] = self._tasks.create_task(work, name=name)
        await devices.started.wait()
        # Pings only from READY on: start-up is bounded by TimeoutStartSec=, not by the watchdog.
        self.watchdog = Watchdog(self.notifier, self.watchdog_s, self._health_check, self.log)
        self.tasks["watchdog"] = self._tasks.create_task(self.watchdog.run(stop), name="watchdog")
        self._write_runtime()
        memory.settle()  # start-up garbage back to the system; long-lived objects out of the GC's way
        self.notifier.notify("READY=1", f"STATUS=ready: API {self.api_url}")
        self.log.info("gateway %s ready", cfg.gateway_id)

    def _write_runtime(self) -> None:
        """``<state>/runtime.json``: where this daemon listens (``hutgw status`` reads it); removed
        when it stops."""
        from urllib.parse import urlsplit, urlunsplit

        cfg = self.config
        broker = cfg.uplink.broker
        if broker:  # never the user name or password
            parts = urlsplit(broker)
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            netloc = f"{netloc}:{parts.port}" if parts.port else netloc
            broker = urlunsplit((parts.scheme, netloc, "", "", ""))
        data = {
            "pid": os.getpid(),
            "api": cfg.api.listen,
            "api_url": self.api_url,
            "watch": cfg.watch.listen,
            "broker": broker,
            "fhir_endpoint": cfg.uplink.fhir_endpoint if cfg.uplink.transport == "http" else None,
            "gateway_id": cfg.gateway_id,
            "started_at": self.clock.now().isoformat(),
        }
        path = write_runtime(self.state_dir, data)
        self._stack.callback(lambda: path.unlink(missing_ok=True))

    def _make_notify(
        self, resident: Callable[[str | None], ResidentEntry | None], events: EventBus
    ) -> Escalation:
        """The escalation engine on ``<state>/notify.db``, with the modem channel when
        ``[notify] modem`` is set (docs/alerts.md)."""
        cfg = self.config.notify
        store = NotifyStore(self.state_dir / "notify.db")
        self._stack.callback(store.close)  # after the task group (entered later) has ended
        modem = None
        if cfg.modem:  # the engine builds it with its own on_reply (replies: SMS acknowledgements)
            modem = functools.partial(
                ModemChannel,
                cfg.modem,
                send_timeout_s=cfg.send_timeout_s,
                logger=logging.getLogger("hutgw.modem"),
            )
        else:
            self.log.warning("no [notify] modem: urgent alerts are not texted (kiosk and county only)")
        return Escalation(
            store,
            cfg,
            clock=self.clock,
            resident=resident,
            make_channel=modem,
            announce=functools.partial(events.publish, "alert_status"),
            logger=logging.getLogger("hutgw.notify"),
        )

    def _make_uplink(
        self, outbox: Queue, registry: Registry, notify: Escalation, counters: Counters
    ) -> UplinkPort | None:
        cfg = self.config
        logger = logging.getLogger("hutgw.uplink")
        if cfg.uplink.transport == "http":
            from uplink.fhir.http import from_settings

            return from_settings(cfg.uplink.model_dump(), outbox, gateway_id=cfg.gateway_id, logger=logger)
        if not cfg.uplink.broker:
            return None
        from uplink.client import Uplink

        encode_batch = None
        if cfg.uplink.payload_format == "fhir":
            from uplink.fhir.bundle import FhirSettings
            from uplink.fhir.encoder import mqtt_encoder

            encode_batch = mqtt_encoder(FhirSettings.from_mapping(cfg.uplink.model_dump()))
        return Uplink(
            uplink_settings(cfg.uplink, self.state_dir),
            outbox,
            gateway_id=cfg.gateway_id,
            logger=logger,
            status_provider=functools.partial(status_counters, outbox, counters, self.clock),
            encode_batch=encode_batch,
            on_command=CommandHandler(
                registry,
                ZoneStore.in_state_dir(self.state_dir),
                gateway_id=cfg.gateway_id,
                clock=self.clock,
                alerts=notify,
            ),
        )

    async def _report_recovery(self, outbox: Outbox, alerts: AlertManager, recorder: Recorder) -> None:
        report = outbox.recovery
        if report is None:
            return
        alert = alerts.raise_alert(
            "buffer_recovered",
            "warning",
            None,
            report.alert_text(),
            {
                "recovered": report.recovered_rows,
                "moved_to": None if report.moved_to is None else str(report.moved_to),
                "detail": report.detail,
            },
        )
        if alert is not None:
            await recorder.alerts([alert])
        await outbox.recovery_reported()  # stored: not raised again on the next start

    async def _maintain_once(self, outbox: Outbox, alerts: AlertManager, recorder: Recorder) -> None:
        result = await outbox.maintain()
        if not (result.dropped or result.overflow):
            return
        dropped = dict(result.dropped)
        if result.overflow:
            message = "outbox over its disk quota with only clinical readings and alerts left"
        else:
            message = f"outbox over its disk quota: dropped {sum(dropped.values())} oldest telemetry readings"
        alert = alerts.raise_alert(
            "buffer_overflow",
            "critical" if result.overflow else "warning",
            None,
            message,
            {"dropped": dropped, "overflow": result.overflow, "used_bytes": result.used_bytes},
        )
        if alert is not None:
            await recorder.alerts([alert])

    def health(self) -> str | None:
        """``None`` when the daemon is healthy, else the first reason found.

        Healthy means: the periodic work of the main loop completed recently and without error;
        the device supervisor, the outbox maintenance and (when configured) the uplink task run;
        the device supervisor made a pass recently and its listeners run; the outbox writer runs
        and no commit hangs; every injected probe agrees. A blocked event loop is caught by
        the watchdog itself: it cannot ping then.
        """
        if self._stopping:
            return None
        now = asyncio.get_running_loop().time()
        if self._healthy_reason is not None:
            return self._healthy_reason
        if self._last_tick is not None and now - self._last_tick > self.stale_after_s + TICK_INTERVAL_S:
            return f"periodic work has not completed for {now - self._last_tick:.0f} s"
        for name, task in self.tasks.items():
            if task.done() and name != "watchdog":
                return f"{name} task stopped"
        if self.uplink is not None and not self.uplink.running:
            return "uplink task stopped"
        reason = self.outbox.health(stuck_after_s=self.stale_after_s)
        if reason is None and self._devices is not None:
            reason = self._devices.health(stale_after_s=self.stale_after_s)
        if reason is not None:
            return reason
        for probe in self.health_probes:
            result = probe()
            if result is not True:
                return result if isinstance(result, str) and result else f"health probe {probe!r} failed"
        return None

    def _health_check(self) -> bool | str:
        reason = self.health()
        return True if reason is None else reason

    async def _maintenance(
        self, outbox: Outbox, alerts: AlertManager, recorder: Recorder, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                await self._maintain_once(outbox, alerts, recorder)
            except Exception:
                self.log.exception("outbox maintenance failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), MAINTENANCE_INTERVAL_S)

    async def _ticks(self, gw: Gateway, stop: asyncio.Event) -> None:
        """Once a second: the core's periodic work; once a minute, free heap back to the system."""
        ticks = 0
        while not stop.is_set():
            ticks += 1
            if ticks % TRIM_EVERY_TICKS == 0:
                memory.trim()
            try:
                await gw.tick()
                self._healthy_reason = None
            except Exception as e:
                self._healthy_reason = f"tick failed: {e}"
                self.log.exception("periodic work failed")
            self._last_tick = asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_INTERVAL_S)


async def status_counters(queue: Queue, counters: Counters, clock: Clock) -> dict[str, Any]:
    """The counters of the uplink's status heartbeat (``hut.status/1``)."""
    stats = await queue.stats()
    return {
        "pending": {lane: by_state.get("pending", 0) for lane, by_state in stats.depth.items()},
        "oldest_pending_age_s": stats.oldest_pending_age_s,
        "decode_errors": sum(counters.decode_errors.values()),
        "clock_synced": clock.synced(),
    }


async def serve(config: Config, *, on_ready: Callable[[Daemon], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT; a second signal exits at once.  A signal during start-up (a long
    repair of a damaged outbox) cancels the start-up: the outbox's repair thread stops at its next
    step, and the repair starts over on the next start."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0
    task = asyncio.current_task()
    starting = True
    start_cancelled = False

    def on_signal() -> None:
        nonlocal signals, start_cancelled
        signals += 1
        if signals > 1:
            log.warning("second stop signal: exiting now")
            import os

            os._exit(1)
        stop.set()
        if starting and task is not None:
            start_cancelled = True
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with Daemon(config) as daemon:
            starting = False
            if on_ready is not None:
                on_ready(daemon)
            await stop.wait()
    except asyncio.CancelledError:
        if not start_cancelled or task is None:
            raise
        task.uncancel()
        log.warning("stop signal during start-up: stopped")
    return 0
