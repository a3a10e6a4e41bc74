"""``hutgw devices scan|add|list|remove|test|pair``: the hut's health devices.

Devices live in the registry (``<state_dir>/registry.db``); a running daemon picks changes up
within seconds (it reloads the registry and restarts serial transports), no restart needed.

BLE commands use BlueZ through bleak. ``--ble-backend module:factory`` (or the environment
variable ``HUTGW_BLE_BACKEND``) names another bleak backend: ``factory()`` returns a
:class:`drivers.ble.transport.BleBackend`, or an async context manager giving one (tests use
the simulated radio this way).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import time
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from drivers.errors import TransportError
from gateway.clock import SystemClock
from gateway.registry import DeviceEntry, DuplicateError, Registry, registry_path
from provisioning import devicecheck
from provisioning.context import Context, load_context, open_registry_file
from provisioning.devicecheck import Link
from provisioning.errors import EXIT_OK, BadInputError, ConflictError, NotFoundError, UnreachableError
from provisioning.i18n import t
from provisioning.output import Output, Ticker

if TYPE_CHECKING:  # imported where used: bleak and aiohttp slow down every other command
    from drivers.ble.transport import BleBackend
    from provisioning.devicetest import LiveReading

BACKEND_ENV = "HUTGW_BLE_BACKEND"
T = TypeVar("T")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("devices", help="the hut's health devices: scan, add, list, remove, test, pair")
    dsub = p.add_subparsers(dest="devices_command", metavar="ACTION")
    dsub.required = True

    ble = argparse.ArgumentParser(add_help=False)
    ble.add_argument("--ble-backend", default=None, help=argparse.SUPPRESS)

    scan = dsub.add_parser("scan", parents=[common, ble], help="list Bluetooth devices nearby")
    scan.add_argument(
        "--timeout", type=float, default=8.0, metavar="S", help="listen this long (default 8 s)"
    )
    scan.set_defaults(func=run_scan)

    add = dsub.add_parser("add", parents=[common], help="register a device")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--ble", metavar="ADDRESS", help="Bluetooth address, e.g. C0:FF:EE:00:00:01")
    where.add_argument("--serial", metavar="PATH", help="serial port, e.g. /dev/serial/by-id/usb-...")
    where.add_argument("--watch", metavar="ID", help="4G watch id (digits)")
    add.add_argument(
        "--profile", required=True, metavar="NAME", help="device profile (`hutgw profiles list`)"
    )
    owner = add.add_mutually_exclusive_group(required=True)
    owner.add_argument("--resident", metavar="ID", help="the resident this personal device belongs to")
    owner.add_argument("--shared", action="store_true", help="a hut device used by everyone")
    add.add_argument("--id", dest="device_id", metavar="ID", help="device id (default from the address)")
    add.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="INDEX=RESIDENT",
        help="multi-user scale: user slot INDEX belongs to RESIDENT (repeatable)",
    )
    add.set_defaults(func=run_add)

    ls = dsub.add_parser("list", parents=[common], help="list registered devices")
    ls.set_defaults(func=run_list)

    rm = dsub.add_parser("remove", parents=[common], help="remove a device")
    rm.add_argument("device_id", metavar="ID")
    rm.set_defaults(func=run_remove)

    test = dsub.add_parser("test", parents=[common, ble], help="wait for one live reading and print it")
    test.add_argument("device_id", metavar="ID")
    test.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="give up after S (default 120)"
    )
    test.set_defaults(func=run_test)

    pair = dsub.add_parser("pair", parents=[common, ble], help="bond with a BLE device that needs it")
    pair.add_argument("address", metavar="ADDRESS")
    pair.add_argument("--timeout", type=float, default=30.0, metavar="S", help="connect timeout (default 30)")
    pair.set_defaults(func=run_pair)


# --------------------------------------------------------------------------- helpers


def open_registry(ctx: Context, *, create: bool) -> Registry:
    path = registry_path(ctx.state_dir)
    if not create and not path.exists():
        raise NotFoundError(t("err.no_registry", path=path), hint=t("hint.registry_state_dir"))
    return open_registry_file(path)


def device_json(d: DeviceEntry) -> dict[str, Any]:
    return {
        "id": d.id,
        "profile": d.profile,
        "address": d.address,
        "resident_id": d.resident_id,
        "shared": d.shared,
        "user_map": {str(k): v for k, v in d.user_map.items()},
        "added_at": d.added_at.isoformat() if d.added_at else None,
    }


def _owner(d: DeviceEntry) -> str:
    if d.resident_id is not None:
        return d.resident_id
    if d.user_map:
        return ", ".join(f"{k}={v}" for k, v in sorted(d.user_map.items()))
    return t("word.shared")


def backend_spec(args: argparse.Namespace) -> str | None:
    return getattr(args, "ble_backend", None) or os.environ.get(BACKEND_ENV) or None


@contextlib.asynccontextmanager
async def ble_backend(spec: str | None) -> AsyncIterator[BleBackend | None]:
    """The bleak backend named by ``module:factory`` (None: bleak's default, BlueZ)."""
    from drivers.ble.transport import BleBackend

    if spec is None:
        yield None
        return
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        made = factory()
    except (ImportError, AttributeError, ValueError, TypeError) as e:
        raise BadInputError(
            t("devices.bad_backend", spec=spec, reason=e), hint=t("devices.bad_backend_hint")
        ) from None
    if isinstance(made, BleBackend):
        yield made
        return
    async with made as backend:
        yield backend


async def _ticking(ticker: Ticker, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` while advancing the progress bar by the seconds that pass."""
    task = asyncio.ensure_future(coro)
    last = time.monotonic()
    while not task.done():
        await asyncio.wait([task], timeout=0.2)
        now = time.monotonic()
        ticker.advance(now - last)
        last = now
    return task.result()


def _ble_error(e: TransportError) -> UnreachableError:
    return UnreachableError(
        t("devices.ble_failed", detail=e.message), hint=e.hint or t("devices.ble_failed_hint")
    )


# --------------------------------------------------------------------------- add / list / remove


def _user_map(values: list[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for item in values:
        index, sep, resident = item.partition("=")
        if not sep or not index.strip().isdigit() or not 0 <= int(index) < 255 or not resident.strip():
            raise BadInputError(t("devices.bad_user", value=item), hint=t("devices.bad_user_hint"))
        out[int(index)] = resident.strip()
    return out


def run_add(args: argparse.Namespace) -> int:
    out = Output.of(args)
    ctx = load_context(args)
    link: Link = "ble" if args.ble is not None else "serial" if args.serial is not None else "watch"
    address = devicecheck.check_address(link, args.ble or args.serial or args.watch)
    profile = devicecheck.check_profile(link, args.profile, devicecheck.known_profiles(ctx.state_dir))
    device_id = devicecheck.check_device_id(args.device_id or devicecheck.default_id(link, address))
    user_map = _user_map(args.user)
    with open_registry(ctx, create=True) as reg:
        for rid in [args.resident, *user_map.values()]:
            if rid is not None and reg.get_resident(rid) is None:
                raise NotFoundError(t("devices.no_resident", id=rid), hint=t("devices.no_resident_hint"))
        if reg.get_device(device_id) is not None:
            raise ConflictError(
                t("devices.exists", id=device_id), hint=t("devices.exists_hint", id=device_id)
            )
        for other in reg.list_devices():
            if other.address == address:
                raise ConflictError(
                    t("devices.address_taken", address=address, device=other.id),
                    hint=t("devices.address_taken_hint", device=other.id),
                )
        try:
            entry = reg.add_device(
                DeviceEntry(
                    id=device_id,
                    profile=profile.name,
                    address=address,
                    resident_id=args.resident,
                    user_map=user_map,
                )
            )
        except DuplicateError as e:  # another process was quicker
            raise ConflictError(e.message, hint=e.hint) from None
    owner = (
        t("devices.owner_resident", id=entry.resident_id) if entry.resident_id else t("devices.owner_shared")
    )
    warnings = []
    if link == "ble" and not ctx.config.ble.enabled:
        warnings.append(t("devices.ble_off"))
    if link == "watch" and not ctx.config.watch.listen:
        warnings.append(t("devices.watch_off"))
    for w in warnings:
        out.warn(w)

    def human(o: Output) -> None:
        o.line(t("devices.added", id=entry.id, profile=entry.profile, address=entry.address, owner=owner))
        o.line(t("devices.added_live"))

    out.result({"added": device_json(entry), "warnings": warnings}, human)
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    out = Output.of(args)
    ctx = load_context(args)
    path = registry_path(ctx.state_dir)
    devices: list[DeviceEntry] = []
    if path.exists():
        with open_registry_file(path) as reg:
            devices = reg.list_devices()

    def human(o: Output) -> None:
        if not devices:
            o.line(t("devices.none"))
            return
        o.table(
            [
                t("devices.col.id"),
                t("devices.col.profile"),
                t("devices.col.address"),
                t("devices.col.owner"),
                t("devices.col.added"),
            ],
            [
                (
                    d.id,
                    d.profile,
                    d.address,
                    _owner(d),
                    d.added_at.strftime("%Y-%m-%d %H:%M") if d.added_at else None,
                )
                for d in devices
            ],
        )

    out.result([device_json(d) for d in devices], human)
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    out = Output.of(args)
    ctx = load_context(args)
    with open_registry(ctx, create=False) as reg:
        if reg.get_device(args.device_id) is None:
            raise NotFoundError(t("devices.unknown", id=args.device_id), hint=t("devices.unknown_hint"))
        reg.remove_device(args.device_id)
    out.result({"removed": args.device_id}, lambda o: o.line(t("devices.removed", id=args.device_id)))
    return EXIT_OK


# --------------------------------------------------------------------------- scan / pair


def run_scan(args: argparse.Namespace) -> int:
    from drivers.ble.scan import scan_once

    out = Output.of(args)
    ctx = load_context(args)
    path = registry_path(ctx.state_dir)
    provisioned: dict[str, str] = {}
    if path.exists():
        with open_registry_file(path) as reg:
            provisioned = {d.address: d.id for d in reg.list_devices() if d.address}

    async def scan() -> list[Any]:
        async with ble_backend(backend_spec(args)) as backend:
            with out.progress(t("devices.scan.progress"), total=args.timeout) as ticker:
                return await _ticking(
                    ticker, scan_once(backend=backend, timeout=args.timeout, provisioned=list(provisioned))
                )

    try:
        seen = asyncio.run(scan())
    except TransportError as e:
        raise _ble_error(e) from None
    rows = [
        {
            "address": s.address,
            "name": s.name,
            "rssi": s.rssi,
            "profile": s.profile,
            "registered_as": provisioned.get(s.address),
        }
        for s in seen
    ]

    def human(o: Output) -> None:
        if not rows:
            o.line(t("devices.scan.none", seconds=args.timeout))
            return
        o.table(
            [
                t("devices.col.address"),
                t("devices.col.name"),
                t("devices.col.rssi"),
                t("devices.col.profile"),
                t("devices.col.registered"),
            ],
            [
                (
                    r["address"],
                    r["name"],
                    r["rssi"],
                    r["profile"] or t("devices.scan.unsupported"),
                    r["registered_as"],
                )
                for r in rows
            ],
            title=t("devices.scan.title"),
        )

    out.result(rows, human)
    return EXIT_OK


def run_pair(args: argparse.Namespace) -> int:
    from drivers.ble.pair import pair

    out = Output.of(args)
    address = devicecheck.check_address("ble", args.address)

    async def go() -> Any:
        async with ble_backend(backend_spec(args)) as backend:
            with out.progress(t("devices.pair.progress", address=address)) as ticker:
                return await _ticking(
                    ticker,
                    pair(
                        address,
                        backend=backend,
                        connect_timeout_s=args.timeout,
                        find_timeout_s=min(args.timeout, 15.0),
                    ),
                )

    try:
        result = asyncio.run(go())
    except TransportError as e:
        raise _ble_error(e) from None
    data = {
        "address": result.address,
        "name": result.name,
        "paired": result.paired,
        "services": list(result.services),
    }
    out.result(
        data,
        lambda o: o.line(
            t(
                "devices.pair.done",
                address=result.address,
                name=result.name or "?",
                services=", ".join(result.services) or "-",
            )
        ),
    )
    return EXIT_OK


# --------------------------------------------------------------------------- test


def run_test(args: argparse.Namespace) -> int:
    from provisioning import devicetest
    from provisioning.daemon_api import DaemonApi

    out = Output.of(args)
    ctx = load_context(args)
    with open_registry(ctx, create=False) as reg:
        device = reg.get_device(args.device_id)
    if device is None:
        raise NotFoundError(t("devices.unknown", id=args.device_id), hint=t("devices.unknown_hint"))
    profiles = devicecheck.known_profiles(ctx.state_dir)
    profile = profiles.get(device.profile)
    if profile is None:
        raise NotFoundError(t("devices.unknown_profile", name=device.profile), hint=t("devices.unknown_hint"))
    link = devicecheck.link_of(profile)
    if not args.verbose:  # the transports' own complaints become one sentence below
        logging.getLogger("hutgw.cli").setLevel(logging.CRITICAL)
    api = DaemonApi(ctx.config.api)
    clock = SystemClock(sync_source=ctx.config.clock.sync_source)
    timeout = float(args.timeout)
    # through the daemon: what the daemon is set to listen to (it holds the radio and the port)
    hint = devicetest.timeout_hint(link, ctx.config.ble.enabled, ctx.config.watch.listen)

    async def go() -> LiveReading:
        health = await api.running()
        out.note(t("devices.test.prompt", id=device.id, seconds=timeout))
        with out.progress(t("devices.test.progress", id=device.id), total=timeout) as ticker:
            if health is not None:
                out.note(t("devices.test.via_daemon", url=api.url))
                return await _ticking(ticker, devicetest.via_daemon(api, device, timeout, hint=hint))
            if link == "serial":
                return await _ticking(ticker, devicetest.via_serial(device, profile, timeout, clock))
            if link == "ble":
                async with ble_backend(backend_spec(args)) as backend:
                    return await _ticking(
                        ticker, devicetest.via_ble(device, profile, timeout, clock, backend)
                    )
            raise UnreachableError(
                t(
                    "devices.test.needs_daemon",
                    transport=t(f"devices.transport.{link or 'watch'}"),
                    url=api.url,
                ),
                hint=t("devices.test.needs_daemon_hint"),
            )

    try:
        reading = asyncio.run(go())
    except TransportError as e:
        raise _ble_error(e) from None

    def human(o: Output) -> None:
        o.line(t("devices.test.got", id=reading.device, kind=reading.kind))
        o.table(
            [t("devices.col.value_name"), t("devices.col.value"), t("devices.col.unit")],
            [(name, v.get("value"), v.get("unit")) for name, v in reading.values.items()],
        )

    out.result(reading.as_dict(), human)
    return EXIT_OK
