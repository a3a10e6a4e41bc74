"""Every copied conformance vector of the BLE protocols (GATT, Xiaomi, BTHome) passes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from drivers import registry
from provisioning.commands.decode import decode_input
from tests.support.vectors import assert_matches, check_vector, load_vectors

VECTORS = load_vectors("gatt.json") + load_vectors("mi_scale.json") + load_vectors("bthome.json")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    actual = check_vector(vector, lambda: decode_input(vector["protocol"], vector.get("input_hex")))
    # (not an error vector) and the vector lists everything: whole-object equality
    if actual is not None and set(actual) <= set(vector["expected"]):
        assert dict(actual) == vector["expected"]


def test_every_ble_protocol_has_vectors() -> None:
    protocols = {v["protocol"] for v in VECTORS}
    # every BLE profile the registry knows (walked, not listed here) ...
    ble = {name for name, p in registry.profiles().items() if p.transport in ("ble_gatt", "ble_adv")}
    assert ble and protocols >= ble, sorted(ble - protocols)
    # ... and, as before, these
    assert protocols >= {
        "gatt.sfloat",
        "gatt.float",
        "gatt.date_time",
        "gatt.current_time",
        "gatt.battery_level",
        "gatt.blood_pressure_measurement",
        "gatt.intermediate_cuff_pressure",
        "gatt.blood_pressure_feature",
        "gatt.weight_measurement",
        "gatt.weight_scale_feature",
        "gatt.body_composition_measurement",
        "gatt.body_composition_measurement.sequence",
        "gatt.body_composition_feature",
        "gatt.heart_rate_measurement",
        "gatt.location_and_speed",
        "gatt.record_access_control_point",
        "mi_scale_v1.adv",
        "mi_scale_v2.adv",
        "bthome.v2",
    }


def test_hutgw_decode_cli_uses_the_vector_names() -> None:
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "provisioning.cli",
            "decode",
            "gatt.blood_pressure_measurement",
            "--hex",
            "01a0f06bf07df0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert_matches({"unit": "kPa", "systolic": 16.0, "valid": True}, json.loads(ok.stdout))
    bad = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "decode", "bthome.v2", "--hex", "4002ca"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert "truncated" in bad.stderr


def test_the_comparer_applies_the_section_0_rules() -> None:
    from tests.support.vectors import mismatches

    assert (
        mismatches({"a": None, "b": 1.0, "c": {"x": [1, 2]}}, {"b": 1.0000004, "c": {"x": [1, 2], "y": 3}})
        == []
    )
    assert mismatches({"a": None}, {"a": 0})  # null means absent, not zero
    assert mismatches({"a": True}, {"a": 1})  # booleans are not numbers
    assert mismatches({"a": 1}, {"a": True})
    assert mismatches({"a": [1]}, {"a": [1, 2]})  # lists need equal length
    assert mismatches({"a": "NaN"}, {"a": float("nan")})  # specials are strings
    assert mismatches({"a": 1}, {})
    assert mismatches({"a": 1.0}, {"a": 1.00001})
    with pytest.raises(AssertionError, match=r"\$\.a: expected 1"):
        assert_matches({"a": 1}, {"a": 2})
