"""Decode one serial line with a declared :class:`~drivers.serial.spec.LineFormat`.

Pure: no I/O, no clock. The result's ``fields`` are
``{"format": name, "checksum_ok": True|False|None, "fields": {...}}`` where the inner mapping
holds the declared output fields, plus ``extra`` (unknown headers or columns, kept verbatim).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, Measurement, Value
from drivers.serial.checksums import is_hex2, sum8_hex, xor8_hex
from drivers.serial.spec import FieldSpec, LineFormat

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


class _Token(NamedTuple):
    text: str
    offset: int
    quoted: bool


def _split(body: str, sep: str, quote: str | None) -> tuple[list[_Token], bool]:
    """Split on ``sep`` outside quotes. Returns the tokens and whether a quote was left open."""
    tokens: list[_Token] = []
    offset = 0
    pending: str | None = None  # a quoted token still open across separators
    pending_at = 0
    for part in body.split(sep):
        if pending is not None:
            pending += sep + part
            if quote is not None and part.count(quote) % 2:
                tokens.append(_token(pending, pending_at, quote))
                pending = None
        elif quote and part.count(quote) % 2:
            pending, pending_at = part, offset
        else:
            tokens.append(_token(part, offset, quote))
        offset += len(part) + 1
    if pending is not None:
        tokens.append(_token(pending, pending_at, quote))
        return tokens, True
    return tokens, False


def _token(raw: str, offset: int, quote: str | None) -> _Token:
    if quote and len(raw) >= 2 and raw[0] == quote and raw[-1] == quote:
        return _Token(raw[1:-1], offset, True)
    return _Token(raw, offset, False)


def _text(fmt: LineFormat, data: bytes) -> tuple[str, bool]:
    """Decode bytes, check the start marker, strip the terminator: (body, terminated)."""
    try:
        text = data.decode(fmt.encoding)
    except (UnicodeDecodeError, LookupError):
        raise DecodeError("malformed", f"line is not {fmt.encoding} text") from None
    if fmt.start:
        markers = [m.decode(fmt.encoding, "replace") for m in fmt.start]
        if not any(text.startswith(m) for m in markers):
            if any(m.startswith(text) for m in markers) and text:
                raise DecodeError("truncated", "line cut inside the record start marker")
            shown = " or ".join(repr(m) for m in markers)
            raise DecodeError("malformed", f"line does not start with {shown} (noise?)")
    term = fmt.terminator.decode(fmt.encoding, "replace")
    if term and text.endswith(term):
        return text[: -len(term)], True
    stripped = text.rstrip("\r\n")
    if stripped != text:  # a different line ending (LF only, CR only): accept
        return stripped, True
    return text, False


def parse_value(spec: FieldSpec, raw: str) -> Any:
    """One field's text -> its output value; raises DecodeError naming the field."""
    if raw == "":
        return None
    t = spec.type
    if t in ("int", "float", "number"):
        text = raw.strip()
        if t == "int" and not _INT.fullmatch(text):
            raise DecodeError("malformed", f"{raw!r} is not an integer", field=spec.name)
        if not _FLOAT.fullmatch(text):
            raise DecodeError("malformed", f"{raw!r} is not a number", field=spec.name)
        num: float | int = int(text) if _INT.fullmatch(text) and t != "float" else float(text)
        if spec.scale != 1.0:
            num = round(num * spec.scale, 9)
        if (spec.minimum is not None and num < spec.minimum) or (
            spec.maximum is not None and num > spec.maximum
        ):
            raise DecodeError(
                "out_of_range",
                f"{num} outside {spec.minimum}..{spec.maximum} {spec.unit or ''}".rstrip(),
                field=spec.name,
            )
        return num
    if t == "enum":
        return spec.choices.get(raw.strip(), raw.strip())
    if t == "date":
        return _parse_date(spec, raw.strip())
    if t == "time":
        return _parse_time(spec, raw.strip())
    return raw


@functools.lru_cache(maxsize=64)
def _pattern(fmt: str, tokens: tuple[str, ...]) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(fmt):
        for tok in tokens:
            if fmt.startswith(tok, i):
                out += f"(?P<{tok}>\\d{{{len(tok)}}})"
                i += len(tok)
                break
        else:
            out += re.escape(fmt[i])
            i += 1
    return re.compile(out)


def _parse_date(spec: FieldSpec, raw: str) -> str:
    fmt = spec.format or "dd/mm/yyyy"
    m = _pattern(fmt, ("yyyy", "yy", "mm", "dd")).fullmatch(raw)
    if not m:
        raise DecodeError("malformed", f"{raw!r} does not match date format {fmt}", field=spec.name)
    parts = m.groupdict()
    year = int(parts["yyyy"]) if parts.get("yyyy") else 2000 + int(parts.get("yy") or 0)
    try:
        return date(year, int(parts["mm"]), int(parts["dd"])).isoformat()
    except ValueError as e:
        raise DecodeError("out_of_range", f"{raw!r}: {e}", field=spec.name) from None


