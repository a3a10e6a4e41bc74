"""Ed25519 signature checks for county commands, through the OpenSSL the interpreter already loaded.

The gateway only ever *verifies* Ed25519 signatures (the county signs). The ``cryptography``
package would do it too, but its extension carries a statically linked OpenSSL of its own:
importing it adds about 7.5 MB to the daemon's resident memory for one check a day, on a box
with 512 MB and a 60 MB budget. Python's ``ssl`` and ``hashlib`` modules have already mapped the
system's ``libcrypto`` into the process, so :class:`VerifyKey` calls OpenSSL's
``EVP_DigestVerify`` there (OpenSSL >= 1.1.1), through ``ctypes``. Where that library cannot be
found or lacks the functions, it falls back to ``cryptography`` (imported only then).

Keys are the 32 raw bytes, from base64 or from a PEM ``PUBLIC KEY`` block (the DER of an
Ed25519 SubjectPublicKeyInfo is a fixed 12-byte header and the 32 key bytes).
"""

from __future__ import annotations

import base64
import ctypes
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
KEY_BYTES = 32
SIGNATURE_BYTES = 64
_NID_ED25519 = 1087  # EVP_PKEY_ED25519
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.S)

Verify = Callable[[bytes, bytes, bytes], bool]
"""``verify(public_key_32, signature_64, message) -> bool``."""


class BadSignature(ValueError):
    """The signature does not verify under this key."""


def public_key_bytes(text: str) -> bytes:
    """The 32 key bytes from base64 of the raw key or from PEM; ``ValueError`` if not Ed25519."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        m = _PEM.search(text)
        if m is None:
            raise ValueError("not a PEM public key block")
        der = base64.b64decode("".join(m.group(1).split()), validate=True)
        if len(der) != len(ED25519_SPKI_PREFIX) + KEY_BYTES or not der.startswith(ED25519_SPKI_PREFIX):
            raise ValueError("not an Ed25519 key")
        return der[len(ED25519_SPKI_PREFIX) :]
    raw = base64.b64decode(text, validate=True)
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes long, this one {len(raw)}")
    return raw


def _mapped_libcrypto() -> str | None:
    """The path of the libcrypto this process has mapped already (by ``_ssl``/``_hashlib``)."""
    import _hashlib  # noqa: F401 - maps libcrypto

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                path = line.rstrip("\n").rpartition(" ")[2]
                if "/libcrypto.so" in path:
                    return path
    except OSError:
        return None
    return None


def _openssl_verify(path: str) -> Verify | None:
    """OpenSSL's one-shot ``EVP_DigestVerify`` on an already loaded libcrypto, or ``None``."""
    try:
        lib = ctypes.CDLL(path)
        new_key = lib.EVP_PKEY_new_raw_public_key
        free_key = lib.EVP_PKEY_free
        new_ctx = lib.EVP_MD_CTX_new
        free_ctx = lib.EVP_MD_CTX_free
        init = lib.EVP_DigestVerifyInit
        verify = lib.EVP_DigestVerify
        clear_errors = lib.ERR_clear_error
    except (OSError, AttributeError):
        return None
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    new_key.restype, new_key.argtypes = vp, [ctypes.c_int, vp, ctypes.c_char_p, sz]
    free_key.restype, free_key.argtypes = None, [vp]
    new_ctx.restype, new_ctx.argtypes = vp, []
    free_ctx.restype, free_ctx.argtypes = None, [vp]
    init.restype, init.argtypes = ctypes.c_int, [vp, vp, vp, vp, vp]
    verify.restype, verify.argtypes = ctypes.c_int, [vp, ctypes.c_char_p, sz, ctypes.c_char_p, sz]
    clear_errors.restype, clear_errors.argtypes = None, []

    def check(key: bytes, signature: bytes, message: bytes) -> bool:
        if len(key) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
            return False
        pkey = new_key(_NID_ED25519, None, key, KEY_BYTES)
        if not pkey:
            clear_errors()
            return False
        ctx = new_ctx()
        try:
            if not ctx or init(ctx, None, None, None, pkey) != 1:
                return False
            return bool(verify(ctx, signature, SIGNATURE_BYTES, message, len(message)) == 1)
        finally:
            if ctx:
                free_ctx(ctx)
            free_key(pkey)
            clear_errors()  # a failed check leaves entries in this thread's OpenSSL error queue

    return check


def cryptography_verify(key: bytes, signature: bytes, message: bytes) -> bool:
    """The same check with the ``cryptography`` package (the fallback; imported on first use)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(key) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def openssl_verify() -> Verify | None:
    """The OpenSSL check when this process has a usable libcrypto mapped, else ``None``."""
    path = _mapped_libcrypto()
    return _openssl_verify(path) if path is not None else None


@functools.cache
def default_verify() -> Verify:
    return openssl_verify() or cryptography_verify


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """An Ed25519 public key that checks signatures (``verify`` raises :class:`BadSignature`)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEY_BYTES:
            raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes long, this one {len(self.raw)}")

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        """From base64 of the raw key or a PEM block; ``ValueError``/``binascii.Error`` if neither."""
        return cls(public_key_bytes(text))

    def verify(self, signature: bytes, message: bytes, *, using: Verify | None = None) -> None:
        if not (using or default_verify())(self.raw, signature, message):
            raise BadSignature("the signature does not verify under this key")

    def b64(self) -> str:
        return base64.b64encode(self.raw).decode()


__all__ = ["BadSignature", "VerifyKey", "cryptography_verify", "openssl_verify", "public_key_bytes"]
