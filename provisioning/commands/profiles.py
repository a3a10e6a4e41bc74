"""``hutgw profiles``: list device profiles, check a serial line-format file.

``hutgw profiles list`` shows the built-in profiles and the technician's format files in
``<state_dir>/profiles/*.toml`` (the gateway loads those at start). ``hutgw profiles validate
FILE [--line TEXT]`` checks one format file, naming every field at fault, and can decode a
sample line with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers import registry
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.serial.formatfile import FormatFileError, read_format
from drivers.serial.formats import BUILTIN_DIR, to_profile
from drivers.serial.spec import LineFormat
from hutgw_errors import HutError
from provisioning.context import load_context
from provisioning.errors import EXIT_FAILURE, EXIT_OK, BadInputError, NotFoundError

PROFILES_SUBDIR = "profiles"


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("profiles", parents=[common], help="list device profiles, check a serial format file")
    actions = p.add_subparsers(dest="profiles_command", metavar="ACTION")
    actions.required = True
    ls = actions.add_parser("list", parents=[common], help="built-in profiles and local format files")
    ls.set_defaults(func=run_list)
    v = actions.add_parser("validate", parents=[common], help="check a serial line-format file (TOML)")
    v.add_argument("file", type=Path, help="the format file, e.g. acme-scale.toml")
    v.add_argument("--line", help="a sample line to decode with it (use $'...\\r\\n' in bash)")
    v.set_defaults(func=run_validate)


def _state_dir(args: argparse.Namespace) -> Path | None:
    if args.state_dir is not None:
        return Path(args.state_dir)
    try:
        return load_context(args).state_dir
    except HutError as e:
        print(f"warning: local format files not listed: {e}", file=sys.stderr)
        return None


def run_list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "transport": p.transport,
            "title": p.title,
            "provisional": p.provisional,
            "source": "built-in",
        }
        for p in sorted(registry.profiles().values(), key=lambda p: p.name)
    ]
    state_dir = _state_dir(args)
    folder = state_dir / PROFILES_SUBDIR if state_dir is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                fmt = read_format(path)
            except FormatFileError as e:
                rows.append({"name": None, "source": str(path), "errors": e.errors})
                continue
            rows.append(
                {
                    "name": fmt.name,
                    "transport": "serial",
                    "title": fmt.title,
                    "provisional": fmt.provisional,
                    "source": str(path),
                }
            )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    width = max(len(str(r["name"])) for r in rows) + 2
    for row in rows:
        if "errors" in row:
            print(f"{'(invalid)':{width}} {row['source']}: " + "; ".join(row["errors"]))
            continue
        flag = " [provisional]" if row["provisional"] else ""
        where = "" if row["source"] == "built-in" else f"  ({row['source']})"
        print(f"{row['name']:{width}} {row['transport']:9} {row['title']}{flag}{where}")
    return EXIT_OK


def _summary(fmt: LineFormat) -> dict[str, Any]:
    return {
        "name": fmt.name,
        "title": fmt.title,
        "provisional": fmt.provisional,
        "layout": fmt.layout,
        "fields": len(fmt.keys) if fmt.layout == "key_value" else sum(c is not None for c in fmt.columns),
        "checksum": fmt.checksum,
        "measurements": [r.kind for r in fmt.measurements],
        "serial": f"{fmt.serial.baudrate} {fmt.serial.bytesize}{fmt.serial.parity}{fmt.serial.stopbits}",
    }


def run_validate(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist", hint="give the path of a .toml format file")
    try:
        fmt = read_format(path)
    except FormatFileError as e:
        if args.json:
            print(json.dumps({"ok": False, "file": str(path), "errors": e.errors}, ensure_ascii=False))
        else:
            for problem in e.errors:
                print(f"{path}: {problem}", file=sys.stderr)
        raise BadInputError(
            f"{path}: {len(e.errors)} problem(s) in the format file",
            hint="see docs/devices.md for the layout",
        ) from None
    builtin = path.resolve().parent == BUILTIN_DIR.resolve()
    if fmt.name in registry.profiles() and not builtin:
        raise BadInputError(
            f"{path}: profile.name {fmt.name!r} is already a built-in profile",
            hint="give the file its own name, e.g. " + fmt.name.split(".")[0] + ".mymodel",
        )
    out: dict[str, Any] = {"ok": True, "file": str(path), "profile": _summary(fmt)}
    code = EXIT_OK
    if args.line is not None:
        profile = to_profile(fmt)
        frame = RawFrame("serial", "cli", args.line.encode("latin-1", errors="replace"), datetime.now(UTC))
        try:
            decoded = profile.decode(frame)
            out["decoded"] = decoded.fields
            out["measurements"] = [
                {"kind": m.kind, "values": {k: [v.value, v.unit] for k, v in m.values.items()}}
                for m in decoded.measurements
            ]
        except DecodeError as e:
            out["decoded"] = {"error": e.category, "field": e.field, "detail": e.detail}
            code = EXIT_FAILURE
    if args.json:
        print(json.dumps(out, ensure_ascii=False, default=str))
        return code
    s = out["profile"]
    print(f"{path}: OK — {s['name']} ({s['title']})")
    print(
        f"  layout {s['layout']}, {s['fields']} field(s), checksum {s['checksum']}, serial {s['serial']}, "
        f"gives {', '.join(s['measurements']) or 'no measurement'}"
        + (" [provisional]" if s["provisional"] else "")
    )
    if "decoded" in out:
        print("  sample line: " + json.dumps(out["decoded"], ensure_ascii=False, default=str))
        for m in out.get("measurements", []):
            print(f"  -> {m['kind']}: " + ", ".join(f"{k} {v[0]} {v[1]}" for k, v in m["values"].items()))
    return code
