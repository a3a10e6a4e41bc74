"""Ed25519 checks through the process's own libcrypto agree with ``cryptography`` on every input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from uplink.ed25519 import BadSignature, VerifyKey, cryptography_verify, openssl_verify, public_key_bytes

OPENSSL = openssl_verify()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_this_interpreter_has_a_usable_libcrypto() -> None:
    assert OPENSSL is not None


@settings(max_examples=150, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=600), flip=st.integers(0, 511))
def test_both_backends_accept_good_and_refuse_altered_signatures(
    seed: bytes, message: bytes, flip: int
) -> None:
    assert OPENSSL is not None
    key = Ed25519PrivateKey.from_private_bytes(seed)
    pub, sig = raw_public(key), key.sign(message)
    bad_sig = bytearray(sig)
    bad_sig[flip // 8] ^= 1 << (flip % 8)
    other_message = message + b"\x00"
    for check in (OPENSSL, cryptography_verify):
        assert check(pub, sig, message) is True
        assert check(pub, bytes(bad_sig), message) is False
        assert check(pub, sig, other_message) is False
        assert check(pub, sig[:63], message) is False
        assert check(pub[:31], sig, message) is False


@settings(max_examples=150, deadline=None)
@given(
    pub=st.binary(min_size=32, max_size=32),
    sig=st.binary(min_size=64, max_size=64),
    msg=st.binary(max_size=64),
)
def test_random_keys_and_signatures_get_the_same_verdict_from_both(
    pub: bytes, sig: bytes, msg: bytes
) -> None:
    # Random bytes almost never verify; degenerate keys (small-order points such as all zeros)
    # can, for some messages, in OpenSSL's check: both backends are the same OpenSSL code, so
    # what matters is that they agree (and that nothing crashes).
    assert OPENSSL is not None
    assert OPENSSL(pub, sig, msg) is cryptography_verify(pub, sig, msg)


def test_verify_key_from_base64_and_pem() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    from_pem = VerifyKey.from_text(pem.decode())
    from_b64 = VerifyKey.from_text(from_pem.b64())
    assert from_pem == from_b64 and from_pem.raw == raw_public(key)
    from_pem.verify(key.sign(b"hello"), b"hello")
    with pytest.raises(BadSignature):
        from_pem.verify(key.sign(b"hello"), b"hellO")
    with pytest.raises(BadSignature):
        from_pem.verify(key.sign(b"hello"), b"hellO", using=cryptography_verify)


def test_keys_that_are_not_ed25519_are_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        public_key_bytes(ec_pem.decode())
    with pytest.raises(ValueError, match="32 bytes"):
        public_key_bytes("AAAA")
    with pytest.raises(ValueError):
        public_key_bytes("not base64 at all!")
    with pytest.raises(ValueError):
        public_key_bytes("-----BEGIN PUBLIC KEY-----\nAAAA")


def test_the_daemon_does_not_load_cryptography() -> None:
    code = "import sys, gateway.daemon, uplink.client; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
