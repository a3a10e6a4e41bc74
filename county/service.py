"""The county service's HTTP side: ``GET /api/v1/fleet`` (every hut at a glance), ``GET /metrics``
(Prometheus: batches, rows, duplicates, lag, errors of this instance) and ``GET /health``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from county.fleet import GatewayRow, fleet
from county.receiver import ReceiverStats
from gateway.metrics import CONTENT_TYPE, MetricsRegistry, ProcessMetrics

FleetSource = Callable[[], Awaitable[list[GatewayRow]]]


class CountyMetrics:
    """The instance's Prometheus metrics, refreshed from its :class:`ReceiverStats` at each scrape."""

    def __init__(self, stats: ReceiverStats, *, clock: Callable[[], float] = time.time) -> None:
        self.registry = reg = MetricsRegistry()
        self._stats = stats
        self._clock = clock
        self.envelopes = reg.counter("hutgw_county_batches_total", "Envelopes (batches) stored and acked.")
        self.rows = reg.counter("hutgw_county_rows_total", "Rows stored, by outcome.", ("outcome",))
        self.duplicates = reg.counter(
            "hutgw_county_duplicates_total", "Items already stored (a re-sent batch), acked again."
        )
        self.rejected = reg.counter("hutgw_county_rejected_total", "Items rejected with a reason in the ack.")
        self.invalid = reg.counter("hutgw_county_invalid_total", "Messages too broken to ack.")
        self.errors = reg.counter("hutgw_county_errors_total", "Errors by kind (store, ack).", ("kind",))
        self.lag = reg.gauge(
            "hutgw_county_lag_seconds", "From the last stored envelope's sent_at to its commit."
        )
        self.last_commit = reg.gauge(
            "hutgw_county_last_commit_timestamp_seconds", "Unix time of the last stored envelope."
        )
        self.connected = reg.gauge("hutgw_county_broker_connected", "1 while subscribed at the broker.")
        ProcessMetrics(reg)
        reg.on_collect(self.collect)

    def collect(self) -> None:
        st = self._stats
        self.envelopes.set_total(st.envelopes)
        self.rows.labels("new").set_total(st.rows_new)
        self.rows.labels("revised").set_total(st.rows_revised)
        self.duplicates.set_total(st.duplicates)
        self.rejected.set_total(st.rejected)
        self.invalid.set_total(st.invalid)
        self.errors.labels("store").set_total(st.store_errors)
        self.errors.labels("ack").set_total(st.ack_errors)
        if st.lag_s is not None:
            self.lag.set(st.lag_s)
        if st.last_commit_at is not None:
            self.last_commit.set(st.last_commit_at)
        self.connected.set(1 if st.connected else 0)


def make_app(
    stats: ReceiverStats,
    fleet_source: FleetSource,
    *,
    clock: Callable[[], float] = time.time,
    heartbeat_s: float = 60.0,
) -> web.Application:
    metrics = CountyMetrics(stats, clock=clock)

    async def get_fleet(request: web.Request) -> web.Response:
        entries = fleet(await fleet_source(), clock(), heartbeat_s=heartbeat_s)
        body: dict[str, Any] = {"at": clock(), "gateways": [e.as_json() for e in entries]}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def get_metrics(request: web.Request) -> web.Response:
        return web.Response(body=metrics.registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    async def get_health(request: web.Request) -> web.Response:
        ok = stats.connected
        return web.json_response({"connected": ok}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/api/v1/fleet", get_fleet)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/health", get_health)
    return app
