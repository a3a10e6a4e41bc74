"""The receiver's fast path for readings: split an envelope into its items' own bytes, and accept
the plainly valid ones without building a pydantic model.

``uplink.contract.WireReading`` stays the contract. :func:`check_reading` only *accepts*: it
returns a :class:`ReadingRow` for an item it can prove ``WireReading`` accepts (the same values:
revision, kind, resident, effective time), and ``None`` for anything else -- an invalid item or
merely an unusual one (a lax coercion pydantic would make, a date in another ISO 8601 form) --
which the receiver then validates with pydantic as before, so every rejection and its reason
(naming the field) still come from the model. ``tests/county/test_wirecheck.py`` checks with
generated items that whatever this accepts pydantic accepts with the same values, and that the
sets of fields here are the model's.

:func:`split_items` finds each item's bytes in an envelope (what the county keeps as the item's
payload) instead of re-serialising every parsed item: 2-4 us a reading of the receiver's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, get_args

import orjson

from uplink.contract import REVISION_MAX, WireClassification, WireDevice, WireReading, WireValue


@dataclass(slots=True)
class ReadingRow:
    """What the stores take of an accepted reading (the attributes they read of a WireReading).
    Not frozen: one is made per reading, and a frozen dataclass's ``__init__`` costs 3.5x."""

    revision: int
    kind: str
    resident_id: str | None
    effective_at: datetime


def _fields(model: Any) -> tuple[frozenset[str], frozenset[str]]:
    fields = model.model_fields
    return frozenset(fields), frozenset(k for k, f in fields.items() if f.is_required())


def _literal(field: str) -> frozenset[str]:
    return frozenset(get_args(WireReading.model_fields[field].annotation))


READING_KEYS, READING_REQUIRED = _fields(WireReading)
DEVICE_KEYS, DEVICE_REQUIRED = _fields(WireDevice)
CLASS_KEYS, CLASS_REQUIRED = _fields(WireClassification)
VALUE_KEYS, _ = _fields(WireValue)
KINDS: Final = _literal("kind")
ATTRIBUTIONS: Final = _literal("attribution")
TIME_SOURCES: Final = _literal("time_source")
CLASS_OPTIONAL: Final = CLASS_KEYS - CLASS_REQUIRED
DEVICE_OPTIONAL: Final = DEVICE_KEYS - DEVICE_REQUIRED

CHECKED: Final = {
    "WireReading": frozenset(
        {
            "id", "revision", "seq", "kind", "resident_id", "attribution", "device", "measured_at",
            "received_at", "effective_at", "time_source", "gateway_clock_synced", "values", "flags",
            "classification", "raw_hex", "extras",
        }
    ),
    "WireDevice": frozenset({"id", "profile", "address"}),
    "WireClassification": frozenset(
        {"guideline", "version", "category", "label", "advice", "label_zh", "advice_zh"}
    ),
    "WireValue": frozenset({"value", "unit"}),
}  # fmt: skip
"""The fields :func:`check_reading` checks, model by model. When the contract gains or loses a
field these no longer match the models' and the fast path turns itself off (every item goes to
pydantic) until :func:`check_reading` is brought up to date; a test fails meanwhile."""

IN_SYNC: Final = (
    CHECKED["WireReading"] == READING_KEYS
    and CHECKED["WireDevice"] == DEVICE_KEYS
    and CHECKED["WireClassification"] == CLASS_KEYS
    and CHECKED["WireValue"] == VALUE_KEYS
    and WireReading.model_config.get("extra") == "forbid"
)

_INT_AS_FLOAT = 2**64  # a JSON integer the model turns into a float (JSON gives no larger ones)
_fromisoformat = datetime.fromisoformat


def _datetime(value: object) -> datetime | None:
    """The date-time in one of the forms ``datetime.isoformat()`` writes (what the gateway sends:
    ``YYYY-MM-DDTHH:MM:SS``, then optionally ``.ffffff``, then optionally ``Z`` or ``+HH:MM``),
    which pydantic reads as ``datetime.fromisoformat`` does; ``None`` for any other form (pydantic
    decides). Checked by length and separators, then parsed: cheaper than a regular expression."""
    if type(value) is not str or not value.isascii():
        return None
    n = len(value)
    if n == 25:  # +HH:MM
        ok = value[22] == ":" and (value[19] == "+" or value[19] == "-")
    elif n == 32:  # .ffffff+HH:MM
        ok = value[19] == "." and value[29] == ":" and (value[26] == "+" or value[26] == "-")
        ok = ok and value[20:26].isdigit()
    elif n == 19:
        ok = True
    elif n == 26:  # .ffffff
        ok = value[19] == "." and value[20:].isdigit()
    elif n == 20:
        ok = value[19] == "Z"
    elif n == 27:  # .ffffffZ
        ok = value[19] == "." and value[26] == "Z" and value[20:26].isdigit()
    else:
        return None
    if not (
        ok
        and value[10] == "T"
        and value[4] == "-"
        and value[7] == "-"
        and value[13] == ":"
        and value[16] == ":"
    ):
        return None
    try:  # the digits: fromisoformat takes ASCII digits only where these forms have them
        return _fromisoformat(value)
    except ValueError:  # e.g. the 30th of February: pydantic says why
        return None


