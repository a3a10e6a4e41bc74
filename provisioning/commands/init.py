"""``hutgw init``: the config file, the state folder, the gateway key pair and its CSR.

Nothing is written until every input has been checked; an existing config or key is never
replaced without ``--force``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.config import DEFAULT_STATE_DIR, UplinkConfig
from provisioning import configfile
from provisioning.errors import EXIT_OK, BadInputError, ConflictError, ProvisioningError
from provisioning.i18n import t
from provisioning.output import Output

GATEWAY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class CannotWriteError(ProvisioningError):
    exit_code = 1


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "init",
        parents=[common],
        help="set up this gateway: config, state folder, key pair and certificate request",
    )
    p.add_argument("--gateway-id", required=True, metavar="ID", help="this hut's gateway id, e.g. hut-0412")
    p.add_argument("--county-ca", type=Path, metavar="FILE", help="the county CA certificate (PEM)")
    p.add_argument("--broker", metavar="URL", help="county broker, mqtts://HOST:PORT")
    p.add_argument("--force", action="store_true", help="replace an existing config and key")
    p.set_defaults(func=run)


def _check_inputs(args: argparse.Namespace) -> bytes | None:
    """Validate the options; returns the CA certificate's PEM bytes (or None)."""
    from provisioning import pki

    if not GATEWAY_ID.fullmatch(args.gateway_id):
        raise BadInputError(t("init.bad_gateway_id", id=args.gateway_id), hint=t("init.bad_gateway_id_hint"))
    if args.broker is not None:
        try:
            UplinkConfig(broker=args.broker)
        except ValidationError as e:
            reason = e.errors()[0]["msg"].removeprefix("Value error, ")
            raise BadInputError(
                t("init.bad_broker", url=args.broker, reason=reason), hint=t("init.bad_broker_hint")
            ) from None
    if args.county_ca is None:
        return None
    data, _ = pki.read_cert_file(args.county_ca, "init.ca")
    return data


def run(args: argparse.Namespace) -> int:
    from provisioning import pki  # cryptography only when asked

    out = Output.of(args)
    ca_pem = _check_inputs(args)
    config = configfile.config_path(args.config).absolute()
    state_dir = Path(args.state_dir if args.state_dir is not None else DEFAULT_STATE_DIR).absolute()
    paths = pki.TlsPaths.in_state_dir(state_dir)
    if not args.force:
        for existing in (config, paths.key):
            if existing.exists():
                raise ConflictError(t("init.exists", path=existing), hint=t("init.exists_hint"))
    data: dict[str, Any] = {"gateway_id": args.gateway_id, "state_dir": str(state_dir)}
    uplink: dict[str, Any] = {}
    if args.broker is not None:
        uplink["broker"] = args.broker
    if ca_pem is not None:
        uplink["tls"] = {"ca_file": str(paths.ca)}
    if uplink:
        data["uplink"] = uplink

    created: list[Path] = []
    try:
        with out.progress(t("init.progress")):
            for folder, mode in ((config.parent, 0o755), (state_dir, 0o750), (paths.folder, 0o700)):
                if not folder.exists():
                    folder.mkdir(mode=mode, parents=True)
                    created.append(folder)
            key = pki.new_key()
            for path, writer, content in (
                (paths.key, pki.write_private, pki.key_pem(key)),
                (paths.csr, pki.write_public, pki.csr_pem(pki.csr_for(key, args.gateway_id))),
                *(((paths.ca, pki.write_public, ca_pem),) if ca_pem is not None else ()),
            ):
                if not path.exists():
                    created.append(path)
                writer(path, content)
            with contextlib.suppress(FileNotFoundError):
                paths.cert.unlink()  # a certificate for the old key is useless now
            if not config.exists():
                created.append(config)
            configfile.write(config, data)
    except OSError as e:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        where = Path(e.filename) if e.filename else config
        raise CannotWriteError(
            t("init.cannot_write", path=where, reason=e.strerror or e), hint=t("init.cannot_write_hint")
        ) from None

    result = {
        "gateway_id": args.gateway_id,
        "config": str(config),
        "state_dir": str(state_dir),
        "key": str(paths.key),
        "csr": str(paths.csr),
        "ca_file": str(paths.ca) if ca_pem is not None else None,
        "broker": args.broker,
    }

    def human(o: Output) -> None:
        o.line(t("init.done", id=args.gateway_id))
        rows = [
            (t("init.file_config"), config),
            (t("init.file_state"), state_dir),
            (t("init.file_key"), paths.key),
            (t("init.file_csr"), paths.csr),
        ]
        if ca_pem is not None:
            rows.append((t("init.file_ca"), paths.ca))
        o.table([t("init.heading_file"), t("init.heading_path")], rows)
        o.line(t("init.next", csr=paths.csr))

    out.result(result, human)
    return EXIT_OK
