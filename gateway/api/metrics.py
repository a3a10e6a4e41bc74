"""``GET /metrics``: the gateway's state in the Prometheus text format, refreshed at every scrape.

The series are kept in one :class:`gateway.metrics.MetricsRegistry` per application. Nothing is
counted twice: every value is copied at scrape time from where the daemon already keeps it (the
gateway's counters and device map, the outbox statistics, the uplink state, the alert manager,
``/proc/self``). Labels are lanes, states, profiles, kinds and device ids, never resident data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from aiohttp import web

from buffer.results import OutboxStats
from gateway.api.ports import (
    ABOUT,
    ALERT_STATS,
    CLOCK,
    COUNTERS,
    DEVICES,
    HEALTH,
    OUTBOX_STATS,
    QUARANTINE,
    RESIDENTS,
    SESSIONS,
    UPLINK,
)
from gateway.metrics import CONTENT_TYPE, Family, MetricsRegistry, ProcessMetrics

UPLINK_STATES = ("connected", "disconnected", "auth_failed", "disabled")


def _set_gauges(family: Family, values: Mapping[str, float | int | None]) -> None:
    """Replace every series of a one-label gauge (series of vanished labels disappear)."""
    family.clear()
    for label, value in values.items():
        if value is not None:
            family.labels(label).set(value)


def _set_totals(family: Family, values: Mapping[str, int] | Mapping[tuple[str, str], int]) -> None:
    for label, value in values.items():
        key = label if isinstance(label, tuple) else (label,)
        family.labels(*key).set_total(value)


class GatewayMetrics:
    """The registry behind ``/metrics``; :meth:`scrape` refreshes it from the app's ports
    (:mod:`gateway.api.ports`)."""

    def __init__(self, app: web.Application) -> None:
        self._outbox = app[OUTBOX_STATS]
        self._uplink = app[UPLINK]
        self._counters = app[COUNTERS]
        self._quarantine = app[QUARANTINE]
        self._residents = app[RESIDENTS]
        self._devices = app[DEVICES]
        self._sessions = app[SESSIONS]
        self._alerts = app[ALERT_STATS]
        self._clock = app[CLOCK]
        self._health = app[HEALTH]
        self.registry = reg = MetricsRegistry()
        self._stats: OutboxStats | None = None
        # outbox
        self.outbox_records = reg.gauge(
            "hutgw_outbox_records", "Records in the outbox, by lane and state.", ("lane", "state")
        )
        self.outbox_pending = reg.gauge("hutgw_outbox_pending", "Records waiting for the uplink.", ("lane",))
        self.oldest_pending = reg.gauge(
            "hutgw_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered record (0 when none)."
        )
        self.outbox_disk = reg.gauge("hutgw_outbox_disk_bytes", "Outbox database and WAL files on disk.")
        self.outbox_used = reg.gauge(
            "hutgw_outbox_used_bytes", "Live outbox pages (checked against the quota)."
        )
        self.outbox_quota = reg.gauge("hutgw_outbox_quota_bytes", "The outbox disk quota.")
        self.outbox_written = reg.counter(
            "hutgw_outbox_written_bytes_total", "Bytes this process wrote to storage since it started."
        )
        self.outbox_fsyncs = reg.counter(
            "hutgw_outbox_fsyncs_total", "fsyncs of the outbox's write-ahead log since the daemon started."
        )
        self.outbox_unsynced = reg.gauge(
            "hutgw_outbox_unsynced_commits",
            "Outbox commits not yet fsynced (telemetry, claims, acks; a power cut could undo them).",
        )
        self.outbox_dropped = reg.counter(
            "hutgw_outbox_dropped_total", "Undelivered records dropped to keep the disk quota.", ("kind",)
        )
        self.outbox_overflow = reg.gauge(
            "hutgw_outbox_overflow", "1 when the outbox is over quota with only alerts and clinical readings."
        )
        # uplink
        self.uplink_enabled = reg.gauge("hutgw_uplink_enabled", "1 when a county broker is configured.")
        self.uplink_connected = reg.gauge("hutgw_uplink_connected", "1 while the MQTT uplink is connected.")
        self.uplink_state = reg.gauge(
            "hutgw_uplink_state", "1 for the uplink's current state, 0 for the others.", ("state",)
        )
        self.uplink_reconnects = reg.counter(
            "hutgw_uplink_reconnects_total", "Uplink reconnections since start."
        )
        self.uplink_records = reg.counter(
            "hutgw_uplink_records_total",
            "Records sent to the county by outcome: published (first send), resent, acked, rejected.",
            ("outcome",),
        )
        self.uplink_inflight = reg.gauge("hutgw_uplink_inflight_batches", "Batches sent and not yet acked.")
        self.uplink_last_ack = reg.gauge(
            "hutgw_uplink_last_ack_timestamp_seconds", "Unix time of the county's last acknowledgement."
        )
        self.uplink_commands = reg.counter("hutgw_uplink_commands_total", "County commands received.")
        self.uplink_acks_refused = reg.counter(
            "hutgw_uplink_acks_refused_total",
            "Acks that changed nothing: unsigned, badly signed, malformed, for another gateway.",
        )
        # intake
        self.frames = reg.counter("hutgw_frames_total", "Device frames received, by profile.", ("profile",))
        self.decode_errors = reg.counter(
            "hutgw_decode_errors_total", "Frames refused by a decoder.", ("profile", "category")
        )
        self.readings = reg.counter("hutgw_readings_total", "Readings stored, by kind.", ("kind",))
        self.duplicates = reg.counter(
            "hutgw_duplicates_total", "Stored readings a device sent again (ignored)."
        )
        self.unknown = reg.counter(
            "hutgw_unknown_source_frames_total", "Frames from sources that are not provisioned (ignored)."
        )
        self.api_refused = reg.counter(
            "hutgw_api_refused_total", "Readings the local API refused as invalid."
        )
        self.quarantined = reg.counter(
            "hutgw_quarantined_frames_total", "Bad frames kept in quarantine.jsonl for inspection."
        )
        # devices
        self.device_last_seen = reg.gauge(
            "hutgw_device_last_seen_timestamp_seconds", "Unix time of a device's last frame.", ("device",)
        )
        self.device_battery = reg.gauge(
            "hutgw_device_battery_percent", "A device's last reported battery level.", ("device",)
        )
        self.device_rssi = reg.gauge("hutgw_device_rssi_dbm", "A device's last signal strength.", ("device",))
        self.device_connected = reg.gauge(
            "hutgw_device_connected",
            "1 while a device's link is up (connection-based transports).",
            ("device",),
        )
        # kiosk, alerts, clock
        self.session_active = reg.gauge("hutgw_kiosk_session_active", "1 while a resident is signed in.")
        self.alerts_raised = reg.counter("hutgw_alerts_raised_total", "Alerts raised, by kind.", ("kind",))
        self.alerts_suppressed = reg.counter(
            "hutgw_alerts_suppressed_total", "Repeats of an alert held back, by kind.", ("kind",)
        )
        self.healthy = reg.gauge(
            "hutgw_healthy", "1 while the daemon's health check passes (the systemd watchdog is fed)."
        )
        self.clock_synced = reg.gauge("hutgw_clock_synced", "1 when the clock is trusted (synchronised).")
        self.started = reg.gauge("hutgw_start_time_seconds", "Unix time the gateway core started.")
        self.started.set(app[ABOUT].started_at.timestamp())
        reg.on_collect(self._collect)
        self.process = ProcessMetrics(reg)

    async def scrape(self) -> str:
        """The exposition text, as of now."""
        self._stats = await self._outbox.stats()
        return self.registry.render()

    def _collect(self) -> None:
        self._collect_outbox()
        self._collect_uplink()
        self._collect_intake()
        self._collect_devices()
        self.session_active.set(1 if self._sessions.current() is not None else 0)
        alerts = self._alerts.stats()
        _set_totals(self.alerts_raised, alerts["raised"])
        _set_totals(self.alerts_suppressed, alerts["suppressed"])
        self.clock_synced.set(1 if self._clock.synced() else 0)
        self.healthy.set(1 if self._health is None or self._health() is None else 0)

    def _collect_outbox(self) -> None:
        s = self._stats
        if s is None:
            return
        for lane, by_state in s.depth.items():
            for state, n in by_state.items():
                self.outbox_records.labels(lane, state).set(n)
        _set_gauges(self.outbox_pending, {lane: by.get("pending", 0) for lane, by in s.depth.items()})
        self.oldest_pending.set(s.oldest_pending_age_s or 0.0)
        self.outbox_disk.set(s.bytes_on_disk)
        self.outbox_used.set(s.used_bytes)
        self.outbox_quota.set(s.quota_bytes)
        if s.bytes_written is not None:
            self.outbox_written.set_total(max(s.bytes_written, self.outbox_written.value))
        self.outbox_fsyncs.set_total(max(s.fsyncs, self.outbox_fsyncs.value))
        self.outbox_unsynced.set(s.unsynced_commits)
        _set_totals(self.outbox_dropped, s.dropped)
        self.outbox_overflow.set(1 if s.overflow else 0)

    def _collect_uplink(self) -> None:
        uplink = self._uplink
        self.uplink_enabled.set(0 if uplink is None else 1)
        if uplink is None:
            current = "disabled"
            self.uplink_connected.set(0)
        else:
            st = uplink.state
            current = "connected" if st.connected else "auth_failed" if st.auth_failed else "disconnected"
            self.uplink_connected.set(1 if st.connected else 0)
            self.uplink_reconnects.set_total(st.reconnects)
            counts = dataclasses.asdict(st)
            for outcome in ("published", "resent", "acked", "rejected"):
                self.uplink_records.labels(outcome).set_total(counts[outcome])
            self.uplink_inflight.set(st.inflight_batches)
            self.uplink_commands.set_total(st.commands)
            self.uplink_acks_refused.set_total(st.acks_refused)
            if st.last_ack_at is not None:
                self.uplink_last_ack.set(st.last_ack_at.timestamp())
        for state in UPLINK_STATES:
            self.uplink_state.labels(state).set(1 if state == current else 0)

    def _collect_intake(self) -> None:
        c = self._counters
        _set_totals(self.frames, c.frames)
        _set_totals(self.decode_errors, c.decode_error_categories)
        _set_totals(self.readings, c.readings)
        self.duplicates.set_total(c.duplicates)
        self.unknown.set_total(c.unknown_sources)
        self.api_refused.set_total(c.api_refused)
        self.quarantined.set_total(self._quarantine.count)

    def _collect_devices(self) -> None:
        known = self._residents.snapshot().devices  # provisioned devices only: bounded label cardinality
        devices = {k: s for k, s in self._devices.devices.items() if k in known}
        _set_gauges(
            self.device_last_seen,
            {k: s.last_seen.timestamp() if s.last_seen else None for k, s in devices.items()},
        )
        _set_gauges(self.device_battery, {k: s.battery_pct for k, s in devices.items()})
        _set_gauges(self.device_rssi, {k: s.rssi for k, s in devices.items()})
        _set_gauges(
            self.device_connected,
            {k: (1 if s.state == "connected" else 0) for k, s in devices.items() if s.state != "unknown"},
        )


METRICS: web.AppKey[GatewayMetrics] = web.AppKey("metrics", GatewayMetrics)


def _doctor_metrics(app: web.Application) -> None:
    """Wrong doctor PINs and the lock-outs they caused (a client guessing PINs locks the doctor
    out for everyone, so the county should see it)."""
    from gateway.api.doctor import AUTH  # set up before this module (ROUTE_MODULES order)

    auth = app[AUTH]
    reg = app[METRICS].registry
    failures = reg.counter("hutgw_doctor_pin_failures_total", "Wrong doctor PINs or tokens since start.")
    lockouts = reg.counter("hutgw_doctor_lockouts_total", "Doctor lock-outs after too many wrong PINs.")
    locked = reg.gauge("hutgw_doctor_locked_seconds", "Seconds until the doctor lock-out ends (0: open).")

    def collect() -> None:
        failures.set_total(auth.failures_total)
        lockouts.set_total(auth.lockouts_total)
        locked.set(auth.locked_for())

    reg.on_collect(collect)


def _notify_metrics(app: web.Application) -> None:
    """The SMS channel and the escalation ladder (docs/alerts.md)."""
    from gateway.api.alerts import NOTIFY

    if NOTIFY not in app:
        return
    engine = app[NOTIFY]
    reg = app[METRICS].registry
    queued = reg.gauge("hutgw_notify_queued_messages", "SMS waiting to be sent (never dropped).")
    open_alerts = reg.gauge(
        "hutgw_notify_open_alerts", "Urgent alerts not yet acknowledged, by state.", ("state",)
    )
    events = reg.counter(
        "hutgw_notify_events_total",
        "Notification events since start: alerts, sent, send_failures, acknowledged, unanswered, "
        "replies, replies_unmatched, rate_limited, repeats_merged.",
        ("event",),
    )
    modem_up = reg.gauge("hutgw_modem_ready", "1 when the modem has a SIM and a network (SMS can go).")
    modem_csq = reg.gauge("hutgw_modem_signal_csq", "The modem's signal quality (AT+CSQ, 0-31).")
    sms_enabled = reg.gauge("hutgw_notify_sms_enabled", "1 when [notify] modem is set.")

    def collect() -> None:
        st = engine.status()
        queued.set(st["queued_messages"])
        open_alerts.labels(state="notifying").set(st["open"])
        open_alerts.labels(state="unanswered").set(st["unanswered"])
        for k, v in engine.counters.items():
            events.labels(event=k).set_total(v)
        sms_enabled.set(1 if engine.channel is not None else 0)
        modem_up.set(1 if engine.channel is not None and engine.channel.ready else 0)
        ch = st["channel"] or {}
        if ch.get("signal_csq") is not None:
            modem_csq.set(ch["signal_csq"])

    reg.on_collect(collect)


async def get_metrics(request: web.Request) -> web.Response:
    text = await request.app[METRICS].scrape()
    # aiohttp refuses a charset inside content_type=; the header is set whole instead.
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app[METRICS] = GatewayMetrics(app)
    _doctor_metrics(app)
    _notify_metrics(app)
    app.router.add_get("/metrics", get_metrics)
