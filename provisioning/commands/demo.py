"""``hutgw demo``: broker + county receiver + gateway on simulated devices, with a live view."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from provisioning.errors import EXIT_FAILURE, EXIT_OK


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("demo", parents=[common], help="run the whole path on simulated devices")
    p.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)"
    )
    p.add_argument("--quiet", action="store_true", help="no live view; print a summary at the end")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    logging.basicConfig(
        level=logging.WARNING if not args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        summary = asyncio.run(run_demo(args.state_dir, args.duration, args.quiet or args.json))
    except KeyboardInterrupt:
        print("demo stopped")
        return EXIT_OK
    print(
        json.dumps(summary)
        if args.json
        else f"readings made: {summary['gateway_readings']}, "
        f"stored by the county: {summary['county_readings']}, "
        f"garbage lines rejected: {summary['decode_errors']}"
    )
    return EXIT_OK if summary["county_readings"] > 0 else EXIT_FAILURE
