"""``hutgw config validate|show|schema``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.config import Config, load
from gateway.errors import ConfigError
from provisioning import i18n
from provisioning.errors import EXIT_CONFIG, EXIT_OK

SECRET_FIELDS = {"token", "doctor_pin", "password"}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("config", help="validate, show or describe the configuration")
    cs = p.add_subparsers(dest="config_command", metavar="ACTION")
    cs.required = True
    v = cs.add_parser(
        "validate", parents=[common], help="check a config file; print every error with its field"
    )
    v.add_argument("file", nargs="?", help="the file (default: --config or /etc/hutgw/hutgw.toml)")
    v.set_defaults(func=validate)
    s = cs.add_parser("show", parents=[common], help="print the effective configuration (secrets redacted)")
    s.set_defaults(func=show)
    sc = cs.add_parser("schema", parents=[common], help="print the JSON Schema of the config file")
    sc.set_defaults(func=schema)


def _load(args: argparse.Namespace, file: str | None = None) -> Config:
    from pathlib import Path

    path = Path(file) if file else args.config
    return load(path, overrides={"state_dir": str(args.state_dir) if args.state_dir else None})


def validate(args: argparse.Namespace) -> int:
    try:
        _load(args, args.file)
    except ConfigError as e:
        print(i18n.frame_error(i18n.localize_message(e.message), None), file=sys.stderr)
        for line in e.errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_CONFIG
    print("config is valid")
    return EXIT_OK


def redact(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: ("***" if k in SECRET_FIELDS and v else redact(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(x) for x in data]
    return data


def show(args: argparse.Namespace) -> int:
    cfg = _load(args)
    print(json.dumps(redact(cfg.model_dump(mode="json")), indent=2, ensure_ascii=False))
    return EXIT_OK


def schema(args: argparse.Namespace) -> int:
    print(json.dumps(Config.model_json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK
