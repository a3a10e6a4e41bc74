"""``hutgw county``: the county service (receiver instances on PostgreSQL or SQLite) and its fleet view.

* ``hutgw county serve --broker URL --db URL [--group NAME] [--key county.key] [--listen HOST:PORT]``
  runs one receiver instance (until SIGTERM). ``--db postgresql://...`` stores in PostgreSQL (run
  several instances with the same ``--group``: they share the load through the broker's shared
  subscription); ``--db FILE`` in one SQLite file, as ``hutgw receiver`` does. With ``--listen`` it
  serves ``GET /api/v1/fleet``, ``/metrics`` and ``/health``.
* ``hutgw county status --db URL`` prints every hut: last heartbeat, outbox depth and oldest
  pending age, clock synchronised, silent devices, unanswered alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from provisioning.commands.receiver import _broker_options, _options, _setup_logging, signing_key
from provisioning.errors import EXIT_OK, BadInputError, UnreachableError

log = logging.getLogger("hutgw.county")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "county",
        parents=[common],
        help="county service: receivers on PostgreSQL, shared subscriptions, fleet",
    )
    actions = p.add_subparsers(dest="county_action", metavar="ACTION")
    actions.required = True

    serve = actions.add_parser("serve", parents=[common], help="run one receiver instance")
    _broker_options(serve, suppress=False)
    serve.add_argument("--db", required=True, help="postgresql://USER@HOST/DB, or a SQLite FILE")
    serve.add_argument(
        "--group",
        default=None,
        help="shared-subscription group: instances with the same group share the load",
    )
    serve.add_argument("--key", type=Path, default=None, help="county Ed25519 private key: signs every ack")
    serve.add_argument("--listen", default=None, help="HOST:PORT for /api/v1/fleet, /metrics and /health")
    serve.add_argument(
        "--instance", default=None, help="this instance's name in the counters (default host-pid)"
    )
    serve.set_defaults(func=run_serve, client_id="hutgw-county")

    status = actions.add_parser("status", parents=[common], help="every hut at a glance (the fleet view)")
    status.add_argument("--db", required=True, help="postgresql://USER@HOST/DB, or a SQLite FILE")
    status.add_argument("--heartbeat", type=float, default=60.0, help="the gateways' heartbeat_s")
    status.set_defaults(func=run_status)


@contextlib.asynccontextmanager
async def open_store(db: str, *, instance: str | None = None, wait: bool = False) -> AsyncIterator[Any]:
    """The store for ``--db``: PostgreSQL for a ``postgresql://`` URL, else a SQLite file. With
    ``wait`` a database that does not answer yet is waited for (a service starting before it)."""
    from county.errors import CountyError, StoreUnavailable

    try:
        if db.startswith(("postgresql://", "postgres://")):
            from county.postgres import PostgresStore

            delay = 0.5
            while True:
                pg = PostgresStore(db, instance=instance)
                try:
                    await pg.__aenter__()
                except StoreUnavailable as e:
                    if not wait:
                        raise
                    log.warning("county: %s; trying again in %.0f s", e.message, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                break
            try:
                yield pg
            finally:
                await pg.__aexit__(None, None, None)
        else:
            from county.sqlite import SqliteStore

            async with SqliteStore(Path(db.removeprefix("sqlite://"))) as lite:
                yield lite
    except StoreUnavailable as e:
        raise UnreachableError(e.message, hint=e.hint) from None
    except CountyError as e:
        raise BadInputError(e.message, hint=e.hint) from None


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise BadInputError(f"--listen {text!r} is not HOST:PORT", hint="e.g. --listen 127.0.0.1:8090")
    return host or "127.0.0.1", int(port)


def run_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from county.receiver import Receiver, tune_gc
    from county.service import make_app

    options = _options(args)
    key = signing_key(args.key)
    listen = _listen(args.listen) if args.listen else None
    _setup_logging(args)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        async with open_store(args.db, instance=args.instance, wait=True) as store:
            receiver = Receiver(store, options, prefix=args.prefix, signing_key=key, group=args.group)
            tune_gc()
            runner: web.AppRunner | None = None
            if listen is not None:
                runner = web.AppRunner(make_app(receiver.stats, store.fleet_rows), access_log=None)
                await runner.setup()
                await web.TCPSite(runner, listen[0], listen[1]).start()
            log.info(
                "county: instance storing into %s, broker %s, group %s%s",
                "PostgreSQL" if args.db.startswith("postgres") else args.db,
                options.url,
                args.group or "(none)",
                f", http://{listen[0]}:{listen[1]}" if listen else "",
            )
            if key is None:
                log.warning("county: acks are unsigned (no --key): gateways with a county key ignore them")
            try:
                await receiver.run()
            finally:
                if runner is not None:
                    await runner.cleanup()

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(main())
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    from county.fleet import fleet

    async def main() -> list[dict[str, Any]]:
        async with open_store(args.db) as store:
            rows = await store.fleet_rows()
        return [e.as_json() for e in fleet(rows, time.time(), heartbeat_s=args.heartbeat)]

    entries = asyncio.run(main())
    if args.json:
        print(json.dumps({"gateways": entries}, ensure_ascii=False))
        return EXIT_OK
    if not entries:
        print("no gateway has reported yet")
        return EXIT_OK
    print(
        f"{'gateway':<16} {'state':<8} {'heartbeat':>10} {'pending':>8} {'oldest':>8} {'clock':<6}"
        f" {'alerts':>6}  silent devices"
    )
    for e in entries:
        oldest = "-" if e["oldest_pending_age_s"] is None else f"{e['oldest_pending_age_s']:.0f}s"
        pending = "-" if e["outbox_pending"] is None else str(e["outbox_pending"])
        clock = {True: "ok", False: "NOT", None: "-"}[e["clock_synced"]]
        silent = ", ".join(e["devices_silent"] or []) or "-"
        print(
            f"{e['gateway_id']:<16} {e['state']:<8} {e['heartbeat_age_s']:>9.0f}s {pending:>8} {oldest:>8}"
            f" {clock:<6} {e['unanswered_alerts']:>6}  {silent}"
        )
    return EXIT_OK