def check_reading(d: dict[str, Any]) -> ReadingRow | None:
    """A :class:`ReadingRow` when ``d`` (an item as parsed from JSON: string keys, JSON values) is a
    ``WireReading`` for sure; ``None`` when pydantic has to decide (invalid, or in a form this does
    not take). Written out field by field, without helpers: it runs for every reading."""
    keys = d.keys()
    if not (keys <= READING_KEYS and keys >= READING_REQUIRED):
        return None
    get = d.get
    if type(d["id"]) is not str:
        return None
    revision = get("revision", 0)
    if type(revision) is not int or not 0 <= revision <= REVISION_MAX:
        return None
    v: Any = get("seq")
    if v is not None and type(v) is not int:
        return None
    kind = d["kind"]
    if type(kind) is not str or kind not in KINDS:
        return None
    resident = d["resident_id"]
    if resident is not None and type(resident) is not str:
        return None
    v = d["attribution"]
    if type(v) is not str or v not in ATTRIBUTIONS:
        return None
    v = d["time_source"]
    if type(v) is not str or v not in TIME_SOURCES:
        return None
    v = get("measured_at")
    if v is not None and type(v) is not str:
        return None
    v = get("raw_hex")
    if v is not None and type(v) is not str:
        return None
    if type(get("gateway_clock_synced", True)) is not bool:
        return None
    if type(get("extras", _EMPTY)) is not dict:
        return None
    device = d["device"]
    if type(device) is not dict:
        return None
    keys = device.keys()
    if not (keys <= DEVICE_KEYS and keys >= DEVICE_REQUIRED) or type(device["id"]) is not str:
        return None
    for k in DEVICE_OPTIONAL:
        v = device.get(k)
        if v is not None and type(v) is not str:
            return None
    values = d["values"]
    if type(values) is not dict:
        return None
    for value in values.values():
        if type(value) is not dict or value.keys() != VALUE_KEYS or type(value["unit"]) is not str:
            return None
        v = value["value"]
        if type(v) is int:
            if not -_INT_AS_FLOAT <= v <= _INT_AS_FLOAT:
                return None
        elif type(v) is not float:
            return None
    flags = get("flags", ())
    if type(flags) is not list and type(flags) is not tuple:
        return None
    for v in flags:
        if type(v) is not str:
            return None
    cls = get("classification")
    if cls is not None:
        if type(cls) is not dict:
            return None
        keys = cls.keys()
        if not (keys <= CLASS_KEYS and keys >= CLASS_REQUIRED):
            return None
        for k in CLASS_REQUIRED:
            if type(cls[k]) is not str:
                return None
        for k in CLASS_OPTIONAL:
            v = cls.get(k)
            if v is not None and type(v) is not str:
                return None
    if _datetime(d["received_at"]) is None:
        return None
    effective = _datetime(d["effective_at"])
    if effective is None:
        return None
    return ReadingRow(revision, kind, resident, effective)


_EMPTY: Final[dict[str, Any]] = {}

_MAX_MERGES = 64
"""Pieces glued back together per envelope (a ``},{`` inside an item) before giving up on
splitting it: bounds the work a crafted envelope can cause (the receiver then parses it whole)."""


def split_items(raw: bytes, stream: str) -> tuple[dict[str, Any], list[tuple[Any, bytes]]] | None:
    """``(the envelope without its item list, [(item parsed, item bytes)])`` for an envelope laid
    out as the gateway writes it (``uplink.envelope.encode``: the list last, ``]}`` at the very
    end); ``None`` for any other layout, or when a piece will not parse (then parse it whole).

    The item list is cut at each ``},{``; a piece that is not JSON on its own (the ``},{`` was
    inside an item) is glued to the next one. The first prefix that parses is the item: a JSON
    value's end is fixed by its bytes, so no shorter prefix of an item parses."""
    marker = b',"' + stream.encode() + b'":['
    at = raw.find(marker)
    if at < 0 or raw[-2:] != b"]}":
        return None
    try:
        head = orjson.loads(raw[:at] + b"}")
    except orjson.JSONDecodeError:  # the marker was inside a string, or the head is broken
        return None
    if type(head) is not dict or stream in head:
        return None
    end = len(raw) - 2  # the item list's "]"
    first = at + len(marker)
    items: list[tuple[Any, bytes]] = []
    if not raw[first:end].strip():
        return head, items
    loads, find, sep = orjson.loads, raw.find, b"},{"
    start = first
    cut = find(sep, start, end)
    merges = 0
    while True:
        stop = end if cut < 0 else cut + 1  # an item ends with the "}" of a "},{"
        chunk = raw[start:stop]
        try:
            value = loads(chunk)
        except orjson.JSONDecodeError:
            if cut < 0:
                return None
            merges += 1
            if merges > _MAX_MERGES:
                return None
            cut = find(sep, cut + 1, end)  # the "},{" was inside the item: take the next one
            continue
        items.append((value, chunk))
        if cut < 0:
            return head, items
        start = cut + 2
        cut = find(sep, start, end)