def _parse_time(spec: FieldSpec, raw: str) -> str:
    fmt = spec.format or "hh:mm"
    m = _pattern(fmt, ("hh", "mm", "ss")).fullmatch(raw)
    if not m:
        raise DecodeError("malformed", f"{raw!r} does not match time format {fmt}", field=spec.name)
    parts = m.groupdict()
    hh, mm, ss = int(parts["hh"]), int(parts["mm"]), int(parts.get("ss") or 0)
    if hh > 23 or mm > 59 or ss > 59:
        raise DecodeError("out_of_range", f"{raw!r} is not a time of day", field=spec.name)
    return f"{hh:02d}:{mm:02d}:{ss:02d}" if "ss" in parts else f"{hh:02d}:{mm:02d}"


def _store(spec: FieldSpec, value: Any, out: dict[str, Any]) -> None:
    out[spec.name] = value
    if isinstance(value, int | float) and not isinstance(value, bool):
        for d in spec.derive:
            out[d.name] = round(value * d.scale + d.offset, d.digits)


def _pairs(fmt: LineFormat, tokens: list[_Token]) -> list[tuple[_Token, _Token]] | None:
    """Header/value pairs: alternating tokens, or ``KEY<key_separator>VALUE`` tokens.

    ``None`` when they do not pair up (a header without value, a token without separator)."""
    if fmt.key_separator is None:
        if len(tokens) % 2:
            return None
        return [(tokens[i], tokens[i + 1]) for i in range(0, len(tokens), 2)]
    pairs = []
    for t in tokens:
        key, sep, value = t.text.partition(fmt.key_separator)
        if not sep or t.quoted:
            return None
        pairs.append((_Token(key, t.offset, False), _token(value, t.offset + len(key) + 1, fmt.quote)))
    return pairs


def _key_value(fmt: LineFormat, body: str, terminated: bool) -> tuple[dict[str, Any], bool | None]:
    tokens, open_quote = _split(body, fmt.separator, fmt.quote)
    if open_quote:
        raise DecodeError("truncated" if not terminated else "malformed", "unbalanced quote")
    pairs = _pairs(fmt, tokens)
    cs_index = next(
        (i for i, (k, _) in enumerate(pairs or ()) if k.text == fmt.checksum_key and not k.quoted), None
    )
    if not terminated:
        complete = (
            fmt.checksum == "sum8_hex_upto_cs"
            and pairs is not None
            and cs_index == len(pairs) - 1
            and is_hex2(pairs[-1][1].text)
        )
        if not complete:
            raise DecodeError("truncated", "line ends before its checksum and terminator")
    if pairs is None:
        raise DecodeError("malformed", "headers and values do not pair up (a header without value?)")
    checksum_ok: bool | None = None
    if fmt.checksum == "sum8_hex_upto_cs":
        if cs_index is not None:
            _check_sum8_tail(fmt, body, pairs, cs_index)
            checksum_ok = True
            pairs = pairs[:-1]
        elif fmt.checksum_required:
            raise DecodeError("missing_checksum", f"no {fmt.checksum_key} pair", field=fmt.checksum_key)
    fields: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key_tok, val_tok in pairs:
        key = key_tok.text
        if not key:
            raise DecodeError("malformed", "empty header")
        if key in fmt.ignore:
            continue
        spec = fmt.keys.get(key)
        if spec is None:
            if not fmt.keep_unknown:
                raise DecodeError("unsupported", f"unknown header {key!r}", field=key)
            extra[key] = val_tok.text
            continue
        _store(spec, parse_value(spec, val_tok.text), fields)
    if extra:
        fields["extra"] = extra
    return fields, checksum_ok


def _check_sum8_tail(fmt: LineFormat, body: str, pairs: list[tuple[_Token, _Token]], cs_index: int) -> None:
    """The checksum pair must be the last one and hold the sum of everything before its header."""
    if cs_index != len(pairs) - 1:
        raise DecodeError("malformed", "data after the checksum", field=fmt.checksum_key)
    given = pairs[-1][1].text
    if not is_hex2(given):
        raise DecodeError("malformed", f"{given!r} is not two hex digits", field=fmt.checksum_key)
    want = sum8_hex(body[: pairs[-1][0].offset].encode(fmt.encoding))
    if given.upper() != want:
        raise DecodeError("bad_checksum", f"got {given}, computed {want}", field=fmt.checksum_key)


