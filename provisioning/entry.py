"""The ``hutgw`` console script.

``hutgw run`` (the daemon systemd starts) is parsed with the ``run`` command's own parser
only: building the full CLI imports every command module and, through them, Bluetooth, PKI,
device-test and HTTP-client code the daemon never uses, which costs the daemon about 8 MB of
resident memory for its whole life. Every other command goes through :func:`provisioning.cli.main`
unchanged, and ``hutgw run`` accepts exactly the options it has there (same ``register``).
"""

from __future__ import annotations

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
    from provisioning import cli, i18n
    from provisioning.argv import scan_lang

    with i18n.using(i18n.detect(scan_lang(argv), os.environ)):
        ns = cli.build_parser(only="run").parse_args(argv)
        return cli.run_handler(ns.func, ns)


if __name__ == "__main__":
    raise SystemExit(main())
