"""``hutgw run``: the daemon."""

from __future__ import annotations

import argparse
import asyncio

from provisioning.context import load_context


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("run", parents=[common], help="run the gateway daemon")
    p.add_argument("--gateway-id", help="this hut's gateway id (overrides the file)")
    p.add_argument("--broker", help="mqtt://HOST:PORT or mqtts://HOST:PORT (overrides the file)")
    p.add_argument("--api", metavar="HOST:PORT", help="local API address (overrides the file)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = load_context(
        args,
        gateway_id=args.gateway_id,
        **{"uplink.broker": args.broker, "api.listen": args.api},
    )
    from gateway.config import check
    from gateway.daemon import serve
    from gateway.logsetup import setup_logging

    check(ctx.config, source=str(args.config or "config"))  # exactly what `hutgw config validate` checks
    setup_logging(ctx.config.logging.level if not args.verbose else "DEBUG")
    return asyncio.run(serve(ctx.config))
