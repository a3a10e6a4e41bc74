"""The ``hutgw`` console script.

``hutgw run`` (the daemon systemd starts) is parsed with the ``run`` command's own parser
only: building the full CLI imports every command module and, through them, Bluetooth, PKI,
device-test and HTTP-client code the daemon never uses, which costs the daemon about 8 MB of
resident memory for its whole life. Every other command goes through :func:`provisioning.cli.main`
unchanged, and ``hutgw run`` accepts exactly the options it has there (same ``register``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        return run_daemon(args)
    from provisioning.cli import main as cli_main

    return cli_main(args)


def run_daemon(argv: Sequence[str]) -> int:
    """``hutgw run ...``: the same parser, handler and error reporting as in the full CLI."""
    from hutgw_errors import HutError
    from provisioning import cli, i18n
    from provisioning.commands import run

    parser = argparse.ArgumentParser(prog="hutgw", description="hut-gateway: village health-hut edge gateway")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    run.register(sub, cli.common_options())
    ns = parser.parse_args(argv)
    with i18n.using(i18n.detect(ns.lang, os.environ)):
        try:
            code: int = ns.func(ns)
            return code
        except HutError as e:
            cli.report_error(e, json_mode=bool(ns.json))
            return e.exit_code
        except KeyboardInterrupt:
            print(i18n.t("error.interrupted"), file=sys.stderr)
            return 130


if __name__ == "__main__":
    raise SystemExit(main())
