"""Property tests: random bytes never raise anything but DecodeError, for every BLE decoder."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import registry
from drivers.errors import CATEGORIES, DecodeError
from drivers.frames import RawFrame
from drivers.gatt import date_time
from drivers.gatt.ieee11073 import parse_float, parse_sfloat
from drivers.measurement import Decoded, Measurement
from tests.support.vectors import load_vectors

AT = datetime(2026, 1, 1, tzinfo=UTC)
#: Every BLE profile, found by walking the registry (a new device file is fuzzed without listing it).
BLE_PROFILES = sorted(
    name for name, p in registry.profiles().items() if p.transport in ("ble_gatt", "ble_adv")
)


def _check(decoded: Decoded) -> None:
    assert isinstance(decoded, Decoded)
    for m in decoded.measurements:
        assert isinstance(m, Measurement)
        assert m.values, "a measurement without values"


def test_every_ble_protocol_is_covered() -> None:
    # was a pinned count (19): now every BLE profile of the registry, and each has vectors
    assert len(BLE_PROFILES) >= 19
    assert set(BLE_PROFILES) == {
        n for n in registry.profiles() if n.startswith(("gatt.", "mi_scale", "bthome."))
    }
    protocols = {
        v["protocol"] for f in ("gatt.json", "mi_scale.json", "bthome.json") for v in load_vectors(f)
    }
    assert set(BLE_PROFILES) <= protocols, sorted(set(BLE_PROFILES) - protocols)


@pytest.mark.parametrize("name", BLE_PROFILES)
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=40))
def test_random_bytes_only_raise_decode_error(name: str, data: bytes) -> None:
    profile = registry.get(name)
    try:
        _check(profile.decode(RawFrame(profile.transport, "x", data, AT)))
    except DecodeError as e:
        assert e.category in CATEGORIES


#: Every profile whose unit is several frames, found by walking the registry.
SEQUENCE_PROFILES = sorted(name for name, p in registry.profiles().items() if p.decode_sequence is not None)


def test_the_sequence_decoders_are_found_in_the_registry() -> None:
    assert "gatt.body_composition_measurement.sequence" in SEQUENCE_PROFILES


@pytest.mark.parametrize("name", SEQUENCE_PROFILES)
@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.binary(max_size=30), min_size=1, max_size=4))
def test_random_sequences_only_raise_decode_error(name: str, parts: list[bytes]) -> None:
    profile = registry.get(name)
    assert profile.decode_sequence is not None
    try:
        _check(profile.decode_sequence([RawFrame(profile.transport, "x", p, AT) for p in parts]))
    except DecodeError as e:
        assert e.category in CATEGORIES


@given(mantissa=st.integers(-2048, 2047), exponent=st.integers(-8, 7))
def test_sfloat_round_trip(mantissa: int, exponent: int) -> None:
    raw = ((exponent & 0xF) << 12) | (mantissa & 0xFFF)
    value = parse_sfloat(raw.to_bytes(2, "little"))
    if exponent == 0 and (mantissa & 0xFFF) in (0x7FF, 0x800, 0x7FE, 0x802, 0x801):
        assert value.special is not None
    else:
        assert value.special is None
        assert (value.mantissa, value.exponent) == (mantissa, exponent)
        assert value.decimal == Decimal(mantissa).scaleb(exponent)


@given(mantissa=st.integers(-(2**23), 2**23 - 1), exponent=st.integers(-128, 127))
def test_float_round_trip(mantissa: int, exponent: int) -> None:
    raw = ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF)
    value = parse_float(raw.to_bytes(4, "little"))
    if value.special is None:
        assert (value.mantissa, value.exponent) == (mantissa, exponent)
    else:
        assert exponent == 0


@given(st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31)))
def test_date_time_round_trip(value: datetime) -> None:
    value = value.replace(microsecond=0)
    stamp = date_time.from_bytes(date_time.DateTime.from_datetime(value).encode())
    assert stamp.known and stamp.valid
    assert stamp.to_datetime() == value
