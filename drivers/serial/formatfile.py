"""Read and check a serial line-format file (TOML) into a :class:`~drivers.serial.spec.LineFormat`.

The file is a boundary (a technician writes it), so it is validated with pydantic models that
forbid unknown keys; every problem is reported with the dotted path of the field at fault
(``fields.Wk.type: ...``). See ``docs/devices.md`` for the file layout.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drivers.errors import DriverError
from drivers.profile import SerialSettings
from drivers.serial.checksums import ChecksumRule
from drivers.serial.spec import (
    Derived,
    DeviceTimeSpec,
    FieldSpec,
    FieldType,
    Layout,
    LineFormat,
    MeasurementRule,
)


class FormatFileError(DriverError):
    """A line-format file could not be read or is invalid; ``errors`` lists every problem."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        super().__init__(
            f"{path}: " + "; ".join(errors),
            hint="fix the named field(s); `hutgw profiles validate FILE` re-checks the file",
        )
        self.path = str(path)
        self.errors = errors


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Profile(_M):
    name: str = Field(description="protocol name, e.g. acme.scale")
    title: str = Field(min_length=1)
    provisional: bool = False
    notes: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", v):
            raise ValueError(f"{v!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. acme.scale)")
        return v


class _Serial(_M):
    baudrate: int = Field(9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class _Framing(_M):
    terminator: str = Field("\r\n", min_length=1, max_length=4)
    start: str | list[str] = Field(default_factory=list)
    max_length: int = Field(1024, ge=8, le=65536)
    encoding: Literal["ascii", "latin-1", "utf-8"] = "ascii"
    record_length: int | None = Field(None, ge=1)


class _Layout(_M):
    type: Layout = "key_value"
    separator: str = Field(",", min_length=1, max_length=1)
    key_separator: str | None = Field(
        None, min_length=1, max_length=1, description="between header and value; unset = alternating tokens"
    )
    quote: str = Field('"', max_length=1, description='quote character, "" for none')
    ignore: list[str] = Field(default_factory=list)
    keep_unknown: bool = True


class _Checksum(_M):
    rule: ChecksumRule = "none"
    key: str = "CS"
    required: bool = False


class _Derive(_M):
    name: str = Field(min_length=1)
    scale: float = 1.0
    offset: float = 0.0
    digits: int = Field(6, ge=0, le=12)


class _Field(_M):
    name: str = Field(min_length=1)
    type: FieldType = "string"
    unit: str | None = None
    scale: float = 1.0
    min: float | None = None
    max: float | None = None
    choices: dict[str, str] = Field(default_factory=dict)
    format: str | None = None
    value: str | None = None
    value_unit: str | None = None
    value_scale: float = 1.0
    value_fallback: bool = False
    derive: list[_Derive] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> _Field:
        if self.type == "enum" and not self.choices:
            raise ValueError('type enum needs a choices table, e.g. choices = { "1" = "male" }')
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        numeric = self.type in ("int", "float", "number")
        if self.value and not numeric:
            raise ValueError(f"only numeric fields can feed a measurement value (type is {self.type})")
        if self.derive and not numeric:
            raise ValueError("derive needs a numeric field")
        if self.type == "date" and self.format and not ("dd" in self.format and "mm" in self.format):
            raise ValueError("a date format needs dd, mm and yyyy (or yy), e.g. dd/mm/yyyy")
        if self.type == "time" and self.format and not ("hh" in self.format and "mm" in self.format):
            raise ValueError("a time format needs hh and mm, e.g. hh:mm")
        return self


class _Column(_Field):
    name: str = ""
    skip: bool = False


class _Rule(_M):
    kind: str = Field(min_length=1)
    when_any: list[str] = Field(default_factory=list)
    when_fields: dict[str, str | int | float | bool] = Field(default_factory=dict)


class _DeviceTime(_M):
    date: str | None = None
    time: str | None = None
    year: str | None = None
    month: str | None = None
    day: str | None = None
    hour: str | None = None
    minute: str | None = None
    second: str | None = None


class _File(_M):
    profile: _Profile
    serial: _Serial = _Serial()
    framing: _Framing = _Framing()
    layout: _Layout = _Layout()
    checksum: _Checksum = _Checksum()
    fields: dict[str, _Field] = Field(default_factory=dict)
    columns: list[_Column] = Field(default_factory=list)
    measurement: list[_Rule] = Field(default_factory=list)
    device_time: _DeviceTime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _File:
        problems: list[str] = []
        if self.layout.type == "key_value" and not self.fields:
            problems.append("fields: a key_value layout needs a [fields.HEADER] table per header")
        if self.layout.type == "positional":
            if not self.columns:
                problems.append("columns: a positional layout needs [[columns]] entries")
            if self.fields:
                problems.append("fields: a positional layout uses [[columns]], not [fields.*]")
            if self.checksum.rule == "sum8_hex_upto_cs":
                problems.append("checksum.rule: sum8_hex_upto_cs needs a key_value layout")
        if self.layout.type == "key_value" and self.checksum.rule == "nmea_xor":
            problems.append("checksum.rule: nmea_xor needs a positional layout")
        for i, col in enumerate(self.columns):
            if not col.skip and not col.name:
                problems.append(f"columns.{i}.name: give the column a name or set skip = true")
        outputs = {f.name for f in self.fields.values()} | {c.name for c in self.columns if not c.skip}
        outputs |= {d.name for f in (*self.fields.values(), *self.columns) for d in f.derive}
        values = {f.value for f in (*self.fields.values(), *self.columns) if f.value}
        for i, rule in enumerate(self.measurement):
            for v in rule.when_any:
                if v not in values:
                    problems.append(f"measurement.{i}.when_any: no field feeds value {v!r}")
            for k in rule.when_fields:
                if k not in outputs:
                    problems.append(f"measurement.{i}.when_fields: no output field {k!r}")
        if values and not self.measurement:
            problems.append("measurement: fields feed values but no [[measurement]] rule says which kind")
        if self.device_time is not None:
            for key, ref in self.device_time.model_dump().items():
                if ref is not None and ref not in outputs:
                    problems.append(f"device_time.{key}: no output field {ref!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _spec(f: _Field) -> FieldSpec:
    return FieldSpec(
        name=f.name,
        type=f.type,
        unit=f.unit,
        scale=f.scale,
        minimum=f.min,
        maximum=f.max,
        choices=dict(f.choices),
        format=f.format,
        value=f.value,
        value_unit=f.value_unit,
        value_scale=f.value_scale,
        value_fallback=f.value_fallback,
        derive=tuple(Derived(d.name, d.scale, d.offset, d.digits) for d in f.derive),
    )


def _errors(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(file)"
        msg = e["msg"].removeprefix("Value error, ")
        out.extend(msg.split("; ") if path == "(file)" else [f"{path}: {msg}"])
    return out


def parse_format(data: dict[str, Any], *, source: str = "format") -> LineFormat:
    """Validate a parsed TOML document; raises :class:`FormatFileError` listing every problem."""
    try:
        f = _File.model_validate(data)
    except ValidationError as e:
        raise FormatFileError(source, _errors(e)) from None
    starts = [f.framing.start] if isinstance(f.framing.start, str) else f.framing.start
    enc = f.framing.encoding
    return LineFormat(
        name=f.profile.name,
        title=f.profile.title,
        serial=SerialSettings(f.serial.baudrate, f.serial.bytesize, f.serial.parity, f.serial.stopbits),
        provisional=f.profile.provisional,
        notes=f.profile.notes,
        terminator=f.framing.terminator.encode(enc),
        start=tuple(s.encode(enc) for s in starts if s),
        max_length=f.framing.max_length,
        encoding=enc,
        record_length=f.framing.record_length,
        layout=f.layout.type,
        separator=f.layout.separator,
        key_separator=f.layout.key_separator if f.layout.key_separator != f.layout.separator else None,
        quote=f.layout.quote or None,
        keys={k: _spec(v) for k, v in f.fields.items()},
        ignore=frozenset(f.layout.ignore),
        columns=tuple(None if c.skip else _spec(c) for c in f.columns),
        keep_unknown=f.layout.keep_unknown,
        checksum=f.checksum.rule,
        checksum_key=f.checksum.key,
        checksum_required=f.checksum.required,
        measurements=tuple(
            MeasurementRule(r.kind, tuple(r.when_any), dict(r.when_fields)) for r in f.measurement
        ),
        device_time=DeviceTimeSpec(**f.device_time.model_dump()) if f.device_time else None,
    )


def read_format(path: Path) -> LineFormat:
    """Read and validate one format file."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise FormatFileError(path, ["file does not exist"]) from None
    except OSError as e:
        raise FormatFileError(path, [f"cannot read: {e.strerror}"]) from None
    except tomllib.TOMLDecodeError as e:
        raise FormatFileError(path, [f"not valid TOML: {e}"]) from None
    return parse_format(data, source=str(path))
