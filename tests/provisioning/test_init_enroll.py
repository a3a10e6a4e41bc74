"""``hutgw init`` and ``hutgw enroll`` with a real (test) county CA made with ``cryptography``."""

from __future__ import annotations

import json
import stat
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.config import load
from provisioning.cli import main
from provisioning.errors import EXIT_CONFIG, EXIT_CONFLICT, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_OK


class CountyCA:
    def __init__(self, name: str = "County Health CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, csr_pem: bytes, *, days: int = 365, start: datetime | None = None) -> bytes:
        csr = x509.load_pem_x509_csr(csr_pem)
        start = start or datetime.now(UTC) - timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def ca() -> CountyCA:
    return CountyCA()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def do_init(capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA, *extra: str) -> dict[str, str]:
    ca_file = tmp_path / "county-ca.pem"
    ca_file.write_bytes(ca.pem())
    code, out, err = cli(
        capsys,
        "init",
        "--config",
        str(tmp_path / "etc" / "hutgw.toml"),
        "--state-dir",
        str(tmp_path / "state"),
        "--gateway-id",
        "hut-0412",
        "--county-ca",
        str(ca_file),
        "--broker",
        "mqtts://county.example.cn:8883",
        "--json",
        *extra,
    )
    assert code == EXIT_OK, err
    result: dict[str, str] = json.loads(out)
    return result


def test_init_writes_config_key_and_csr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    result = do_init(capsys, tmp_path, ca)
    config = tmp_path / "etc" / "hutgw.toml"
    state = tmp_path / "state"
    assert result["config"] == str(config) and result["state_dir"] == str(state)
    cfg = load(config)
    assert cfg.gateway_id == "hut-0412"
    assert cfg.state_dir == state
    assert cfg.uplink.broker == "mqtts://county.example.cn:8883"
    assert cfg.uplink.tls.ca_file == state / "tls" / "county-ca.pem"
    assert (state / "tls" / "county-ca.pem").read_bytes() == ca.pem()
    key_path = Path(result["key"])
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "tls").stat().st_mode) == 0o700
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    csr = x509.load_pem_x509_csr(Path(result["csr"]).read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "hut-0412"
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()


def test_init_refuses_to_overwrite_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    do_init(capsys, tmp_path, ca)
    before = snapshot(tmp_path)
    code, _, err = cli(
        capsys,
        "init",
        "--config",
        str(tmp_path / "etc" / "hutgw.toml"),
        "--state-dir",
        str(tmp_path / "state"),
        "--gateway-id",
        "hut-9999",
    )
    assert code == EXIT_CONFLICT
    assert err.startswith("error: ") and "already exists" in err and "--force" in err
    assert snapshot(tmp_path) == before
    # with --force: a new key, and the config is rewritten
    old_key = (tmp_path / "state" / "tls" / "gateway.key").read_bytes()
    do_init(capsys, tmp_path, ca, "--force")
    assert (tmp_path / "state" / "tls" / "gateway.key").read_bytes() != old_key


def test_init_refuses_when_only_the_key_exists(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = tmp_path / "state" / "tls" / "gateway.key"
    key.parent.mkdir(parents=True)
    key.write_bytes(b"old key")
    code, _, err = cli(
        capsys,
        "init",
        "--config",
        str(tmp_path / "hutgw.toml"),
        "--state-dir",
        str(tmp_path / "state"),
        "--gateway-id",
        "hut-1",
    )
    assert code == EXIT_CONFLICT and str(key) in err
    assert not (tmp_path / "hutgw.toml").exists() and key.read_bytes() == b"old key"


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--gateway-id", "hut 04/12"], EXIT_INPUT, "gateway id"),
        (["--gateway-id", "hut-1", "--broker", "http://county:8883"], EXIT_INPUT, "mqtt://"),
        (["--gateway-id", "hut-1", "--county-ca", "/nonexistent/ca.pem"], EXIT_NOT_FOUND, "does not exist"),
        (["--gateway-id", "hut-1", "--county-ca", "NOT_PEM"], EXIT_INPUT, "not a PEM certificate"),
    ],
)
def test_init_bad_input_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], code: int, words: str
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    argv = [str(bad) if a == "NOT_PEM" else a for a in extra]
    got, _, err = cli(
        capsys, "init", "--config", str(tmp_path / "c.toml"), "--state-dir", str(tmp_path / "s"), *argv
    )
    assert got == code
    assert words in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pem"]


def test_init_unwritable_folder_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should go")
    code, _, err = cli(
        capsys,
        "init",
        "--config",
        str(tmp_path / "c.toml"),
        "--state-dir",
        str(blocker / "state"),
        "--gateway-id",
        "hut-1",
    )
    assert code == 1 and "cannot write" in err and "--state-dir" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


# ------------------------------------------------------------------------------------ enroll


def enroll(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cert: Path, *extra: str
) -> tuple[int, str, str]:
    return cli(
        capsys, "enroll", "--config", str(tmp_path / "etc" / "hutgw.toml"), "--cert", str(cert), *extra
    )


