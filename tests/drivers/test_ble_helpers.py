"""The transport's pure helpers: dedup, merge, matching, advert filter, silence, backoff, binding."""

from __future__ import annotations

import inspect
import random
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import registry
from drivers.ble.adverts import AdvertFilter
from drivers.ble.backoff import Backoff
from drivers.ble.dedup import Deduplicator
from drivers.ble.devices import DeviceSpec, bind, subscribe_uuids
from drivers.ble.matcher import Advert, match
from drivers.ble.merge import MeasurementMerger
from drivers.ble.silence import SilenceWatch
from drivers.errors import DriverError
from drivers.gatt import uuids
from drivers.kinds import KINDS
from drivers.measurement import KG, MMHG, PER_MIN, PERCENT, Measurement, Value
from drivers.profile import MergeInto

T0 = datetime(2024, 3, 15, 8, 30)


def bp(sys: float, when: datetime | None = T0, stamp: str | None = None) -> Measurement:
    return Measurement(
        "blood_pressure",
        {"systolic": Value(sys, MMHG), "diastolic": Value(80.0, MMHG)},
        device_time=when,
        extras={} if stamp is None else {"device_timestamp": stamp},
    )


# --- dedup ---------------------------------------------------------------------------------


def test_dedup_by_device_time_kind_and_values() -> None:
    d = Deduplicator()
    assert not d.seen("A", bp(120), 0.0)
    assert d.seen("A", bp(120), 1000.0)  # the same stored reading, re-sent much later
    assert not d.seen("B", bp(120), 0.0)  # another device
    assert not d.seen("A", bp(121), 0.0)  # other values
    assert not d.seen("A", bp(120, datetime(2024, 3, 15, 8, 31)), 0.0)  # other time


def test_dedup_raw_device_timestamp_counts_when_the_date_is_unknown() -> None:
    d = Deduplicator()
    assert not d.seen("A", bp(120, None, "0000-04-17T20:41:59"), 0.0)
    assert d.seen("A", bp(120, None, "0000-04-17T20:41:59"), 5000.0)
    assert not d.seen("A", bp(120, None, "0000-04-17T20:42:59"), 5000.0)


def test_dedup_untimed_spot_readings_only_within_the_window() -> None:
    d = Deduplicator(untimed_window_s=60)
    assert not d.seen("A", bp(120, None), 0.0)
    assert d.seen("A", bp(120, None), 30.0)
    assert not d.seen("A", bp(120, None), 200.0)  # a new measurement that happens to be equal


def test_dedup_never_drops_an_untimed_stream() -> None:
    d = Deduplicator()
    hr = Measurement("heart_rate", {"heart_rate": Value(72.0, PER_MIN)})
    assert not any(d.seen("A", hr, float(i)) for i in range(5))


@given(st.lists(st.integers(0, 50), max_size=300))
def test_dedup_memory_is_bounded(values: list[int]) -> None:
    d = Deduplicator(capacity=16)
    for i, v in enumerate(values):
        d.seen("A", bp(float(v)), float(i))
        assert len(d) <= 16


# --- merge ---------------------------------------------------------------------------------


SCALE = MergeInto(part="weight", into="body_composition")


def weight(kg: float, user: int | None = 1) -> Measurement:
    return Measurement("weight", {"weight": Value(kg, KG)}, T0, None, user)


def bcm(*flags: str, **values: float) -> Measurement:
    return Measurement("body_composition", {k: Value(v, PERCENT) for k, v in values.items()}, flags=flags)


def test_two_part_body_composition_becomes_one() -> None:
    m = MeasurementMerger(fragment_window_s=2)
    assert m.push("S", [bcm("multiple_packet", body_fat_pct=21, muscle_pct=41)], 0.0) == []
    assert m.push("S", [bcm("multiple_packet", body_fat_pct=21, impedance=512)], 0.5) == []
    [merged] = m.due(3.0)
    assert merged[0] == "S"
    assert set(merged[1].values) == {"body_fat_pct", "muscle_pct", "impedance"}
    assert merged[1].flags == ()
    assert m.next_deadline() is None


