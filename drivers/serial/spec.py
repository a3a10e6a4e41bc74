"""A serial line format declared as data (what a ``formats/*.toml`` file becomes).

These are plain frozen dataclasses; :mod:`drivers.serial.formatfile` builds them from TOML
(validating every field) and :mod:`drivers.serial.engine` decodes lines with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from drivers.profile import SerialSettings
from drivers.serial.checksums import ChecksumRule

FieldType = Literal["int", "float", "number", "string", "enum", "date", "time"]
FIELD_TYPES: Final[tuple[str, ...]] = FieldType.__args__  # type: ignore[attr-defined]
Layout = Literal["key_value", "positional"]


@dataclass(frozen=True, slots=True)
class Derived:
    """An extra output field computed from a numeric field: ``name = value * scale + offset``."""

    name: str
    scale: float = 1.0
    offset: float = 0.0
    digits: int = 6


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one header (key/value layout) or one column (positional layout) is decoded.

    ``name`` is the output field; numbers are multiplied by ``scale``; ``minimum``/``maximum``
    bound physically possible values (``out_of_range`` beyond). ``value`` names the
    measurement value the field feeds (``weight``, ``body_fat_pct``...) in ``value_unit``
    (UCUM), after multiplying by ``value_scale``; a ``value_fallback`` field only fills a
    value no other field gave.
    """

    name: str
    type: FieldType = "string"
    unit: str | None = None
    scale: float = 1.0
    minimum: float | None = None
    maximum: float | None = None
    choices: Mapping[str, str] = field(default_factory=dict)
    format: str | None = None
    value: str | None = None
    value_unit: str | None = None
    value_scale: float = 1.0
    value_fallback: bool = False
    derive: tuple[Derived, ...] = ()


@dataclass(frozen=True, slots=True)
class MeasurementRule:
    """Which measurement a decoded line becomes: the first rule that applies wins.

    A rule applies when at least one of ``when_any`` values is present (or ``when_any`` is
    empty) and every ``when_fields`` output field equals the given value.
    """

    kind: str
    when_any: tuple[str, ...] = ()
    when_fields: Mapping[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceTimeSpec:
    """Output fields holding the device's clock (naive local time).

    Either ``date`` (ISO date field) plus optional ``time`` (``HH:MM[:SS]`` field), or the
    numeric parts ``year``, ``month``, ``day``, ``hour``, ``minute``, ``second``.
    """

    date: str | None = None
    time: str | None = None
    year: str | None = None
    month: str | None = None
    day: str | None = None
    hour: str | None = None
    minute: str | None = None
    second: str | None = None


@dataclass(frozen=True, slots=True)
class LineFormat:
    """Everything needed to frame and decode one device's serial lines."""

    name: str
    title: str
    serial: SerialSettings = field(default_factory=SerialSettings)
    provisional: bool = False
    notes: str = ""
    # framing
    terminator: bytes = b"\r\n"
    start: tuple[bytes, ...] = ()
    max_length: int = 1024
    encoding: str = "ascii"
    record_length: int | None = None
    # layout
    layout: Layout = "key_value"
    separator: str = ","
    key_separator: str | None = None
    quote: str | None = '"'
    keys: Mapping[str, FieldSpec] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    columns: tuple[FieldSpec | None, ...] = ()
    keep_unknown: bool = True
    # checksum
    checksum: ChecksumRule = "none"
    checksum_key: str = "CS"
    checksum_required: bool = False
    # what the gateway gets
    measurements: tuple[MeasurementRule, ...] = ()
    device_time: DeviceTimeSpec | None = None

    #: Fields feeding measurement values, primary ones before fallbacks (derived, not given).
    value_specs: tuple[FieldSpec, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        specs = [s for s in (*self.keys.values(), *self.columns) if s is not None and s.value]
        object.__setattr__(self, "value_specs", tuple(sorted(specs, key=lambda s: s.value_fallback)))
