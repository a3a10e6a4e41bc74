"""``hutgw enroll --cert FILE``: install the certificate the county signed for this gateway.

The certificate must certify this gateway's key (public key equality), be signed by the
county CA (signature checked with the CA's public key, through any intermediates in the
file) and be valid now. Then it is copied to ``<state_dir>/tls/gateway.crt`` and the config's
``[uplink.tls]`` names the CA, the certificate and the key. Nothing changes when a check fails.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from gateway.config import load
from provisioning import configfile
from provisioning.errors import EXIT_OK, BadInputError, NotFoundError
from provisioning.i18n import t
from provisioning.output import Output


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "enroll", parents=[common], help="install the certificate the county signed for this gateway"
    )
    p.add_argument("--cert", type=Path, required=True, metavar="FILE", help="the signed certificate (PEM)")
    p.add_argument(
        "--county-ca", type=Path, metavar="FILE", help="the county CA (default: [uplink.tls] ca_file)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provisioning import pki  # cryptography only when asked

    out = Output.of(args)
    config_path = configfile.config_path(args.config)
    raw = configfile.read_raw(config_path)  # ConfigError (exit 2) when missing: run `hutgw init`
    cfg = load(config_path, overrides={"state_dir": str(args.state_dir) if args.state_dir else None})
    paths = pki.TlsPaths.in_state_dir(Path(cfg.state_dir))

    cert_pem, chain = pki.read_cert_file(args.cert, "enroll.cert")
    leaf = chain[0]
    key_path = cfg.uplink.tls.key_file or paths.key
    if not Path(key_path).is_file():
        raise NotFoundError(t("enroll.key_missing", path=key_path), hint=t("enroll.key_missing_hint"))
    try:
        key = pki.read_private_key(Path(key_path).read_bytes())
    except (OSError, ValueError):  # unreadable, or not an EC key in PEM
        raise BadInputError(t("enroll.key_bad", path=key_path), hint=t("enroll.key_bad_hint")) from None
    if not pki.matches_key(leaf, key):
        raise BadInputError(
            t("enroll.key_mismatch", path=args.cert), hint=t("enroll.key_mismatch_hint", csr=paths.csr)
        )

    ca_path = args.county_ca or cfg.uplink.tls.ca_file
    if ca_path is None:
        raise NotFoundError(t("enroll.no_ca"), hint=t("enroll.no_ca_hint"))
    ca_pem, ca_certs = pki.read_cert_file(Path(ca_path), "init.ca")
    ca = ca_certs[0]
    if not pki.chains_to(chain, ca):
        raise BadInputError(
            t("enroll.not_signed", path=args.cert, ca=ca_path), hint=t("enroll.not_signed_hint")
        )
    now = datetime.now(UTC)
    for cert, path in ((leaf, args.cert), (ca, ca_path)):
        problem = pki.validity_problem(cert, now)
        if problem is not None:
            kind, when = problem
            raise BadInputError(
                t(f"enroll.{kind}", path=path, when=when.isoformat()), hint=t("enroll.validity_hint")
            )

    # every check passed: install
    paths.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    pki.write_public(paths.cert, cert_pem)
    installed_ca = Path(ca_path)
    if args.county_ca is not None:
        pki.write_public(paths.ca, ca_pem)
        installed_ca = paths.ca
    uplink = raw.setdefault("uplink", {})
    tls = uplink.setdefault("tls", {})
    tls.update({"ca_file": str(installed_ca), "cert_file": str(paths.cert), "key_file": str(key_path)})
    configfile.write(config_path, raw)

    subject = pki.common_name(leaf) or leaf.subject.rfc4514_string()
    result = {
        "subject": subject,
        "issuer": ca.subject.rfc4514_string(),
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "cert_file": str(paths.cert),
        "key_file": str(key_path),
        "ca_file": str(installed_ca),
        "config": str(config_path),
    }
    if subject != cfg.gateway_id:
        out.warn(t("enroll.cn_differs", cn=subject, id=cfg.gateway_id))

    def human(o: Output) -> None:
        o.line(t("enroll.done", subject=subject, until=leaf.not_valid_after_utc.date().isoformat()))
        o.line(t("enroll.restart"))

    out.result(result, human)
    return EXIT_OK