def test_a_repeated_field_starts_a_new_record() -> None:
    m = MeasurementMerger()
    assert m.push("S", [bcm("multiple_packet", body_fat_pct=21, muscle_pct=41)], 0.0) == []
    [first] = m.push("S", [bcm("multiple_packet", body_fat_pct=22, muscle_pct=40)], 0.1)
    [second] = m.flush("S")
    assert (first.values["muscle_pct"].value, second.values["muscle_pct"].value) == (41, 40)


def test_weight_then_body_composition_pair_into_one() -> None:
    m = MeasurementMerger(pair_window_s=5)
    assert m.push("S", [weight(70.0)], 0.0, merge=SCALE) == []
    [out] = m.push("S", [bcm(body_fat_pct=21)], 1.0, merge=SCALE)
    assert out.kind == "body_composition"
    assert out.values == {"body_fat_pct": Value(21, PERCENT), "weight": Value(70.0, KG)}
    assert (out.device_time, out.user_index) == (T0, 1)


def test_an_unpaired_weight_is_released_after_the_window() -> None:
    m = MeasurementMerger(pair_window_s=5)
    m.push("S", [weight(70.0)], 0.0, merge=SCALE)
    assert m.next_deadline() == 5.0
    assert m.due(4.9) == []
    assert m.due(5.0) == [("S", weight(70.0))]


def test_a_second_weight_releases_the_first() -> None:
    m = MeasurementMerger()
    m.push("S", [weight(70.0)], 0.0, merge=SCALE)
    assert m.push("S", [weight(71.0)], 1.0, merge=SCALE) == [weight(70.0)]


def test_without_pairing_weights_and_other_kinds_pass_through() -> None:
    m = MeasurementMerger()
    assert m.push("S", [weight(70.0), bp(120)], 0.0) == [weight(70.0), bp(120)]


# --- matching, adverts, silence, backoff, binding ---------------------------------------


def test_matcher_prefers_service_data_then_service_uuid_then_name() -> None:
    profiles = [p for p in registry.profiles().values() if p.ble is not None]
    mi = Advert("A", "MI SCALE2", -50, (uuids.WEIGHT_SCALE,), {uuids.WEIGHT_SCALE: b"x" * 10})
    assert match(mi, profiles).name == "mi_scale_v1.adv"  # type: ignore[union-attr]
    wss = Advert("B", "Scale", -50, ("181d",))
    assert match(wss, profiles).name == "gatt.weight_measurement"  # type: ignore[union-attr]
    by_name = Advert("C", "MIBFS")
    assert match(by_name, profiles).name == "mi_scale_v2.adv"  # type: ignore[union-attr]
    assert match(Advert("D", "headphones"), profiles) is None


def test_advert_filter_passes_changes_and_returns_after_a_gap() -> None:
    f = AdvertFilter(gap_s=10)
    assert f.accept("A", "u", b"1", 0.0)
    assert not f.accept("A", "u", b"1", 1.0)
    assert f.accept("A", "u", b"2", 2.0)
    assert f.accept("B", "u", b"2", 2.0)
    assert not all(f.accept("A", "u", b"2", 2.0 + i) for i in range(1, 30))  # repeats while heard
    assert f.accept("A", "u", b"2", 45.0)  # heard again after a pause: a new trigger


def test_silence_episode() -> None:
    w = SilenceWatch(10.0, started_at=0.0)
    assert w.check(5.0) is None
    assert w.check(10.0) == "silent" and w.silent
    assert w.check(15.0) is None
    assert w.check(20.0) == "still_silent"
    assert w.advert(21.0) == "recovered" and not w.silent
    assert w.check(25.0) is None


def test_no_silence_without_provisioned_devices() -> None:
    w = SilenceWatch(10.0, started_at=0.0)
    assert w.check(100.0, watching=False) is None
    assert w.check(105.0) is None
    assert w.check(110.0) == "silent"


