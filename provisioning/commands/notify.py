"""``hutgw notify``: the SMS channel. ``test PHONE`` sends one test message and prints the modem's
state (SIM, operator, registration, signal); ``status`` prints the state only.

With the daemon running, the test message is queued in ``notify.db`` and sent by the daemon's
modem (the port is the daemon's); otherwise this command opens the modem itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

from gateway.runtime import read_runtime
from provisioning.commands.alerts import open_engine
from provisioning.context import Context, load_context
from provisioning.errors import EXIT_OK, BadInputError, FailureError, UnreachableError
from provisioning.i18n import t
from provisioning.output import Output


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("notify", parents=[common], help=t("notify.help"))
    cmds = p.add_subparsers(dest="notify_command", metavar="ACTION")
    cmds.required = True
    test = cmds.add_parser("test", parents=[common], help=t("notify.test.help"))
    test.add_argument("phone", metavar="PHONE")
    test.add_argument("--port", help=t("notify.port"))
    test.add_argument("--timeout", type=float, default=90.0, metavar="S", help=t("notify.timeout"))
    test.set_defaults(func=run_test)
    st = cmds.add_parser("status", parents=[common], help=t("notify.status.help"))
    st.add_argument("--port", help=t("notify.port"))
    st.set_defaults(func=run_status)


def _phone(text: str) -> str:
    s = text.replace(" ", "").replace("-", "")
    if not (s.lstrip("+").isdigit() and 3 <= len(s.lstrip("+")) <= 20):
        raise BadInputError(t("notify.bad_phone", phone=text))
    return s


def _daemon_notify(ctx: Context) -> dict[str, Any] | None:
    """``GET /api/v1/notify`` of the running daemon, or None when no daemon runs here."""
    runtime = read_runtime(ctx.state_dir)
    if runtime is None:
        return None
    url = str(runtime.get("api_url") or "")
    if url.startswith("http://0.0.0.0"):
        url = url.replace("0.0.0.0", "127.0.0.1", 1)
    headers = {"Authorization": f"Bearer {ctx.config.api.token}"} if ctx.config.api.token else {}
    req = urllib.request.Request(url + "/api/v1/notify", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UnreachableError(
            t("api.unreachable", url=url, reason=e), hint=t("api.unreachable_hint")
        ) from None


def _print_state(o: Output, channel: dict[str, Any] | None) -> None:
    if channel is None:
        o.line(t("notify.off"))
        return
    o.pairs(
        t("notify.modem"),
        [
            (t("notify.key.port"), channel.get("port")),
            (t("notify.key.connected"), t("word.yes") if channel.get("connected") else t("word.no")),
            (t("notify.key.sim"), channel.get("sim")),
            (t("notify.key.operator"), channel.get("operator") or "-"),
            (t("notify.key.registration"), channel.get("registration")),
            (t("notify.key.signal"), _signal(channel)),
            (t("notify.key.last_error"), channel.get("last_error") or "-"),
        ],
    )


def _signal(c: dict[str, Any]) -> str:
    csq, dbm = c.get("signal_csq"), c.get("signal_dbm")
    if csq is None:
        return "-"
    return f"CSQ {csq}" + (f" ({dbm} dBm)" if dbm is not None else "")


async def _own_modem(port: str, phone: str | None, text: str, timeout_s: float) -> dict[str, Any]:
    """Open the modem here (no daemon holds it), wait until it is up, send, return its state."""
    from drivers.modem.errors import ModemError
    from drivers.modem.modem import IncomingSms, Modem
    from gateway.notify.channel import modem_status

    async def drop(_sms: IncomingSms) -> None:  # replies stay for the daemon: never deleted here
        raise ModemError("replies are left in the modem's storage for the daemon")

    modem = Modem(port, on_sms=drop, status_interval_s=2.0)
    stop = asyncio.Event()
    task = asyncio.create_task(modem.run(stop), name="notify-test-modem")
    deadline = time.monotonic() + min(timeout_s, 30.0)
    try:
        while time.monotonic() < deadline:
            s = modem.state
            if s.connected and s.sim != "unknown" and s.registration != "unknown":
                break
            await asyncio.sleep(0.2)
        result: dict[str, Any] = {"channel": modem_status(modem), "sent": False}
        if phone is not None:
            try:
                refs = await modem.send(phone, text, timeout_s=timeout_s)
            except ModemError as e:
                result["error"] = str(e)
            else:
                result.update(sent=True, references=refs)
            result["channel"] = modem_status(modem)
        return result
    finally:
        stop.set()
        await asyncio.wait_for(task, 10.0)


def run_test(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    phone = _phone(args.phone)
    o = Output.of(args)
    running = _daemon_notify(ctx)
    result: dict[str, Any]
    if running is not None:
        if running.get("channel") is None:
            raise FailureError(t("notify.off"), hint=t("notify.off_hint"))
        engine = open_engine(ctx, readonly=False)
        assert engine is not None
        try:
            seq = engine.queue_test(phone)
            deadline = time.monotonic() + args.timeout
            m = engine.store.message(seq)
            while m is not None and m.status in ("queued", "sending") and time.monotonic() < deadline:
                time.sleep(0.25)
                m = engine.store.message(seq)
        finally:
            engine.store.close()
        channel = (_daemon_notify(ctx) or {}).get("channel")
        result = {
            "via": "daemon",
            "sent": m is not None and m.status == "sent",
            "channel": channel,
            "error": None if m is None else m.error,
        }
    else:
        port = args.port or ctx.config.notify.modem
        if not port:
            raise FailureError(t("notify.off"), hint=t("notify.off_hint"))
        from gateway.notify import messages as msg

        text = msg.render(ctx.config.notify.templates["test"], time=time.strftime("%m月%d日%H:%M"))
        result = {"via": "modem", **asyncio.run(_own_modem(port, phone, text, args.timeout))}

    def human(o: Output) -> None:
        _print_state(o, result.get("channel"))
        o.line()
        o.line(
            t("notify.sent", phone=phone)
            if result["sent"]
            else t("notify.not_sent", error=result.get("error"))
        )

    o.result(result, human)
    if not result["sent"]:
        return FailureError.exit_code
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    o = Output.of(args)
    running = _daemon_notify(ctx)
    if running is not None:
        result = {"via": "daemon", **running}
    else:
        port = args.port or ctx.config.notify.modem
        result = {"via": "modem", "channel": None}
        if port:
            result.update(asyncio.run(_own_modem(port, None, "", 20.0)))
    o.result(result, lambda o: _print_state(o, result.get("channel")))
    return EXIT_OK
