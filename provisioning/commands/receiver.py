"""``hutgw receiver``: the reference county receiver, offline-export import, signed commands.

* ``hutgw receiver --broker URL --db FILE [--prefix hut/v1] [--key county.key]`` runs the receiver
  (until SIGTERM); with ``--key`` every ack is signed with the county key (gateways with
  ``[uplink] command_public_key`` act only on signed acks).
* ``hutgw receiver import FILE.jsonl.gz --db FILE [--receipt OUT]`` loads a ``hutgw buffer export``
  file idempotently and writes a receipt (the accepted ids) for ``hutgw buffer mark-delivered``.
* ``hutgw receiver command GATEWAY_ID ping|status|residents|geofences --key county.key --broker URL``
  publishes a signed command and prints the gateway's result.
* ``hutgw receiver keygen --out county.key`` makes the county signing key and prints the public
  key for the gateways' ``[uplink] command_public_key``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from county.errors import CountyError
from county.receiver import BrokerOptions, ImportResult, Receiver, import_export, tune_gc
from county.sqlite import SqliteStore
from provisioning.errors import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_UNREACHABLE,
    BadInputError,
    NotFoundError,
    ProvisioningError,
    UnreachableError,
)
from uplink import topics
from uplink.codec import CommandResult
from uplink.commands import COMMAND_NAMES, load_private_key, make_command, private_key_pem, public_key_b64
from uplink.contract import Receipt
from uplink.errors import UplinkError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("hutgw.receiver")


def _broker_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    d: Any = argparse.SUPPRESS if suppress else None
    p.add_argument("--broker", default=d, help="mqtt://HOST:PORT or mqtts://HOST:PORT")
    prefix = argparse.SUPPRESS if suppress else topics.DEFAULT_PREFIX
    p.add_argument("--prefix", default=prefix, help="topic prefix")
    p.add_argument("--username", default=d)
    p.add_argument("--password", default=d)
    p.add_argument("--ca-file", type=Path, default=d, help="CA to trust for mqtts://")
    p.add_argument("--cert-file", type=Path, default=d, help="client certificate for mqtts://")
    p.add_argument("--key-file", type=Path, default=d, help="client key for mqtts://")
    p.add_argument("--protocol", choices=["3.1.1", "5"], default=argparse.SUPPRESS if suppress else "3.1.1")
    p.add_argument("--client-id", default=argparse.SUPPRESS if suppress else "hutgw-receiver")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "receiver",
        parents=[common],
        help="reference county receiver: store uplinks, ack, import exports, send signed commands",
    )
    _broker_options(p, suppress=False)
    p.add_argument("--db", type=Path, default=None, help="receiver SQLite database")
    p.add_argument(
        "--key", type=Path, default=None, help="county Ed25519 private key (`keygen`): signs every ack"
    )
    p.set_defaults(func=run_receiver)
    actions = p.add_subparsers(dest="receiver_action", metavar="ACTION")

    imp = actions.add_parser("import", parents=[common], help="load an offline export (FILE.jsonl.gz)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--db", type=Path, default=argparse.SUPPRESS)
    imp.add_argument("--receipt", type=Path, default=None, help="receipt file (default FILE.receipt.json)")
    imp.set_defaults(func=run_import)

    cmd = actions.add_parser("command", parents=[common], help="publish a signed command to a gateway")
    cmd.add_argument("gateway_id")
    cmd.add_argument("name", choices=COMMAND_NAMES)
    cmd.add_argument("--key", type=Path, required=True, help="county Ed25519 private key (PEM)")
    cmd.add_argument("--args", default="{}", help="command arguments as JSON, or @FILE")
    cmd.add_argument("--ttl", type=float, default=300.0, help="seconds until the command expires")
    cmd.add_argument(
        "--wait", type=float, default=15.0, help="seconds to wait for the result (0 = do not wait)"
    )
    _broker_options(cmd, suppress=True)
    cmd.set_defaults(func=run_command)

    kg = actions.add_parser("keygen", parents=[common], help="make the county command-signing key")
    kg.add_argument("--out", type=Path, required=True)
    kg.set_defaults(func=run_keygen)


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose > 1 else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("hutgw.receiver.mqtt").setLevel(logging.WARNING)


def _options(args: argparse.Namespace) -> BrokerOptions:
    if not getattr(args, "broker", None):
        raise BadInputError("--broker is required", hint="e.g. --broker mqtt://127.0.0.1:1883")
    return BrokerOptions(
        url=args.broker,
        username=getattr(args, "username", None),
        password=getattr(args, "password", None),
        ca_file=getattr(args, "ca_file", None),
        cert_file=getattr(args, "cert_file", None),
        key_file=getattr(args, "key_file", None),
        client_id=getattr(args, "client_id", "hutgw-receiver"),
        protocol=getattr(args, "protocol", "3.1.1"),
    )


def _db(args: argparse.Namespace) -> Path:
    db: Path | None = getattr(args, "db", None)
    if db is None:
        raise BadInputError(
            "--db FILE is required", hint="the receiver's SQLite database, e.g. --db county.db"
        )
    return db


def signing_key(path: Path | None) -> Ed25519PrivateKey | None:
    """The county key that signs acks (``--key``), or ``None``."""
    if path is None:
        return None
    try:
        return load_private_key(path)
    except UplinkError as e:
        raise BadInputError(e.message, hint="make one with `hutgw receiver keygen --out FILE`") from None


def run_receiver(args: argparse.Namespace) -> int:
    if getattr(args, "receiver_action", None):  # pragma: no cover - argparse routes actions elsewhere
        raise ProvisioningError(f"unknown receiver action {args.receiver_action}")
    options, db = _options(args), _db(args)
    key = signing_key(getattr(args, "key", None))
    _setup_logging(args)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        async with SqliteStore(db) as store:
            receiver = Receiver(store, options, prefix=args.prefix, signing_key=key)
            tune_gc()
            log.info("receiver: storing into %s, broker %s, prefix %s", db, options.url, args.prefix)
            if key is None:
                log.warning("receiver: acks are unsigned (no --key): gateways with a county key ignore them")
            await receiver.run()

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(main())
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    db = _db(args)
    path: Path = args.file
    if not path.exists():
        raise NotFoundError(f"{path} does not exist")
    receipt_path: Path = args.receipt or path.with_name(
        path.name.removesuffix(".gz").removesuffix(".jsonl") + ".receipt.json"
    )

    async def main() -> ImportResult:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as f:
                lines = f.readlines()
        except (OSError, EOFError) as e:
            raise BadInputError(f"cannot read {path}: {e}") from None
        async with SqliteStore(db) as store:
            try:
                return await import_export(store, lines)
            except CountyError as e:
                raise BadInputError(f"{path}: {e.message}", hint=e.hint) from None

    result = asyncio.run(main())
    accepted, rejected = result.accepted, result.rejected
    receipt = Receipt(source=path.name, exported_at=result.exported_at, accepted=accepted, rejected=rejected)
    tmp = receipt_path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(receipt.model_dump(by_alias=True)))
    os.replace(tmp, receipt_path)
    summary = {"accepted": len(accepted), "rejected": len(rejected), "receipt": str(receipt_path)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"imported {len(accepted)} record(s), rejected {len(rejected)}; receipt: {receipt_path}")
        print(f"on the gateway: hutgw buffer mark-delivered --from-receipt {receipt_path.name}")
    return EXIT_OK


def _load_args(text: str) -> dict[str, Any]:
    try:
        data = Path(text[1:]).read_bytes() if text.startswith("@") else text.encode()
        obj = orjson.loads(data)
    except (OSError, orjson.JSONDecodeError) as e:
        raise BadInputError(f"--args is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise BadInputError("--args must be a JSON object")
    return obj


def run_command(args: argparse.Namespace) -> int:
    options = _options(args)
    prefix = getattr(args, "prefix", topics.DEFAULT_PREFIX)
    try:
        key = load_private_key(args.key)
    except UplinkError as e:
        raise BadInputError(e.message, hint=e.hint) from None
    body = make_command(key, args.gateway_id, args.name, _load_args(args.args), ttl_s=args.ttl)
    results_topic = topics.topic(prefix, args.gateway_id, topics.COMMAND_RESULTS)
    commands_topic = topics.topic(prefix, args.gateway_id, topics.COMMANDS)

    async def main() -> CommandResult | None:
        """The gateway's result (``None`` when not waiting for one, or none came in time)."""
        client = options.client(identifier=f"hutgw-command-{body['id'][-12:]}", timeout=10)
        try:
            async with asyncio.timeout(15):
                await client.__aenter__()
        except Exception as e:
            raise UnreachableError(f"cannot reach the broker {options.url}: {e}") from None
        try:
            if args.wait > 0:
                await client.subscribe(results_topic, qos=1)
            await client.publish(commands_topic, orjson.dumps(body), qos=1)
            if args.wait <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.wait):
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        try:
                            result = CommandResult.from_wire(payload)
                        except (ValueError, KeyError, TypeError):
                            continue
                        if result.command_id == body["id"]:
                            return result
            return None
        finally:
            await client.__aexit__(None, None, None)

    result = asyncio.run(main())
    if args.wait <= 0:
        print(json.dumps({"sent": body["id"]}))
        return EXIT_OK
    if result is None:
        print(
            f"error: no result from {args.gateway_id} within {args.wait:.0f} s (command {body['id']})",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    print(json.dumps(result.to_wire_dict(), ensure_ascii=False))
    return EXIT_OK if result.status == "done" else EXIT_FAILURE


def run_keygen(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out: Path = args.out
    if out.exists():
        raise BadInputError(
            f"{out} already exists", hint="choose another --out; never overwrite a county key"
        )
    key = Ed25519PrivateKey.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_pem(key))
    pub = public_key_b64(key)
    if args.json:
        print(json.dumps({"key_file": str(out), "public_key": pub}))
    else:
        print(f"private key written to {out} (keep it at the county)")
        print(f'gateway config: [uplink] command_public_key = "{pub}"')
    return EXIT_OK
