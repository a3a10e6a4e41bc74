"""``hutgw``: one entry point; each sub-command lives in ``provisioning/commands/<name>.py``.

A command module defines ``register(sub, common)``: it adds its parser(s) to ``sub`` with
``parents=[common]`` and sets ``func`` to a callable taking the parsed namespace and
returning an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence

from hutgw_errors import HutError
from provisioning import i18n
from provisioning.errors import EXIT_OK

Handler = Callable[[argparse.Namespace], int]


def common_options() -> argparse.ArgumentParser:
    """The global options as a parent for sub-parsers: accepted there without defaults of their
    own, so that ``hutgw --lang zh residents list`` keeps what came before the sub-command."""
    from provisioning.argv import HutParser, add_global_options

    common = HutParser(add_help=False)
    add_global_options(common, defaults=False)
    return common


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI (or, with ``only``, that one command: ``hutgw run`` loads nothing else),
    with help texts in the current language."""
    from provisioning import argv, commands

    parser = argv.HutParser(prog="hutgw", description="hut-gateway: village health-hut edge gateway")
    argv.add_global_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = common_options()
    names = [only] if only else [i.name for i in pkgutil.iter_modules(commands.__path__)]
    for name in sorted(names):
        if name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.register(sub, common)
    argv.everywhere(parser)
    argv.localize(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from provisioning.argv import scan_lang

    arguments = list(sys.argv[1:] if argv is None else argv)
    with i18n.using(i18n.detect(scan_lang(arguments), os.environ)):
        parser = build_parser()
        args = parser.parse_args(arguments)
        level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
        if args.command not in ("run", "demo", "receiver", "county"):
            logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        return run_handler(args.func, args)


def run_handler(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; every everyday failure becomes one line on stderr and a documented exit
    code (docs/cli.md), never a traceback."""
    json_mode = bool(getattr(args, "json", False))
    try:
        return handler(args)
    except HutError as e:
        report_error(e, json_mode=json_mode)
        return e.exit_code
    except KeyboardInterrupt:
        print(i18n.t("error.interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`hutgw residents list | head -3`): what it wanted was printed
        with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush at exit
            os.close(devnull)
        return EXIT_OK
    except OSError as e:
        error = os_error(e)
        report_error(error, json_mode=json_mode)
        return error.exit_code


def os_error(e: OSError) -> HutError:
    """A file-system error as one sentence with what to do."""
    import errno
    import getpass

    from provisioning.errors import FailureError, PermissionDeniedError

    path = e.filename if e.filename is not None else ""
    if isinstance(e, PermissionError):
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.geteuid())
        return PermissionDeniedError(
            i18n.t("error.permission", path=path, user=user), hint=i18n.t("error.permission_hint", user=user)
        )
    if e.errno == errno.EROFS:
        return PermissionDeniedError(
            i18n.t("error.read_only", path=path), hint=i18n.t("error.read_only_hint")
        )
    reason = e.strerror or str(e)
    return FailureError(i18n.t("error.os", path=path, reason=reason), hint=i18n.t("error.os_hint"))


def report_error(error: HutError, *, json_mode: bool) -> None:
    """``error: <message> (<hint>)`` on stderr in the user's language, then the field errors
    (``ConfigError.errors``) one per line; with ``--json`` one JSON object
    ``{"error", "hint", "errors", "exit_code"}`` instead."""
    message, hint = i18n.localize_error(error)
    lines = i18n.localize_details(error)
    if json_mode:
        obj = {"error": message, "hint": hint, "errors": lines, "exit_code": error.exit_code}
        print(json.dumps(obj, ensure_ascii=False), file=sys.stderr)
        return
    print(i18n.frame_error(message, hint), file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
