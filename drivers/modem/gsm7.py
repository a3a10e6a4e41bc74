"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), septet packing.

Pure functions, no I/O. ``encode_septets`` maps text to septet values (an extension character is
two septets: ESC 0x1B then its code); ``pack``/``unpack`` put septets into octets LSB first with
optional fill bits (used after a user data header, TS 23.040 §9.2.3.24).
"""

from __future__ import annotations

from typing import Final

ESC: Final = 0x1B

#: Position n is the character of septet n; the ESC position (0x1B) is never produced by text.
DEFAULT: Final[str] = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(DEFAULT) == 128

#: The extension table: code after ESC -> character.
EXTENSION: Final[dict[int, str]] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_TO_DEFAULT: Final[dict[str, int]] = {c: i for i, c in enumerate(DEFAULT) if i != ESC}
_TO_EXTENSION: Final[dict[str, int]] = {c: code for code, c in EXTENSION.items()}


def char_septets(ch: str) -> tuple[int, ...] | None:
    """The septets of one character, or None when it is not in the GSM alphabet."""
    code = _TO_DEFAULT.get(ch)
    if code is not None:
        return (code,)
    ext = _TO_EXTENSION.get(ch)
    if ext is not None:
        return (ESC, ext)
    return None


def is_gsm7(text: str) -> bool:
    return all(ch in _TO_DEFAULT or ch in _TO_EXTENSION for ch in text)


def encode_septets(text: str) -> list[int]:
    """Septets of ``text``; raises KeyError on a character outside the alphabet (check first)."""
    out: list[int] = []
    for ch in text:
        s = char_septets(ch)
        if s is None:
            raise KeyError(ch)
        out.extend(s)
    return out


def decode_septets(septets: list[int]) -> str:
    """Text of septet values. An unknown extension code shows as its default-table character
    (TS 23.038: "the default character should be displayed"); a trailing ESC is dropped."""
    out: list[str] = []
    escaped = False
    for s in septets:
        if escaped:
            escaped = False
            out.append(EXTENSION.get(s, DEFAULT[s] if s != ESC else " "))
        elif s == ESC:
            escaped = True
        else:
            out.append(DEFAULT[s])
    return "".join(out)


def pack(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first, after ``fill_bits`` zero bits."""
    acc = 0
    for i, s in enumerate(septets):
        acc |= (s & 0x7F) << (fill_bits + 7 * i)
    nbits = fill_bits + 7 * len(septets)
    return acc.to_bytes((nbits + 7) // 8, "little")


def unpack(data: bytes, count: int, skip_bits: int = 0) -> list[int]:
    """``count`` septets starting ``skip_bits`` into ``data`` (the caller checks there are enough bits)."""
    acc = int.from_bytes(data, "little") >> skip_bits
    return [(acc >> (7 * i)) & 0x7F for i in range(count)]
