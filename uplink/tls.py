"""TLS for ``mqtts://``: the county CA pinned, a per-gateway client certificate (mutual TLS)."""

from __future__ import annotations

import ssl

from uplink.errors import UplinkError
from uplink.settings import TlsSettings


def client_context(tls: TlsSettings) -> ssl.SSLContext:
    """An SSL context that trusts only ``ca_file`` (when set) and presents our certificate.

    Without ``ca_file`` the system trust store is used. Raises :class:`UplinkError` naming the
    file when a certificate or key cannot be loaded.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.ca_file is not None:
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        except (OSError, ssl.SSLError) as e:
            raise UplinkError(
                f"cannot load the county CA {tls.ca_file}: {e}",
                hint="[uplink.tls] ca_file must be a PEM certificate readable by the gateway",
            ) from None
    if tls.cert_file is not None or tls.key_file is not None:
        if tls.cert_file is None:
            raise UplinkError("[uplink.tls] key_file is set but cert_file is not", hint="set both")
        try:
            ctx.load_cert_chain(str(tls.cert_file), None if tls.key_file is None else str(tls.key_file))
        except (OSError, ssl.SSLError) as e:
            raise UplinkError(
                f"cannot load the gateway certificate {tls.cert_file} / key {tls.key_file}: {e}",
                hint="cert_file and key_file must be the PEM pair issued to this gateway",
            ) from None
    if tls.insecure_skip_hostname_check:
        ctx.check_hostname = False
    return ctx


def describe_tls_failure(exc: BaseException) -> str | None:
    """A technician-readable cause when ``exc`` (or what it wraps) is a TLS failure, else None."""
    text = str(exc)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (
                f"the broker's certificate is not trusted ({seen.verify_message}): "
                "check [uplink.tls] ca_file is the county CA and the broker host name matches"
            )
        if isinstance(seen, ssl.SSLError):
            text = str(seen)
            break
        seen = seen.__cause__ or seen.__context__
    lowered = text.lower()
    if "certificate verify failed" in lowered:
        return (
            f"the broker's certificate is not trusted ({text}): "
            "check [uplink.tls] ca_file is the county CA and the broker host name matches"
        )
    markers = ("certificate", "unknown ca", "alert", "handshake", "ssl")
    if any(m in lowered for m in markers):
        return (
            f"TLS failed ({text}): the broker refused our client certificate or the handshake; "
            "check [uplink.tls] cert_file/key_file were issued by the county CA"
        )
    return None
