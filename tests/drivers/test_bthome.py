"""BTHome v2 adverts held against bthome-ble's test suite (issue 17 item 15).

Adverts marked ``bthome-ble`` are from github Bluetooth-Devices/bthome-ble
``tests/test_parser_v2.py``; the object table is bthome.io ``src/format.html`` (2026-04-30).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, DeviceEvent
from drivers.profiles import bthome_v2
from drivers.profiles.bthome_objects import BUTTON_EVENTS, OBJECTS


def decode(hex_: str) -> Decoded:
    data = bytes.fromhex(hex_)
    return bthome_v2.decode(RawFrame("ble_adv", "A4:C1:38:8D:18:B2", data, datetime(2026, 1, 1, tzinfo=UTC)))


def presses(d: Decoded) -> list[DeviceEvent]:
    return [e for e in d.events if e.kind == "button"]


def test_mac_included_is_skipped_and_exposed() -> None:
    d = decode("42b2188d38c1a404138a01")  # bthome-ble test_bthome_with_mac
    assert d.fields["mac_included"] is True and d.fields["mac"] == "A4:C1:38:8D:18:B2"
    assert [(o["name"], o["value"]) for o in d.fields["objects"]] == [("pressure", 1008.83)]
    assert d.fields["undecodable"] is None and d.fields["unparsed_hex"] is None


def test_a_mac_that_looks_like_button_objects_is_no_press() -> None:
    # crafted: MAC bytes 3a 01 3a 01 3a 01 (three "presses" if walked as objects), then battery
    d = decode("423a013a013a010164")
    assert d.fields["mac"] == "01:3A:01:3A:01:3A"
    assert d.fields["buttons"] is None and presses(d) == []
    assert d.events == (DeviceEvent("battery", {"percent": 100}),)


def test_mac_flag_with_a_short_payload_is_truncated() -> None:
    with pytest.raises(DecodeError) as err:
        decode("42b2188d38c1")
    assert err.value.category == "truncated"


def test_invalid_button_event_is_no_press() -> None:
    d = decode("403afe")  # bthome-ble test_bthome_invalid_button_event: no event
    assert d.fields["buttons"] == ["reserved"]
    assert d.fields["objects"][0]["raw"] == 0xFE
    assert presses(d) == []
    assert 0xFE not in BUTTON_EVENTS


@pytest.mark.parametrize("value", [0x07, 0x7F, 0x81, 0xFE, 0xFF])
def test_no_reserved_button_value_is_a_press(value: int) -> None:
    assert presses(decode(f"40000a3a{value:02x}")) == []


def test_objects_before_an_unknown_id_are_kept() -> None:
    d = decode("4000073a01fe0102")
    assert d.fields["buttons"] == ["press"] and d.fields["packet_id"] == 7
    assert d.fields["undecodable"] == "unknown_object" and d.fields["unknown_object_id"] == 0xFE
    assert d.fields["unparsed_hex"] == "fe0102"
    assert presses(d) == [DeviceEvent("button", {"event": "press", "button_index": 0, "packet_id": 7})]


def test_objects_before_a_cut_short_one_are_kept() -> None:
    d = decode("4002ca0903bf")  # bthome-ble test_bthome_invalid_object_payload_data_length
    assert [(o["name"], o["value"]) for o in d.fields["objects"]] == [("temperature", 25.06)]
    assert d.fields["temperature_c"] == 25.06
    assert d.fields["undecodable"] == "truncated_object" and d.fields["unparsed_hex"] == "03bf"
    assert d.fields["unknown_object_id"] is None
    d = decode("4000053a01530a4142")  # a text object claiming 10 bytes, 2 present
    assert presses(d) == [DeviceEvent("button", {"event": "press", "button_index": 0, "packet_id": 5})]
    assert d.fields["undecodable"] == "truncated_object" and d.fields["unparsed_hex"] == "530a4142"


def test_a_cut_short_first_object_is_still_truncated() -> None:
    for hex_ in ("4002ca", "4053", "40530541"):
        with pytest.raises(DecodeError) as err:
            decode(hex_)
        assert err.value.category == "truncated"


@pytest.mark.parametrize(
    ("hex_", "name", "value"),
    [
        ("40624099dfff", "speed", -2.123456),  # bthome-ble test_bthome_speed_signed
        ("40630057d0ff", "acceleration", -3.123456),  # bthome-ble test_bthome_acceleration_signed
        ("406402", "light_level", 2),  # bthome-ble test_bthome_light_level
        ("406503", "settings_revision", 3),  # bthome.io example
        ("403b0000", "command", "off"),  # bthome.io example
        ("403b010305", "command", "step_up"),  # bthome.io example: step up 5 steps
    ],
)
def test_objects_added_since_2025(hex_: str, name: str, value: object) -> None:
    d = decode(hex_)
    (o,) = d.fields["objects"]
    assert (o["name"], o["value"]) == (name, value)
    assert d.fields["undecodable"] is None


def test_command_arguments_and_the_objects_after_it() -> None:
    d = decode("403b0103050164")
    assert d.fields["objects"][0]["arguments_hex"] == "05"
    assert d.fields["battery_pct"] == 100


def test_every_table_row_has_a_walkable_size() -> None:
    for oid, spec in OBJECTS.items():
        assert spec.size > 0 or spec.kind in ("length_prefixed", "command"), hex(oid)


@given(st.binary(min_size=6, max_size=6), st.binary(max_size=30))
def test_the_mac_never_becomes_objects(mac: bytes, rest: bytes) -> None:
    """Whatever the MAC bytes, the objects are those of the payload after it."""
    with_mac = without = None
    with contextlib.suppress(DecodeError):
        with_mac = bthome_v2.decode(
            RawFrame("ble_adv", "x", b"\x42" + mac + rest, datetime(2026, 1, 1, tzinfo=UTC))
        )
    with contextlib.suppress(DecodeError):
        without = bthome_v2.decode(RawFrame("ble_adv", "x", b"\x40" + rest, datetime(2026, 1, 1, tzinfo=UTC)))
    assert (with_mac is None) == (without is None)
    if with_mac is not None and without is not None:
        assert with_mac.events == without.events
        assert with_mac.fields["objects"] == without.fields["objects"]


@given(st.binary(max_size=40))
def test_only_named_button_values_become_presses(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        d = bthome_v2.decode(RawFrame("ble_adv", "x", b"\x40" + data, datetime(2026, 1, 1, tzinfo=UTC)))
        named = set(BUTTON_EVENTS.values()) - {"none"}
        assert all(e.detail["event"] in named for e in presses(d))
