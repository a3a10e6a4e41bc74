"""``hutgw demo``: broker + county receiver + gateway on simulated devices, with a live view."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from provisioning.errors import EXIT_FAILURE, EXIT_OK
from provisioning.i18n import t


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("demo", parents=[common], help="run the whole path on simulated devices")
    p.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)"
    )
    p.add_argument("--quiet", action="store_true", help="no live view; print a summary at the end")
    p.set_defaults(func=run)


def _say(event: str, data: dict[str, Any]) -> None:
    """A progress line of the demo (stdout not a terminal) in the user's language."""
    if event == "started":
        print(t("demo.started", api=data["api_url"], broker=data["broker"]), flush=True)
    elif event == "sos":
        s = f"{data['elapsed_s']:4.0f}"
        print(
            t("demo.sos", s=s, name=data["name"], resident=data["resident"], watch=data["watch"]), flush=True
        )
    elif event in ("sms", "acknowledged"):
        key = "demo.acknowledged" if event == "acknowledged" else f"demo.sms_{data['direction']}"
        line = t(
            key,
            s=f"{data['elapsed_s']:4.0f}",
            number=data["number"],
            who=t(f"demo.who.{data['who']}"),
            text=data.get("text", ""),
        )
        print(line, flush=True)
    else:
        line = t(
            "demo.progress",
            s=f"{data['elapsed_s']:4.0f}",
            made=data["gateway_readings"],
            stored=data["county_readings"],
            garbage=data["decode_errors"],
        )
        print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    from devtools.demo import run_demo

    quiet = bool(args.quiet or args.json)
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        summary = asyncio.run(run_demo(args.state_dir, args.duration, quiet, say=_say))
    except KeyboardInterrupt:  # a second Ctrl-C
        print(t("demo.stopped"), file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            t(
                "demo.summary",
                made=summary["gateway_readings"],
                stored=summary["county_readings"],
                garbage=summary["decode_errors"],
                sms=summary["sms_sent"],
                acked=t("demo.yes" if summary["sos_acknowledged"] else "demo.no"),
            ),
            flush=True,
        )
    return EXIT_OK if summary["county_readings"] > 0 else EXIT_FAILURE