def _positional(fmt: LineFormat, body: str, terminated: bool) -> tuple[dict[str, Any], bool | None]:
    checksum_ok: bool | None = None
    if fmt.checksum == "nmea_xor":
        body, checksum_ok = _xor_tail(fmt, body, terminated)
    elif not terminated:
        raise DecodeError("truncated", "line has no terminator yet")
    if fmt.record_length is not None and len(body) != fmt.record_length:
        raise DecodeError("bad_length", f"record is {len(body)} characters, expected {fmt.record_length}")
    tokens, open_quote = _split(body, fmt.separator, fmt.quote)
    if open_quote:
        raise DecodeError("malformed", "unbalanced quote")
    if len(tokens) < len(fmt.columns):
        raise DecodeError("malformed", f"{len(tokens)} columns, expected {len(fmt.columns)}")
    fields: dict[str, Any] = {}
    for spec, tok in zip(fmt.columns, tokens, strict=False):
        if spec is not None:
            _store(spec, parse_value(spec, tok.text), fields)
    rest = tokens[len(fmt.columns) :]
    if rest:
        if not fmt.keep_unknown:
            raise DecodeError("malformed", f"{len(rest)} columns more than declared")
        fields["extra"] = [t.text for t in rest]
    return fields, checksum_ok


def _xor_tail(fmt: LineFormat, body: str, terminated: bool) -> tuple[str, bool | None]:
    star = body.rfind("*")
    if star < 0:
        if not terminated:
            raise DecodeError("truncated", "line ends before its '*' checksum")
        if fmt.checksum_required:
            raise DecodeError("missing_checksum", "no '*hh' checksum")
        return body, None
    given = body[star + 1 :]
    if not terminated and len(given) < 2:
        raise DecodeError("truncated", "line ends inside its checksum")
    if given == "":
        raise DecodeError("missing_checksum", "empty checksum after '*'")
    if not is_hex2(given):
        raise DecodeError("malformed", f"{given!r} is not two hex digits", field="checksum")
    want = xor8_hex(body[1:star].encode(fmt.encoding))  # everything between '$' (or '!') and '*'
    if given.upper() != want:
        raise DecodeError("bad_checksum", f"got {given}, computed {want}", field="checksum")
    return body[:star], True


def _values(fmt: LineFormat, fields: Mapping[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for spec in fmt.value_specs:
        assert spec.value is not None
        if spec.value in values:
            continue
        v = fields.get(spec.name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            unit = spec.value_unit or spec.unit or "1"
            values[spec.value] = Value(round(float(v) * spec.value_scale, 9), unit)
    return values


def _device_time(fmt: LineFormat, fields: Mapping[str, Any]) -> tuple[datetime | None, str | None]:
    t = fmt.device_time
    if t is None:
        return None, None
    try:
        if t.date is not None:
            d = fields.get(t.date)
            if not isinstance(d, str):
                return None, "device sent no date"
            clock = fields.get(t.time) if t.time else None
            text = f"{d}T{clock}" if isinstance(clock, str) else f"{d}T00:00"
            return datetime.fromisoformat(text), None if isinstance(clock, str) else "date only"
        parts = [fields.get(p) if p else 0 for p in (t.year, t.month, t.day, t.hour, t.minute, t.second)]
        if not all(isinstance(p, int) for p in parts):
            return None, "device time incomplete"
        y, mo, d2, h, mi, s = (int(p) for p in parts)  # type: ignore[arg-type]
        return datetime(y, mo, d2, h, mi, s), None
    except ValueError:
        return None, "device time invalid"


def _measurements(fmt: LineFormat, fields: Mapping[str, Any]) -> tuple[Measurement, ...]:
    values = _values(fmt, fields)
    if not values:
        return ()
    for rule in fmt.measurements:
        if rule.when_any and not any(k in values for k in rule.when_any):
            continue
        if any(fields.get(k) != v for k, v in rule.when_fields.items()):
            continue
        device_time, note = _device_time(fmt, fields)
        value_fields = {spec.name for spec in fmt.value_specs}
        extras = {k: v for k, v in fields.items() if k not in value_fields}
        return (
            Measurement(rule.kind, values, device_time=device_time, device_time_note=note, extras=extras),
        )
    return ()


def decode_line(fmt: LineFormat, data: bytes) -> Decoded:
    """Decode one framed line (terminator included) with ``fmt``."""
    if len(data) > fmt.max_length:
        raise DecodeError("bad_length", f"line of {len(data)} bytes exceeds {fmt.max_length}")
    body, terminated = _text(fmt, data)
    if fmt.layout == "key_value":
        fields, checksum_ok = _key_value(fmt, body, terminated)
    else:
        fields, checksum_ok = _positional(fmt, body, terminated)
    out = {"format": fmt.name, "checksum_ok": checksum_ok, "fields": fields}
    return Decoded(fields=out, measurements=_measurements(fmt, fields))


def decode_frame(fmt: LineFormat, frame: RawFrame) -> Decoded:
    return decode_line(fmt, frame.data)
