"""The 4G modem simulator now lives in :mod:`devtools.modemsim` (``hutgw demo`` uses it too);
this re-export keeps ``from tests.support.modemsim import ...`` working."""

from devtools.modemsim import (
    GSM_BASIC,
    GSM_EXT,
    DeliverPart,
    ModemSim,
    SentSms,
    StoredSms,
    SubmitDecoded,
    decode_submit,
    encode_deliver,
    gsm_septets,
    gsm_text,
    main,
    octets_to_septets,
    septets_to_octets,
)

__all__ = [
    "GSM_BASIC",
    "GSM_EXT",
    "DeliverPart",
    "ModemSim",
    "SentSms",
    "StoredSms",
    "SubmitDecoded",
    "decode_submit",
    "encode_deliver",
    "gsm_septets",
    "gsm_text",
    "main",
    "octets_to_septets",
    "septets_to_octets",
]