def test_enroll_installs_a_matching_certificate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    result = do_init(capsys, tmp_path, ca)
    signed = tmp_path / "signed.pem"
    signed.write_bytes(ca.sign(Path(result["csr"]).read_bytes()))
    code, out, err = enroll(capsys, tmp_path, signed, "--json")
    assert code == EXIT_OK, err
    info = json.loads(out)
    assert info["subject"] == "hut-0412"
    cfg = load(tmp_path / "etc" / "hutgw.toml")
    state = tmp_path / "state"
    assert cfg.uplink.tls.cert_file == state / "tls" / "gateway.crt"
    assert cfg.uplink.tls.key_file == state / "tls" / "gateway.key"
    assert cfg.uplink.tls.ca_file == state / "tls" / "county-ca.pem"
    assert (state / "tls" / "gateway.crt").read_bytes() == signed.read_bytes()
    # the rest of the file is kept
    raw = tomllib.loads((tmp_path / "etc" / "hutgw.toml").read_text())
    assert raw["gateway_id"] == "hut-0412" and raw["uplink"]["broker"] == "mqtts://county.example.cn:8883"
    # and the uplink can build its TLS context from it
    from uplink.settings import UplinkSettings
    from uplink.tls import client_context

    client_context(UplinkSettings.from_mapping(cfg.uplink.model_dump(), state_dir=state).tls)


def test_enroll_refuses_a_certificate_for_another_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    do_init(capsys, tmp_path, ca)
    other = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hut-0412")]))
        .sign(other, hashes.SHA256())
    )
    signed = tmp_path / "signed.pem"
    signed.write_bytes(ca.sign(csr.public_bytes(serialization.Encoding.PEM)))
    before = snapshot(tmp_path / "etc"), snapshot(tmp_path / "state")
    code, _, err = enroll(capsys, tmp_path, signed)
    assert code == EXIT_INPUT
    assert "not issued for this gateway's key" in err and "gateway.csr" in err
    assert (snapshot(tmp_path / "etc"), snapshot(tmp_path / "state")) == before


def test_enroll_refuses_a_certificate_from_another_ca(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    result = do_init(capsys, tmp_path, ca)
    # same subject name as the county CA, different key: only the signature check can tell
    impostor = CountyCA(name="County Health CA")
    signed = tmp_path / "signed.pem"
    signed.write_bytes(impostor.sign(Path(result["csr"]).read_bytes()))
    before = snapshot(tmp_path / "state")
    code, _, err = enroll(capsys, tmp_path, signed)
    assert code == EXIT_INPUT and "not signed by the county CA" in err
    assert snapshot(tmp_path / "state") == before


def test_enroll_refuses_an_expired_or_future_certificate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    result = do_init(capsys, tmp_path, ca)
    csr = Path(result["csr"]).read_bytes()
    old = tmp_path / "old.pem"
    old.write_bytes(ca.sign(csr, days=10, start=datetime.now(UTC) - timedelta(days=30)))
    code, _, err = enroll(capsys, tmp_path, old)
    assert code == EXIT_INPUT and "expired" in err and "date" in err
    future = tmp_path / "future.pem"
    future.write_bytes(ca.sign(csr, start=datetime.now(UTC) + timedelta(days=2)))
    code, _, err = enroll(capsys, tmp_path, future)
    assert code == EXIT_INPUT and "not valid before" in err
    assert not (tmp_path / "state" / "tls" / "gateway.crt").exists()


def test_enroll_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA) -> None:
    code, _, err = enroll(capsys, tmp_path, tmp_path / "x.pem")
    assert code == EXIT_CONFIG and "hutgw init" in err  # no config yet
    result = do_init(capsys, tmp_path, ca)
    code, _, err = enroll(capsys, tmp_path, tmp_path / "missing.pem")
    assert code == EXIT_NOT_FOUND and "missing.pem" in err
    code, _, err = enroll(capsys, tmp_path, Path(result["csr"]))  # the request, not the certificate
    assert code == EXIT_INPUT and "not a PEM certificate" in err and ".csr" in err


def test_enroll_in_chinese(capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA) -> None:
    do_init(capsys, tmp_path, ca)
    code, _, err = enroll(capsys, tmp_path, tmp_path / "missing.pem", "--lang", "zh")
    assert code == EXIT_NOT_FOUND
    assert err.startswith("错误：证书文件") and "（" in err


def test_enroll_through_an_intermediate_ca(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ca: CountyCA
) -> None:
    result = do_init(capsys, tmp_path, ca)
    issuing = CountyCA(name="County Issuing CA 2")
    now = datetime.now(UTC)
    issuing.cert = (  # the issuing CA's certificate, signed by the county root
        x509.CertificateBuilder()
        .subject_name(issuing.name)
        .issuer_name(ca.name)
        .public_key(issuing.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    leaf = issuing.sign(Path(result["csr"]).read_bytes())
    alone = tmp_path / "leaf.pem"
    alone.write_bytes(leaf)
    code, _, err = enroll(capsys, tmp_path, alone)
    assert code == EXIT_INPUT and "not signed by the county CA" in err  # the link is missing
    chained = tmp_path / "chain.pem"
    chained.write_bytes(leaf + issuing.pem())
    code, _, err = enroll(capsys, tmp_path, chained)
    assert code == EXIT_OK, err
    assert (tmp_path / "state" / "tls" / "gateway.crt").read_bytes() == chained.read_bytes()
