"""The fleet view: every hut at a glance, from the last status each gateway published (pure).

A gateway's heartbeat (``hut.status/1``) carries its uplink counters, its outbox (depth per lane
and state, oldest pending age) and what the gateway adds (clock synchronised, devices). A store
returns one :class:`GatewayRow` per gateway; :func:`fleet` turns them into :class:`FleetEntry`
items for ``GET /api/v1/fleet`` and ``hutgw county status``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

HEARTBEAT_MISSED = 3
"""A gateway is *down* when no status arrived for this many heartbeat periods (docs/uplink.md)."""
DEFAULT_HEARTBEAT_S = 60.0


@dataclass(frozen=True, slots=True)
class GatewayRow:
    """What a store keeps of one gateway: its last status message and when it came."""

    gateway_id: str
    state: str | None
    status: bytes
    updated_at: float
    unanswered_alerts: int = 0


@dataclass(frozen=True, slots=True)
class FleetEntry:
    gateway_id: str
    state: str  # online, offline (its last will or a goodbye), silent (no heartbeat for 3 periods)
    last_heartbeat_at: float
    heartbeat_age_s: float
    outbox_pending: int | None
    oldest_pending_age_s: float | None
    clock_synced: bool | None
    devices_silent: list[str] | None
    unanswered_alerts: int
    inflight_batches: int | None
    acked: int | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pending(outbox: Mapping[str, Any], gateway: Mapping[str, Any]) -> int | None:
    depth = outbox.get("depth")
    if isinstance(depth, Mapping):
        return sum(
            int(n)
            for lane in depth.values()
            if isinstance(lane, Mapping)
            for state, n in lane.items()
            if state in ("pending", "inflight") and isinstance(n, int | float)
        )
    pending = gateway.get("pending")
    if isinstance(pending, Mapping):
        return sum(int(n) for n in pending.values() if isinstance(n, int | float))
    return None


def _silent(gateway: Mapping[str, Any]) -> list[str] | None:
    devices = gateway.get("devices")
    if isinstance(devices, Mapping):
        return sorted(
            str(k) for k, v in devices.items() if isinstance(v, Mapping) and v.get("silent") is True
        )
    silent = gateway.get("devices_silent")
    if isinstance(silent, list):
        return [str(d) for d in silent]
    return None


def entry(row: GatewayRow, now: float, *, heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> FleetEntry:
    try:
        status = _mapping(orjson.loads(row.status)) if row.status else {}
    except orjson.JSONDecodeError:
        status = {}
    counters = _mapping(status.get("counters"))
    outbox, gateway = _mapping(counters.get("outbox")), _mapping(counters.get("gateway"))
    age = max(0.0, now - row.updated_at)
    state = row.state or "unknown"
    if state == "online" and age > HEARTBEAT_MISSED * heartbeat_s:
        state = "silent"
    oldest = outbox.get("oldest_pending_age_s", gateway.get("oldest_pending_age_s"))
    synced = gateway.get("clock_synced")
    inflight, acked = counters.get("inflight_batches"), counters.get("acked")
    return FleetEntry(
        gateway_id=row.gateway_id,
        state=state,
        last_heartbeat_at=row.updated_at,
        heartbeat_age_s=round(age, 1),
        outbox_pending=_pending(outbox, gateway),
        oldest_pending_age_s=float(oldest) if isinstance(oldest, int | float) else None,
        clock_synced=synced if isinstance(synced, bool) else None,
        devices_silent=_silent(gateway),
        unanswered_alerts=row.unanswered_alerts,
        inflight_batches=inflight if isinstance(inflight, int) else None,
        acked=acked if isinstance(acked, int) else None,
    )


def fleet(
    rows: Iterable[GatewayRow], now: float, *, heartbeat_s: float = DEFAULT_HEARTBEAT_S
) -> list[FleetEntry]:
    return [entry(r, now, heartbeat_s=heartbeat_s) for r in sorted(rows, key=lambda r: r.gateway_id)]
