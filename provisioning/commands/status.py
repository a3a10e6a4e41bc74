"""``hutgw status``: gateway, uplink, buffer, devices, clock and recent alerts at a glance."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from provisioning.context import load_context
from provisioning.errors import EXIT_OK
from provisioning.i18n import t
from provisioning.output import Output


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "status", parents=[common], help="gateway, uplink, buffer, devices, clock and recent alerts"
    )
    p.add_argument(
        "--live", action="store_true", help="only from the running daemon: exit 6 when it does not answer"
    )
    p.add_argument("--alerts", type=int, default=10, metavar="N", help="show the last N alerts (default 10)")
    p.add_argument(
        "--api",
        metavar="HOST:PORT",
        help="the daemon's local API, HOST:PORT "
        "(default: where the running daemon listens, else [api] listen)",
    )
    p.set_defaults(func=run)


def age(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def since(iso: str | None, now: datetime) -> str | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return t("status.ago", age=age((now - then).total_seconds()))


def _mb(n: Any) -> str:
    return f"{n / 1_048_576:.1f} MB" if isinstance(n, int | float) else "-"


def render(o: Output, s: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    if s["source"] == "daemon":
        o.line(t("status.from_daemon", url=s["api"]))
    else:
        o.line(t("status.from_files", url=s["api"], state_dir=s["gateway"]["state_dir"]))
    o.line()
    g = s["gateway"]
    o.pairs(
        t("status.gateway"),
        [
            (t("status.key.id"), g["id"]),
            (t("status.key.started"), since(g["started_at"], now) or t("status.not_running")),
            (t("status.key.state_dir"), g["state_dir"]),
        ],
    )
    o.line()
    u = s["uplink"]
    if not u.get("enabled"):
        o.pairs(t("status.uplink"), [(t("status.key.broker"), t("status.uplink_off"))])
    else:
        rows: list[tuple[str, Any]] = [(t("status.key.broker"), u.get("broker"))]
        if s["source"] == "daemon":
            rows.append((t("status.key.connected"), bool(u.get("connected"))))
            if u.get("last_error"):
                rows.append((t("status.key.last_error"), u.get("last_error")))
        else:
            rows.append((t("status.key.connected"), t("status.not_running")))
        o.pairs(t("status.uplink"), rows)
    o.line()
    b = s["buffer"]
    if b is None:
        o.pairs(t("status.buffer"), [(t("status.key.pending"), t("status.no_outbox"))])
    else:
        o.pairs(
            t("status.buffer"),
            [
                (t("status.key.pending"), int(b.get("pending", 0)) + int(b.get("inflight", 0))),
                (t("status.key.oldest"), age(b.get("oldest_pending_age_s"))),
                (t("status.key.disk"), f"{_mb(b.get('bytes_on_disk'))} / {_mb(b.get('quota_bytes'))}"),
            ],
        )
    o.line()
    clock_rows: list[tuple[str, Any]] = [(t("status.key.synced"), s["clock"]["synced"])]
    if s.get("decode_errors"):
        clock_rows.append((t("status.key.decode_errors"), sum(s["decode_errors"].values())))
    o.pairs(t("status.clock"), clock_rows)
    o.line()
    render_notify(o, s.get("notify") or {}, now)
    o.line()
    if s["devices"]:
        o.table(
            [
                t("devices.col.id"),
                t("devices.col.profile"),
                t("devices.col.address"),
                t("devices.col.owner"),
                t("devices.col.state"),
                t("devices.col.last_seen"),
                t("devices.col.battery"),
                t("devices.col.rssi"),
            ],
            [
                (
                    d["id"],
                    d["profile"],
                    d["address"],
                    d["resident_id"] or t("word.shared"),
                    d["state"],
                    since(d["last_seen"], now),
                    f"{d['battery_pct']}%" if d["battery_pct"] is not None else None,
                    d["rssi"],
                )
                for d in s["devices"]
            ],
            title=t("devices.title"),
        )
    else:
        o.line(t("devices.none"))
    o.line()
    if s["alerts"]:
        o.table(
            [
                t("status.col.time"),
                t("status.col.kind"),
                t("status.col.severity"),
                t("status.col.resident"),
                t("status.col.message"),
            ],
            [(a["raised_at"], a["kind"], a["severity"], a["resident_id"], a["message"]) for a in s["alerts"]],
            title=t("status.alerts"),
        )
    else:
        o.line(t("status.no_alerts"))


def render_notify(o: Output, n: dict[str, Any], now: datetime) -> None:
    """SMS and the urgent alerts nobody has acknowledged yet (docs/alerts.md)."""
    modem = n.get("modem")
    if not n.get("sms"):
        rows: list[tuple[str, Any]] = [(t("notify.modem"), t("notify.off"))]
    elif modem is None:
        rows = [(t("notify.modem"), t("status.not_running"))]
    else:
        signal = f"CSQ {modem.get('signal_csq')}" if modem.get("signal_csq") is not None else "-"
        rows = [
            (t("notify.key.sim"), modem.get("sim")),
            (t("notify.key.operator"), modem.get("operator") or "-"),
            (t("notify.key.registration"), modem.get("registration")),
            (t("notify.key.signal"), signal),
        ]
        if modem.get("last_error"):
            rows.append((t("notify.key.last_error"), modem.get("last_error")))
    for a in n.get("open", []):
        who = a["resident_name"] or a["resident_id"] or ""
        rows.append(
            (t(f"alerts.state.{a['state']}"), f"{a['kind']} {who} {since(a['raised_at'], now)} ({a['id']})")
        )
    o.pairs(t("status.notify"), rows)


def run(args: argparse.Namespace) -> int:
    from provisioning import statusview  # the outbox and HTTP client only when asked

    out = Output.of(args)
    ctx = load_context(args)
    status = statusview.collect(
        ctx, alerts=max(0, args.alerts), require_daemon=args.live, api_listen=args.api
    )
    out.result(status, lambda o: render(o, status))
    return EXIT_OK
