"""Device events are named once (drivers/events.py): every event any profile emits on its vectors is
one of the catalogue's kinds, in the one shape its constructor gives it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from drivers import events, registry
from drivers.frames import RawFrame
from drivers.measurement import Decoded, DeviceEvent
from drivers.watch.messages import ALARM_BITS
from tests.support.vectors import VECTORS_DIR, is_error_vector, load_vectors

#: The detail keys of each kind whose detail has one shape (alarms carry where the watch was).
SHAPES = {
    events.BATTERY: {events.PERCENT},
    events.CUFF_PRESSURE: {events.PRESSURE_MMHG},
    events.BUTTON: {events.BUTTON_EVENT, "button_index", "packet_id"},
}
SHAPE_KEYS = {"PERCENT", "PRESSURE_MMHG", "BUTTON_EVENT"}  # the names of detail keys, not kinds


def _decoded(vector: dict[str, Any]) -> Decoded | None:
    """A vector decoded by its profile as a transport would hand it over; None for a vector of
    no profile (a GATT type such as ``gatt.sfloat``) or an error vector."""
    profile = registry.profiles().get(vector["protocol"])
    if profile is None or is_error_vector(vector):
        return None
    raw = vector.get("input_hex")
    if raw is not None:
        chunks = [bytes.fromhex(c) for c in (raw if isinstance(raw, list) else [raw])]
    else:
        chunks = [vector["input_text"].encode("latin-1")]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    frames = [RawFrame(profile.transport, "test", c, at) for c in chunks]
    if isinstance(raw, list):
        assert profile.decode_sequence is not None
        return profile.decode_sequence(frames)
    return profile.decode(frames[0])


def _emitted() -> list[tuple[str, str, DeviceEvent]]:
    """(vector id, profile, event) for every event of every vector of every profile."""
    out = []
    for path in sorted(VECTORS_DIR.glob("*.json")):
        for vector in load_vectors(path):
            decoded = _decoded(vector)
            for ev in decoded.events if decoded is not None else ():
                out.append((vector["id"], vector["protocol"], ev))
    return out


EMITTED = _emitted()


def test_the_constants_are_the_literals() -> None:
    constants = {
        v for n, v in vars(events).items() if n.isupper() and isinstance(v, str) and n not in SHAPE_KEYS
    }
    assert constants == events.KINDS
    assert events.ALARM_KINDS <= events.KINDS
    assert set(get_args(events.EventKind)) >= {events.BATTERY, events.CUFF_PRESSURE, events.BUTTON}


@pytest.mark.parametrize(
    ("vector_id", "profile", "event"), EMITTED, ids=[f"{i}:{e.kind}" for i, _, e in EMITTED]
)
def test_every_event_a_driver_emits_is_in_the_catalogue(
    vector_id: str, profile: str, event: DeviceEvent
) -> None:
    assert event.kind in events.KINDS, f"{vector_id}: {event.kind!r} is not in drivers/events.py"
    if event.kind in SHAPES:
        assert set(event.detail) == SHAPES[event.kind], f"{vector_id}: {event.kind} detail {event.detail}"


def test_the_vectors_exercise_the_events_the_gateway_reads() -> None:
    kinds = {ev.kind for _, _, ev in EMITTED}
    assert {events.BATTERY, events.CUFF_PRESSURE, events.BUTTON, events.SOS} <= kinds, kinds


def test_battery_is_one_key_for_every_driver() -> None:
    """GATT Battery Level, BTHome and the watches report the level under the same key."""
    battery = [(profile, ev) for _, profile, ev in EMITTED if ev.kind == events.BATTERY]
    profiles = {profile for profile, _ in battery}
    assert {"gatt.battery_level", "bthome.v2"} <= profiles, profiles
    assert any(p.startswith("watch.") for p in profiles), profiles
    for _, ev in battery:
        assert events.battery_percent(ev) == ev.detail[events.PERCENT]


def test_the_watch_alarm_bits_are_alarm_kinds() -> None:
    assert {name for _, name in ALARM_BITS} | {events.ALARM} == events.ALARM_KINDS


def test_battery_percent_reads_only_a_finite_number() -> None:
    assert events.battery_percent(events.battery(42)) == 42.0
    for bad in (float("nan"), float("inf"), True, "42", None):
        assert events.battery_percent(DeviceEvent(events.BATTERY, {events.PERCENT: bad})) is None
    assert events.battery_percent(DeviceEvent(events.BATTERY, {"level_pct": 42})) is None
