"""The gateway's key pair, its certificate request and the checks on the county's certificate.

Files live in ``<state_dir>/tls/``: ``gateway.key`` (EC P-256, PEM, mode 0600),
``gateway.csr`` (CN = gateway id), ``county-ca.pem`` and, after ``hutgw enroll``,
``gateway.crt``. Pure functions on ``cryptography`` objects; the commands do the file I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.atomicfile import write_atomic
from provisioning.errors import BadInputError, NotFoundError
from provisioning.i18n import t

TLS_SUBDIR = "tls"


@dataclass(frozen=True, slots=True)
class TlsPaths:
    folder: Path
    key: Path
    csr: Path
    ca: Path
    cert: Path

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> TlsPaths:
        folder = Path(state_dir) / TLS_SUBDIR
        return cls(
            folder=folder,
            key=folder / "gateway.key",
            csr=folder / "gateway.csr",
            ca=folder / "county-ca.pem",
            cert=folder / "gateway.crt",
        )


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def csr_for(key: ec.EllipticCurvePrivateKey, gateway_id: str) -> x509.CertificateSigningRequest:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, gateway_id)])
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """Every PEM certificate in ``data``; raises ``ValueError`` when there is none."""
    return x509.load_pem_x509_certificates(data)


def read_cert_file(path: Path, message: str) -> tuple[bytes, list[x509.Certificate]]:
    """A PEM certificate file a technician named: its bytes and certificates. ``message`` is the
    i18n key prefix of the errors (``<message>_missing``, ``<message>_bad`` and their hints)."""
    if not path.is_file():
        raise NotFoundError(t(f"{message}_missing", path=path), hint=t(f"{message}_missing_hint"))
    try:
        data = path.read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read {path}: {e.strerror}", hint="check the file name") from None
    try:
        return data, read_certificates(data)
    except ValueError:
        raise BadInputError(t(f"{message}_bad", path=path), hint=t(f"{message}_bad_hint")) from None


def read_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC private key")
    return key


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def matches_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    """True when the certificate certifies this private key's public key."""
    return _spki(cert.public_key()) == _spki(key.public_key())


def chains_to(chain: Sequence[x509.Certificate], ca: x509.Certificate) -> bool:
    """True when ``chain[0]`` is signed by ``chain[1]`` ... and the last by ``ca`` (or is ``ca``).

    Each link is checked with the issuer's public key (signature) and names.
    """
    links = list(chain)
    if links and links[-1] == ca:
        links.pop()
    issuers = [*links[1:], ca]
    try:
        for cert, issuer in zip(links, issuers, strict=True):
            cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return bool(links)


def validity_problem(cert: x509.Certificate, now: datetime) -> tuple[str, datetime] | None:
    """``("not_yet_valid" | "expired", when)`` or None when ``now`` is inside the validity."""
    if now < cert.not_valid_before_utc:
        return "not_yet_valid", cert.not_valid_before_utc
    if now > cert.not_valid_after_utc:
        return "expired", cert.not_valid_after_utc
    return None


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file with mode 0600 whatever the umask (replacing an old one)."""
    write_atomic(path, data, 0o600)


def write_public(path: Path, data: bytes, mode: int = 0o644) -> None:
    write_atomic(path, data, mode)
