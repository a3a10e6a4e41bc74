"""SMS-SUBMIT encoding and SMS-DELIVER decoding in PDU mode (3GPP TS 23.040, TS 23.038, TS 27.005).

Pure: no I/O, no clock. ``encode_submit`` builds one PDU per part (with the leading ``00`` SMSC
octet: "use the SIM's SMSC"); ``decode_deliver`` reads what ``AT+CMGR``/``AT+CMGL`` return in PDU
mode and raises :class:`~drivers.modem.errors.PduError` on anything malformed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from drivers.modem import gsm7
from drivers.modem.errors import PduError

#: Single-part and per-part capacities: septets for GSM 7-bit, UTF-16 code units for UCS-2.
GSM7_SINGLE: Final = 160
GSM7_PART: Final = 153  # 6-octet concatenation header = 7 septets (48 bits + 1 fill bit)
UCS2_SINGLE: Final = 70
UCS2_PART: Final = 67  # (140 - 6) / 2
MAX_PARTS: Final = 255

DCS_GSM7: Final = 0x00
DCS_UCS2: Final = 0x08
VP_RELATIVE: Final = 0xAA  # 4 days

_DIGITS: Final = "0123456789*#abc"  # semi-octet values 0..14; 15 is the filler


@dataclass(frozen=True, slots=True)
class SubmitPdu:
    hex: str  # whole PDU incl. the leading "00" SMSC octet, uppercase hex
    tpdu_length: int  # octets WITHOUT the SMSC field (the AT+CMGS=<n> argument)


@dataclass(frozen=True, slots=True)
class DeliverPdu:
    sender: str  # "+8613..." for an international TOA, digits otherwise; alphanumeric senders decoded
    text: str
    timestamp: datetime | None  # SCTS with its time zone; None when the SCTS is not a valid time
    concat: tuple[int, int, int] | None  # (reference, total, sequence) from UDH IEI 0x00 or 0x08


# --------------------------------------------------------------------------------------- SUBMIT


def _address(number: str) -> bytes:
    """TP-DA: digit count, type of address, BCD semi-octets swapped with an F filler."""
    n = "".join(ch for ch in number if ch not in " -()")
    toa = 0x81
    if n.startswith("+"):
        toa, n = 0x91, n[1:]
    elif n.startswith("00") and len(n) > 2:
        toa, n = 0x91, n[2:]
    if not n or not n.isascii() or not n.isdigit() or len(n) > 20:
        raise PduError("malformed", f"not a phone number: {number!r}")
    padded = n + "F" if len(n) % 2 else n
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(n), toa]) + bytes.fromhex(swapped)


def _split_gsm7(text: str) -> list[list[int]]:
    septets = [gsm7.char_septets(ch) for ch in text]
    total = sum(len(s) for s in septets if s is not None)
    if total <= GSM7_SINGLE:
        return [[v for s in septets if s is not None for v in s]]
    parts: list[list[int]] = [[]]
    for s in septets:
        assert s is not None
        if len(parts[-1]) + len(s) > GSM7_PART:  # an escape pair never straddles two parts
            parts.append([])
        parts[-1].extend(s)
    return parts


def _split_ucs2(text: str) -> list[bytes]:
    try:
        units = text.encode("utf-16-be")
    except UnicodeEncodeError:
        raise PduError("malformed", "text holds a lone surrogate") from None
    if len(units) <= 2 * UCS2_SINGLE:
        return [units]
    parts: list[bytes] = []
    i = 0
    while i < len(units):
        end = min(i + 2 * UCS2_PART, len(units))
        if end < len(units) and 0xD8 <= units[end - 2] <= 0xDB:  # a high surrogate: keep the pair whole
            end -= 2
        parts.append(units[i:end])
        i = end
    return parts


def _split(text: str) -> tuple[int, list[list[int]] | list[bytes]]:
    if gsm7.is_gsm7(text):
        return DCS_GSM7, _split_gsm7(text)
    return DCS_UCS2, _split_ucs2(text)


def parts_needed(text: str) -> int:
    """How many SMS parts ``text`` takes (1 for an empty text)."""
    return len(_split(text)[1])


def encode_submit(number: str, text: str, *, reference: int) -> list[SubmitPdu]:
    """SMS-SUBMIT PDUs for ``text`` to ``number``: GSM 7-bit when every character is in the GSM
    alphabet (escape table included), else UCS-2; more than one part carries a concatenation
    header (IEI 0x00, 8-bit ``reference & 0xFF``). Raises PduError on a bad number or a text
    that needs more than 255 parts."""
    da = _address(number)
    dcs, chunks = _split(text)
    total = len(chunks)
    if total > MAX_PARTS:
        raise PduError("out_of_range", f"text needs {total} parts, at most {MAX_PARTS}")
    out: list[SubmitPdu] = []
    for seq, chunk in enumerate(chunks, start=1):
        first = 0x11  # TP-MTI SMS-SUBMIT, TP-VPF relative
        udh = b""
        if total > 1:
            first |= 0x40  # TP-UDHI
            udh = bytes([5, 0x00, 3, reference & 0xFF, total, seq])
        if dcs == DCS_GSM7:
            assert isinstance(chunk, list)
            fill = (7 - (len(udh) * 8) % 7) % 7
            ud = udh + gsm7.pack(chunk, fill)
            udl = (len(udh) * 8 + fill) // 7 + len(chunk)
        else:
            assert isinstance(chunk, bytes)
            ud = udh + chunk
            udl = len(ud)
        tpdu = bytes([first, 0x00]) + da + bytes([0x00, dcs, VP_RELATIVE, udl]) + ud
        out.append(SubmitPdu(hex=("00" + tpdu.hex()).upper(), tpdu_length=len(tpdu)))
    return out


# -------------------------------------------------------------------------------------- DELIVER


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise PduError("truncated", f"{what}: needs {n} octets at {self.pos}, PDU has {len(self.data)}")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]


def _semi_octets(data: bytes, digits: int) -> str:
    out: list[str] = []
    for b in data:
        for nib in (b & 0x0F, b >> 4):
            if len(out) < digits and nib != 0x0F:
                out.append(_DIGITS[nib])
    return "".join(out)


def _originator(r: _Reader) -> str:
    digits = r.octet("TP-OA length")
    toa = r.octet("TP-OA type")
    raw = r.take((digits + 1) // 2, "TP-OA")
    if (toa & 0x70) == 0x50:  # alphanumeric, GSM 7-bit packed
        return gsm7.decode_septets(gsm7.unpack(raw, digits * 4 // 7))
    number = _semi_octets(raw, digits)
    return "+" + number if (toa & 0x70) == 0x10 else number


def _bcd(b: int) -> int:
    return (b & 0x0F) * 10 + (b >> 4)


def _timestamp(raw: bytes) -> datetime | None:
    if any((b & 0x0F) > 9 or (b >> 4) > 9 for b in raw[:6]):
        return None
    yy, mo, dd, hh, mi, ss = (_bcd(b) for b in raw[:6])
    tz = raw[6]
    quarters = (tz & 0x07) * 10 + (tz >> 4)
    if (tz >> 4) > 9 or quarters > 79:
        return None
    offset = timedelta(minutes=15 * quarters) * (-1 if tz & 0x08 else 1)
    try:
        return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=timezone(offset))
    except ValueError:
        return None


def _alphabet(dcs: int) -> str:
    """ "7", "8" or "16" (UCS-2) from the data coding scheme (TS 23.038 §4)."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding / automatic deletion
        if dcs & 0x20:
            raise PduError("unsupported", f"compressed user data (DCS 0x{dcs:02X})")
        return {0: "7", 1: "8", 2: "16", 3: "7"}[(dcs >> 2) & 0x03]
    if group in (0xC, 0xD):
        return "7"
    if group == 0xE:
        return "16"
    if group == 0xF:
        return "8" if dcs & 0x04 else "7"
    return "7"  # reserved groups 0x8..0xB: the default alphabet


