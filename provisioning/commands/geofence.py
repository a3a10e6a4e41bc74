"""``hutgw geofence``: import, list and remove residents' fences; replay a recorded trace."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway import config as gateway_config
from gateway.errors import ConfigError
from gateway.geofence.datum import DATUMS, Datum
from gateway.geofence.engine import FenceSettings
from gateway.geofence.errors import ZoneError
from gateway.geofence.replay import FixFileError, event_json, read_fixes, replay
from gateway.geofence.store import ZoneStore
from gateway.geofence.zones import Circle, Zone, load_geojson, to_feature
from provisioning.context import open_registry_file, require_writable
from provisioning.errors import EXIT_OK, BadInputError, NotFoundError
from provisioning.i18n import t


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("geofence", help="residents' electronic fences (safe and danger zones)")
    gsub = p.add_subparsers(dest="geofence_command", metavar="ACTION")
    gsub.required = True

    imp = gsub.add_parser("import", parents=[common], help="import zones from a GeoJSON FeatureCollection")
    imp.add_argument("resident", metavar="RESIDENT", help="resident id the zones belong to")
    imp.add_argument("file", metavar="FILE.geojson", type=Path)
    imp.add_argument(
        "--datum",
        choices=DATUMS,
        default="wgs84",
        help="datum of features without a datum property (gcj02: AMap/Tencent, bd09: Baidu)",
    )
    imp.add_argument("--replace", action="store_true", help="remove the resident's zones not in the file")
    imp.set_defaults(func=run_import)

    ls = gsub.add_parser("list", parents=[common], help="list stored zones")
    ls.add_argument("resident", metavar="RESIDENT", nargs="?", help="only this resident")
    ls.set_defaults(func=run_list)

    rm = gsub.add_parser("remove", parents=[common], help="remove one zone, or all of a resident's")
    rm.add_argument("resident", metavar="RESIDENT")
    rm.add_argument(
        "name", metavar="NAME", nargs="?", help="zone name (default: all of the resident's zones)"
    )
    rm.set_defaults(func=run_remove)

    rp = gsub.add_parser(
        "replay", parents=[common], help="run a recorded trace through the fences and print the events"
    )
    rp.add_argument("--zones", type=Path, required=True, metavar="FILE.geojson")
    rp.add_argument("--fixes", type=Path, required=True, metavar="FILE.csv|FILE.jsonl")
    rp.add_argument(
        "--datum", choices=DATUMS, default="wgs84", help="datum of zones without a datum property"
    )
    rp.set_defaults(func=run_replay)


def _config(args: argparse.Namespace) -> gateway_config.Config:
    try:
        return gateway_config.load(args.config)
    except ConfigError as e:
        if not e.errors:
            raise
        raise ConfigError(f"{e.message}: {'; '.join(e.errors)}", e.errors, hint=e.hint) from None


def _store(args: argparse.Namespace) -> ZoneStore:
    state_dir = Path(args.state_dir if args.state_dir is not None else _config(args).state_dir)
    require_writable(state_dir, state_dir / "registry.db")
    return ZoneStore.in_state_dir(state_dir)


def _load_zones(
    path: Path, datum: Datum, resident: str | None = None, *, hint: str | None = None
) -> list[Zone]:
    try:
        return load_geojson(path, default_datum=datum, resident_id=resident)
    except ZoneError as e:
        if e.message.endswith("does not exist"):
            raise NotFoundError(e.message, hint="check the path") from None
        raise BadInputError(e.message, hint=hint or e.hint) from None


def _describe(z: Zone) -> str:
    """One tab-separated line: resident, name, kind, shape, when, datum (in the user's language)."""
    s = z.shape
    if isinstance(s, Circle):
        shape = t("geofence.circle", radius=f"{s.radius_m:g}")
    else:
        shape = t("geofence.polygon", n=len(s.outer))
        if s.holes:
            shape += t("geofence.holes", n=len(s.holes))
    when = t("geofence.always")
    if z.schedule is not None:
        sj = z.schedule.to_json()
        days = ",".join(sj["days"]) if len(sj["days"]) < 7 else t("geofence.daily")
        hours = f" {sj['from']}-{sj['to']}" if "from" in sj else ""
        when = f"{days}{hours} {sj['tz']}"
    kind = t(f"geofence.kind.{z.kind}") if z.kind in ("safe", "danger") else z.kind
    drawn = t("geofence.drawn_in", datum=z.source_datum)
    return f"{z.resident_id}\t{z.name}\t{kind}\t{shape}\t{when}\t{drawn}"


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _require_resident(args: argparse.Namespace, resident_id: str) -> None:
    from gateway.registry import UnknownEntryError

    state_dir = args.state_dir if args.state_dir is not None else _config(args).state_dir
    path = Path(state_dir) / "registry.db"
    if not path.exists():
        raise UnknownEntryError(
            f"no resident {resident_id!r}: {state_dir} has no registry yet", hint="add residents first"
        )
    with open_registry_file(path) as reg:
        reg.require_resident(resident_id)


def run_import(args: argparse.Namespace) -> int:
    zones = _load_zones(args.file, args.datum, args.resident)
    _require_resident(args, args.resident)
    count = _store(args).save(zones, replace_resident=args.resident if args.replace else None)
    if args.json:
        _print_json(
            {"resident_id": args.resident, "imported": [z.name for z in zones], "replaced": args.replace}
        )
    else:
        print(t("geofence.imported", n=count, id=args.resident, names=", ".join(z.name for z in zones)))
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    zones = _store(args).load(args.resident)
    if args.resident is not None and not zones:
        raise NotFoundError(t("geofence.no_zones_of", id=args.resident), hint=t("geofence.no_zones_of_hint"))
    if args.json:
        features = []
        for z in zones:
            feature = to_feature(z)
            feature["properties"]["source_datum"] = z.source_datum
            features.append(feature)
        _print_json({"type": "FeatureCollection", "features": features})
    elif not zones:
        print(t("geofence.none"))
    else:
        for z in zones:
            print(_describe(z))
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    removed = _store(args).remove(args.resident, args.name)
    if removed == 0:
        message = (
            t("geofence.no_zone", name=args.name, id=args.resident)
            if args.name
            else t("geofence.no_zones_of", id=args.resident)
        )
        raise NotFoundError(message, hint=t("geofence.see_list"))
    if args.json:
        _print_json({"resident_id": args.resident, "removed": removed})
    else:
        print(t("geofence.removed", n=removed, id=args.resident))
    return EXIT_OK


def run_replay(args: argparse.Namespace) -> int:
    settings = FenceSettings.from_config(_config(args).geofence)
    zones = _load_zones(args.zones, args.datum, hint="fix the zone file and run the replay again")
    try:
        fixes = read_fixes(args.fixes)
    except FixFileError as e:
        if e.message.endswith("does not exist"):
            raise NotFoundError(e.message, hint="check the path") from None
        raise BadInputError(e.message, hint=e.hint) from None
    out = sys.stdout
    for ev in replay(zones, fixes, settings):
        out.write(json.dumps(event_json(ev), ensure_ascii=False) + "\n")
    out.flush()
    return EXIT_OK
