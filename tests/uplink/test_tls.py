"""Mutual TLS against a real Mosquitto with certificates issued by a test CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from buffer.outbox import Outbox
from county.receiver import BrokerOptions, Receiver
from county.sqlite import SqliteStore as ReceiverStore
from tests.support.broker import running_broker
from uplink.client import Uplink
from uplink.settings import TlsSettings

from .conftest import settings, wait_until
from .helpers import reading_record

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], cn: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def write_pair(
    d: Path, name: str, pair: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]
) -> tuple[Path, Path]:
    key, cert = pair
    cert_path, key_path = d / f"{name}.crt", d / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o644)  # the test broker runs as the mosquitto user
    return cert_path, key_path


@pytest.fixture
def pki(open_dir: Path) -> dict[str, Path]:
    county = make_ca("county test CA")
    rogue = make_ca("rogue CA")
    files: dict[str, Path] = {}
    files["ca"], _ = write_pair(open_dir, "ca", county)
    files["server_crt"], files["server_key"] = write_pair(
        open_dir, "server", issue(county, "localhost", server=True)
    )
    files["gw_crt"], files["gw_key"] = write_pair(open_dir, "gw", issue(county, "hut-7", server=False))
    files["rx_crt"], files["rx_key"] = write_pair(open_dir, "rx", issue(county, "receiver", server=False))
    files["bad_crt"], files["bad_key"] = write_pair(open_dir, "bad", issue(rogue, "hut-7", server=False))
    return files


def tls_broker(open_dir: Path, pki: dict[str, Path]):  # type: ignore[no-untyped-def]
    return running_broker(
        open_dir / "mq",
        tls={"cafile": str(pki["ca"]), "certfile": str(pki["server_crt"]), "keyfile": str(pki["server_key"])},
    )


async def test_mutual_tls_with_the_county_ca(open_dir: Path, pki: dict[str, Path], tmp_path: Path) -> None:
    records = [reading_record(i) for i in range(20)]
    with tls_broker(open_dir, pki) as broker:
        assert broker.url.startswith("mqtts://")
        async with ReceiverStore(tmp_path / "county.db") as store:
            import asyncio
            import contextlib

            receiver = Receiver(
                store,
                BrokerOptions(
                    url=broker.url, ca_file=pki["ca"], cert_file=pki["rx_crt"], key_file=pki["rx_key"]
                ),
            )
            task = asyncio.create_task(receiver.run())
            await asyncio.wait_for(receiver.connected.wait(), 10)
            async with Outbox(tmp_path / "outbox.db") as outbox:
                await outbox.put_many(records)
                tls = TlsSettings(ca_file=pki["ca"], cert_file=pki["gw_crt"], key_file=pki["gw_key"])
                async with Uplink(settings(broker.url, tmp_path, tls=tls), outbox, gateway_id="hut-7") as up:
                    await wait_until(lambda: up.state.acked == 20, what="drained over mutual TLS")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert await store.reading_ids() == {r.id for r in records}


async def test_certificate_from_another_ca_is_refused_with_a_clear_log_line(
    open_dir: Path, pki: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hutgw.uplink")
    with tls_broker(open_dir, pki) as broker:
        async with Outbox(tmp_path / "outbox.db") as outbox:
            tls = TlsSettings(ca_file=pki["ca"], cert_file=pki["bad_crt"], key_file=pki["bad_key"])
            cfg = settings(broker.url, tmp_path, tls=tls, auth_failure_backoff_s=60.0)
            async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
                await wait_until(lambda: up.state.auth_failed, what="the broker refusing our certificate")
                assert not up.state.connected
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client certificate" in line and "cert_file/key_file" in line for line in lines), lines


async def test_broker_not_signed_by_the_pinned_ca_is_refused(
    open_dir: Path, pki: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hutgw.uplink")
    other_ca, _ = write_pair(open_dir, "other-ca", make_ca("some other CA"))
    with tls_broker(open_dir, pki) as broker:
        async with Outbox(tmp_path / "outbox.db") as outbox:
            tls = TlsSettings(ca_file=other_ca, cert_file=pki["gw_crt"], key_file=pki["gw_key"])
            cfg = settings(broker.url, tmp_path, tls=tls, auth_failure_backoff_s=60.0)
            async with Uplink(cfg, outbox, gateway_id="hut-7") as up:
                await wait_until(lambda: up.state.auth_failed, what="our refusing the broker")
    assert any("broker's certificate is not trusted" in r.getMessage() for r in caplog.records)
