"""``hutgw config validate|show|schema``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateway.config import DEFAULT_CONFIG, Config, check, load
from provisioning import i18n
from provisioning.errors import EXIT_OK

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


def _path(args: argparse.Namespace, file: str | None = None) -> Path | None:
    """The file to read: FILE, else --config, else the default file when it exists."""
    if file:
        return Path(file)
    if args.config is not None:
        return Path(args.config)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def _load(args: argparse.Namespace, file: str | None = None) -> Config:
    return load(_path(args, file), overrides={"state_dir": str(args.state_dir) if args.state_dir else None})


def validate(args: argparse.Namespace) -> int:
    """The same checks as ``hutgw run`` (the model, then :func:`gateway.config.check`); says which
    file it checked."""
    path = _path(args, args.file)
    config = _load(args, args.file)
    check(config, source=str(path) if path is not None else "defaults")
    if args.json:
        print(json.dumps({"valid": True, "file": str(path) if path is not None else None}))
    elif path is None:
        print(i18n.t("config.valid_defaults", path=DEFAULT_CONFIG))
    else:
        print(i18n.t("config.valid", path=path))
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
