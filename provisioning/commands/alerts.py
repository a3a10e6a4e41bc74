"""``hutgw alerts``: urgent alerts and who has been told (``list``), and acknowledging one (``ack``).

Both work on ``<state>/notify.db`` directly, whether the daemon runs or not: an acknowledgement
written here stops the running daemon's rounds within a second, and the others who were told
get their "已由 X 确认" from the daemon's modem (docs/alerts.md).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from provisioning.context import Context, load_context
from provisioning.errors import EXIT_OK, ConflictError, NotFoundError
from provisioning.i18n import t
from provisioning.output import Output

if TYPE_CHECKING:  # the engine is imported when a command runs, not for `hutgw --help`
    from gateway.notify.engine import Escalation

STATES = ("notifying", "acknowledged", "unanswered", "digest", "digested")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("alerts", parents=[common], help=t("alerts.help"))
    cmds = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    cmds.required = True
    ls = cmds.add_parser("list", parents=[common], help=t("alerts.list.help"))
    ls.add_argument("--all", action="store_true", help=t("alerts.list.all"))
    ls.add_argument("--state", choices=STATES, help=t("alerts.list.state"))
    ls.set_defaults(func=run_list)
    ack = cmds.add_parser("ack", parents=[common], help=t("alerts.ack.help"))
    ack.add_argument("alert_id", metavar="ID")
    ack.add_argument("--by", default="technician", help=t("alerts.ack.by"))
    ack.set_defaults(func=run_ack)


def open_engine(ctx: Context, *, readonly: bool) -> Escalation | None:
    """The daemon's engine state without its tasks (None: nothing was ever stored)."""
    from gateway.clock import SystemClock
    from gateway.notify.engine import Escalation
    from gateway.notify.store import NotifyStore

    path = ctx.state_dir / "notify.db"
    if readonly and not path.exists():
        return None
    store = NotifyStore(path, readonly=readonly)
    cfg = ctx.config.notify
    return Escalation(
        store,
        cfg,
        clock=SystemClock(sync_source="trust"),
        resident=lambda _rid: None,
        texting=bool(cfg.modem),
    )


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%m-%d %H:%M:%S")


def _told(view: dict[str, Any]) -> str:
    sent = [r for r in view["recipients"] if r["status"] in ("sent", "acknowledged")]
    return f"{len(sent)}/{len(view['recipients'])}"


def run_list(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    engine = open_engine(ctx, readonly=True)
    views: list[dict[str, Any]] = []
    if engine is not None:
        try:
            views = engine.views(open_only=not args.all and args.state is None)
        finally:
            engine.store.close()
    if args.state:
        views = [v for v in views if v["state"] == args.state]
    o = Output.of(args)

    def human(o: Output) -> None:
        if not views:
            o.line(t("alerts.none"))
            return
        o.table(
            [
                t("alerts.col.id"),
                t("alerts.col.kind"),
                t("alerts.col.resident"),
                t("alerts.col.raised"),
                t("alerts.col.state"),
                t("alerts.col.round"),
                t("alerts.col.told"),
                t("alerts.col.by"),
            ],
            [
                (
                    v["id"],
                    v["kind"],
                    v["resident_name"] or v["resident_id"] or "-",
                    _when(v["raised_at"]),
                    t(f"alerts.state.{v['state']}"),
                    v["round"],
                    _told(v),
                    (v["acknowledged_label"] or v["acknowledged_by"] or "-"),
                )
                for v in views
            ],
        )

    o.result(views, human)
    return EXIT_OK


def run_ack(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    if not (ctx.state_dir / "notify.db").exists():
        raise NotFoundError(t("alerts.unknown", id=args.alert_id), hint=t("alerts.unknown_hint"))
    engine = open_engine(ctx, readonly=False)
    assert engine is not None
    try:
        res = engine.acknowledge(args.alert_id, by=args.by, via="cli")
        if res.outcome == "unknown" or res.alert is None:
            raise NotFoundError(t("alerts.unknown", id=args.alert_id), hint=t("alerts.unknown_hint"))
        view = engine.view(res.alert)
    finally:
        engine.store.close()
    if res.outcome == "already":
        raise ConflictError(
            t(
                "alerts.already",
                id=view["id"],
                state=t(f"alerts.state.{view['state']}"),
                by=view["acknowledged_label"] or view["acknowledged_by"] or "-",
            )
        )
    o = Output.of(args)
    o.result(view, lambda o: o.line(t("alerts.acked", id=view["id"])))
    return EXIT_OK