def _concat(udh: bytes) -> tuple[int, int, int] | None:
    found: tuple[int, int, int] | None = None
    i = 0
    while i < len(udh):
        if i + 2 > len(udh):
            raise PduError("malformed", "user data header element truncated")
        iei, length = udh[i], udh[i + 1]
        body = udh[i + 2 : i + 2 + length]
        if len(body) != length:
            raise PduError("malformed", f"user data header element 0x{iei:02X} overruns the header")
        if iei == 0x00 and length == 3:
            ref, total, seq = body
            found = (ref, total, seq)
        elif iei == 0x08 and length == 4:
            found = (int.from_bytes(body[:2], "big"), body[2], body[3])
        i += 2 + length
    if found is not None and not (found[1] >= 1 and 1 <= found[2] <= found[1]):
        return None  # TS 23.040: an invalid concatenation element is ignored
    return found


def decode_deliver(pdu_hex: str) -> DeliverPdu:
    """Decode an SMS-DELIVER PDU with its SMSC prefix (as AT+CMGR / AT+CMGL give it)."""
    try:
        data = bytes.fromhex(pdu_hex.strip())
    except ValueError:
        raise PduError("malformed", "not hexadecimal") from None
    r = _Reader(data)
    smsc_len = r.octet("SMSC length")
    r.take(smsc_len, "SMSC address")
    first = r.octet("first octet")
    if first & 0x03 != 0x00:
        raise PduError("unsupported", f"not an SMS-DELIVER (TP-MTI {first & 0x03})")
    sender = _originator(r)
    r.octet("TP-PID")
    dcs = r.octet("TP-DCS")
    timestamp = _timestamp(r.take(7, "TP-SCTS"))
    udl = r.octet("TP-UDL")
    alphabet = _alphabet(dcs)
    ud_octets = (udl * 7 + 7) // 8 if alphabet == "7" else udl
    if udl > (160 if alphabet == "7" else 140):
        raise PduError("out_of_range", f"TP-UDL {udl} is beyond the maximum")
    ud = r.take(ud_octets, "TP-UD")
    concat: tuple[int, int, int] | None = None
    header_octets = 0
    if first & 0x40:
        if not ud:
            raise PduError("malformed", "TP-UDHI set but no user data")
        header_octets = ud[0] + 1
        if header_octets > len(ud):
            raise PduError("malformed", "user data header longer than the user data")
        concat = _concat(ud[1:header_octets])
    if alphabet == "7":
        header_septets = (header_octets * 8 + 6) // 7
        if header_septets > udl:
            raise PduError("malformed", "user data header longer than TP-UDL")
        text = gsm7.decode_septets(gsm7.unpack(ud, udl)[header_septets:])
    elif alphabet == "16":
        text = ud[header_octets:].decode("utf-16-be", errors="replace")
    else:
        text = ud[header_octets:].decode("latin-1")
    return DeliverPdu(sender=sender, text=text, timestamp=timestamp, concat=concat)