@given(st.integers(0, 100), st.integers(0, 2**32))
def test_backoff_is_capped_and_jittered(attempt: int, seed: int) -> None:
    b = Backoff(1.0, 60.0, jitter=0.25)
    d = b.delay(attempt, random.Random(seed))
    assert 0.75 * min(60.0, 2.0**attempt) <= d <= 1.25 * min(60.0, 2.0**attempt)


def test_bind_resolves_policies_and_rejects_unknown_profiles() -> None:
    bound = bind(
        [
            ("aa:bb:cc:dd:ee:ff", "gatt.heart_rate_measurement"),
            DeviceSpec("11:22:33:44:55:66", "bthome.v2"),
            ("22:22:33:44:55:66", "gatt.heart_rate_measurement", "poll"),
        ],
        registry.profiles(),
    )
    assert {a: b.policy for a, b in bound.items()} == {
        "AA:BB:CC:DD:EE:FF": "stay_connected",
        "11:22:33:44:55:66": "advert_only",
        "22:22:33:44:55:66": "poll",
    }
    with pytest.raises(DriverError) as err:
        bind([("aa:bb:cc:dd:ee:ff", "no.such")], registry.profiles())
    assert err.value.hint and "gatt.heart_rate_measurement" in err.value.hint


def test_subscriptions_cover_measurements_cuff_pressure_and_battery_only() -> None:
    # the measurement characteristics: every GATT profile of the registry that gives readings
    measurements = {
        u
        for p in registry.profiles().values()
        if p.transport == "ble_gatt" and p.exposes
        for u in p.gatt_characteristics
    }
    subscribed = subscribe_uuids(registry.profiles().values())
    assert subscribed == measurements | {uuids.INTERMEDIATE_CUFF_PRESSURE, uuids.BATTERY_LEVEL}
    assert subscribed >= {
        uuids.BLOOD_PRESSURE_MEASUREMENT,
        uuids.INTERMEDIATE_CUFF_PRESSURE,
        uuids.WEIGHT_MEASUREMENT,
        uuids.BODY_COMPOSITION_MEASUREMENT,
        uuids.HEART_RATE_MEASUREMENT,
        uuids.LOCATION_AND_SPEED,
        uuids.BATTERY_LEVEL,
    }


def test_only_body_composition_scales_pair_weights() -> None:
    from drivers.ble.merge import merge_rule

    assert merge_rule(registry.get("gatt.body_composition_measurement")) == SCALE
    assert merge_rule(registry.get("gatt.weight_measurement")) is None
    assert merge_rule(registry.get("mi_scale_v2.adv")) is None
    assert merge_rule(None) is None


def test_merge_rules_are_typed_data_on_the_definition_not_tags() -> None:
    import dataclasses

    from drivers.ble import merge as merge_module
    from drivers.profile import Profile

    assert "tags" not in {f.name for f in dataclasses.fields(Profile)}
    assert "tags" not in inspect.getsource(merge_module)
    for name, p in registry.profiles().items():
        if p.merge is not None:
            assert {p.merge.part, p.merge.into} <= set(KINDS), name
    with pytest.raises(ValueError):
        MergeInto(part="weight", into="weight")


def test_a_merge_rule_is_applied_as_declared() -> None:
    rule = MergeInto(part="pulse", into="blood_pressure")
    m = MeasurementMerger(pair_window_s=5)
    pulse = Measurement("pulse", {"pulse_rate": Value(61, PER_MIN)})
    assert m.push("C", [pulse], 0.0, merge=rule) == []
    [out] = m.push("C", [bp(120)], 1.0, merge=rule)
    assert out.kind == "blood_pressure" and set(out.values) == {"systolic", "diastolic", "pulse_rate"}
    # the same parts without the rule pass straight through
    assert m.push("D", [pulse, bp(120)], 2.0) == [pulse, bp(120)]
