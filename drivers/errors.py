"""Errors of the drivers layer."""

from __future__ import annotations

from typing import Final, Literal

from hutgw_errors import HutError

#: Error categories of the protocol brief, section 0.
Category = Literal[
    "truncated",
    "bad_length",
    "malformed",
    "bad_checksum",
    "missing_checksum",
    "reserved_value",
    "invalid_operator",
    "out_of_range",
    "unsupported",
]
CATEGORIES: Final[frozenset[str]] = frozenset(Category.__args__)  # type: ignore[attr-defined]


class DriverError(HutError):
    """Family root for device drivers and transports."""


class DecodeError(DriverError):
    """A frame could not be decoded.

    ``category`` is one of :data:`CATEGORIES`; ``field`` names the field at fault when known.
    """

    def __init__(self, category: Category, detail: str, *, field: str | None = None) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"unknown decode error category {category!r}")
        where = f"{field}: " if field else ""
        super().__init__(f"{category}: {where}{detail}", hint="the raw bytes are kept for inspection")
        self.category: Category = category
        self.detail = detail
        self.field = field


class TransportError(DriverError):
    """A transport (serial port, BLE adapter, TCP listener) failed."""
