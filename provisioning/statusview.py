"""What ``hutgw status`` shows (and ``hutgw diag bundle`` keeps, without personal data).

From the running daemon's local API (``/api/v1/health``) when it answers, otherwise from the
state files (``outbox.db`` for the buffer, ``registry.db`` for the devices); ``source`` says
which. Recent alerts always come from the outbox (a second connection is fine while the
daemon runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from buffer.outbox import Outbox
from gateway.clock import SystemClock
from gateway.config import ApiConfig
from gateway.registry import Registry, registry_path
from gateway.runtime import read_runtime
from gateway.settings import outbox_settings
from provisioning.context import Context
from provisioning.daemon_api import DaemonApi
from provisioning.errors import UnreachableError
from uplink.codec import Alert, wire_time

ALERT_SCAN = 5000


def safe_url(url: str | None) -> str | None:
    """A broker URL without user name or password."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _outbox_path(ctx: Context) -> Path:
    return ctx.state_dir / "outbox.db"


async def _from_outbox(
    ctx: Context, alerts: int, with_stats: bool
) -> tuple[dict[str, Any] | None, list[Any]]:
    path = _outbox_path(ctx)
    if not path.exists():
        return None, []
    settings = dataclasses.replace(
        outbox_settings(ctx.config.buffer), check_on_open=False, maintain_interval_s=None
    )
    async with Outbox(path, settings=settings) as outbox:
        stats = (await outbox.stats()).as_dict() if with_stats else None
        rows = await outbox.list(stream="alerts", limit=ALERT_SCAN) if alerts > 0 else []
    recent = []
    for row in rows[-alerts:] if alerts > 0 else []:
        try:
            a = Alert.from_wire(row.payload)
        except (ValueError, KeyError, TypeError):
            continue
        recent.append(
            {
                "id": a.id,
                "kind": a.kind,
                "severity": a.severity,
                "resident_id": a.resident_id,
                "raised_at": wire_time(a.raised_at),
                "message": a.message,
                "state": row.state.value,
            }
        )
    recent.reverse()  # newest first
    return stats, recent


def _devices(ctx: Context, live: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    path = registry_path(ctx.state_dir)
    registered = []
    if path.exists():
        with Registry(path) as reg:
            registered = reg.list_devices()
    by_id = {d.get("device"): d for d in live or []}
    rows = []
    for d in registered:
        seen = by_id.get(d.id) or (by_id.get(d.address) if d.address else None) or {}
        rows.append(
            {
                "id": d.id,
                "profile": d.profile,
                "address": d.address,
                "resident_id": d.resident_id,
                "state": seen.get("state"),
                "last_seen": seen.get("last_seen"),
                "battery_pct": seen.get("battery_pct"),
                "rssi": seen.get("rssi"),
            }
        )
    return rows


def collect(
    ctx: Context, *, alerts: int = 10, require_daemon: bool = False, api_listen: str | None = None
) -> dict[str, Any]:
    """The whole status as one JSON-ready dict.

    The daemon is asked at ``api_listen`` (``--api``), else where the running daemon says it
    listens (``<state>/runtime.json``: it may have been started with ``--api``), else at the
    config's ``api.listen``; the broker shown is the one it was started with."""
    runtime = read_runtime(ctx.state_dir)
    listen = api_listen or (runtime or {}).get("api")
    api_config = ctx.config.api
    if isinstance(listen, str) and listen:
        api_config = api_config.model_copy(
            update={"listen": ApiConfig.model_validate({"listen": listen}).listen}
        )
    api = DaemonApi(api_config)
    health = asyncio.run(api.running())
    if health is None and require_daemon:
        asyncio.run(api.health())  # raises the UnreachableError with the reason
        raise UnreachableError("the daemon does not answer")  # pragma: no cover - health() raised
    stats, recent = asyncio.run(_from_outbox(ctx, alerts, with_stats=health is None))
    cfg = ctx.config
    broker = cfg.uplink.broker
    enabled = broker is not None or cfg.uplink.transport == "http"
    if runtime is not None:
        broker = runtime.get("broker")
        enabled = bool(broker or runtime.get("fhir_endpoint"))
    uplink: dict[str, Any] = {"enabled": enabled, "broker": safe_url(broker)}
    if health is not None:
        live_uplink = dict(health.get("uplink") or {})
        live_uplink.pop("broker", None)
        uplink.update(live_uplink)
        buffer = health.get("buffer")
        clock_synced = health.get("clock_synced")
    else:
        buffer = stats
        clock_synced = SystemClock(sync_source=cfg.clock.sync_source).synced()
    return {
        "source": "daemon" if health is not None else "state_files",
        "api": api.url,
        "checked_at": datetime.now(UTC).isoformat(),
        "gateway": {
            "id": health.get("gateway_id") if health else cfg.gateway_id,
            "started_at": health.get("started_at") if health else None,
            "state_dir": str(ctx.state_dir),
        },
        "uplink": uplink,
        "buffer": buffer,
        "devices": _devices(ctx, health.get("devices") if health else None),
        "clock": {"synced": clock_synced, "sync_source": cfg.clock.sync_source},
        "decode_errors": health.get("decode_errors") if health else None,
        "quarantined_frames": health.get("quarantined_frames") if health else None,
        "alerts": recent,
        "notify": _notify(ctx, api if health is not None else None),
    }


def _notify(ctx: Context, api: DaemonApi | None) -> dict[str, Any]:
    """SMS on or off, the modem's state (from the running daemon), and the urgent alerts still
    open, unanswered first (from ``notify.db``)."""
    from gateway.notify.store import NotifyStore

    out: dict[str, Any] = {"sms": bool(ctx.config.notify.modem), "modem": None, "open": []}
    if api is not None:
        with contextlib.suppress(UnreachableError):
            out["modem"] = asyncio.run(api.get("/api/v1/notify")).get("channel")
    path = ctx.state_dir / "notify.db"
    if path.exists():
        store = NotifyStore(path, readonly=True)
        try:
            rows = store.alerts(states=("unanswered", "notifying"))
        finally:
            store.close()
        out["open"] = [
            {
                "id": a.id,
                "kind": a.kind,
                "resident_id": a.resident_id,
                "resident_name": a.resident_name,
                "state": a.state,
                "round": a.round,
                "raised_at": datetime.fromtimestamp(a.raised_at, UTC).isoformat(),
            }
            for a in sorted(rows, key=lambda a: (a.state != "unanswered", -a.raised_at))
        ]
    return out


def without_personal_data(status: dict[str, Any]) -> dict[str, Any]:
    """The status for a support bundle: no resident ids, no alert texts (they may hold values)."""
    out = dict(status)
    out["devices"] = [{k: v for k, v in d.items() if k != "resident_id"} for d in status.get("devices", [])]
    out["alerts"] = [
        {k: a.get(k) for k in ("kind", "severity", "raised_at", "state")} for a in status.get("alerts", [])
    ]
    return out
