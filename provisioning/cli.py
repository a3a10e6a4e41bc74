"""``hutgw``: one entry point; each sub-command lives in ``provisioning/commands/<name>.py``.

A command module defines ``register(sub, common)``: it adds its parser(s) to ``sub`` with
``parents=[common]`` and sets ``func`` to a callable taking the parsed namespace and
returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hutgw_errors import HutError
from provisioning import i18n

Handler = Callable[[argparse.Namespace], int]


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=None, help="config file (default /etc/hutgw/hutgw.toml)"
    )
    common.add_argument("--state-dir", type=Path, default=None, help="state folder (default /var/lib/hutgw)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--lang", choices=["en", "zh"], default=None, help="message language (default from LANG)"
    )
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    return common


def build_parser() -> argparse.ArgumentParser:
    from provisioning import commands

    parser = argparse.ArgumentParser(prog="hutgw", description="hut-gateway: village health-hut edge gateway")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = common_options()
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
    if args.command not in ("run", "demo", "receiver"):
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler: Handler = args.func
    with i18n.using(i18n.detect(getattr(args, "lang", None), os.environ)):
        try:
            return handler(args)
        except HutError as e:
            report_error(e, json_mode=bool(getattr(args, "json", False)))
            return e.exit_code
        except KeyboardInterrupt:
            print(i18n.t("error.interrupted"), file=sys.stderr)
            return 130


def report_error(error: HutError, *, json_mode: bool) -> None:
    """``error: <message> (<hint>)`` on stderr in the user's language, then the field errors
    (``ConfigError.errors``) one per line; with ``--json`` one JSON object
    ``{"error", "hint", "errors", "exit_code"}`` instead."""
    message, hint = i18n.localize_error(error)
    details = getattr(error, "errors", None)
    lines = [str(x) for x in details] if isinstance(details, list | tuple) else []
    if json_mode:
        obj = {"error": message, "hint": hint, "errors": lines, "exit_code": error.exit_code}
        print(json.dumps(obj, ensure_ascii=False), file=sys.stderr)
        return
    print(i18n.frame_error(message, hint), file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
